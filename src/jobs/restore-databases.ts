// Whole databases: each is restored into a scratch database, checked against the manifest's row
// counts, and only then swapped in by rename; roles and tablespaces from globals.sql.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, databaseOf, pgError, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import { ident } from '../postgres/introspect.ts';
import { formatBytes } from '../util/format.ts';
import type { Job } from './job.ts';
import { releaseScratchDatabase, trackScratchDatabase } from './resources.ts';
import type { RestoreContext, RestoreOptions } from './restore-context.ts';
import type { PlannedDatabase } from './restore-plan.ts';
import { pgRestoreFailed, type StreamingRestore } from './restore-stream.ts';

export interface Streamed {
  scratch: string;
  stream: StreamingRestore;
}

/** Creates the empty scratch database a database is restored into before it is swapped in. */
export async function createScratch(ctx: RestoreContext, d: PlannedDatabase, m: DatabaseManifest, job: Job): Promise<string> {
  const scratch = `${d.database.slice(0, 40)}_lifeboat_${randomBytes(4).toString('hex')}`;
  const admin = await connect(ctx.server!);
  try {
    job.log('info', `restoring ${m.name} into scratch database ${scratch} (${formatBytes(m.dumpSize)} dump)`);
    trackScratchDatabase(ctx.server!, scratch); // before it exists: a kill leaves it recorded
    await admin.query(`create database ${ident(scratch)} template template0 encoding ${literal(m.encoding)}`);
    return scratch;
  } catch (err) {
    releaseScratchDatabase(scratch);
    throw err instanceof LifeboatError ? err : pgError(err, ctx.server!);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export async function dropDatabase(server: PgEndpoint, name: string): Promise<void> {
  const admin = await connect(server).catch(() => undefined);
  await admin?.query(`drop database if exists ${ident(name)} with (force)`).then(() => releaseScratchDatabase(name), () => undefined);
  await admin?.end().catch(() => undefined);
}

export async function restoreDatabase(ctx: RestoreContext, tools: PgTools, m: DatabaseManifest, d: PlannedDatabase, file: string, job: Job, options: RestoreOptions, streamed?: Streamed) {
  let scratch = streamed?.scratch ?? (await createScratch(ctx, d, m, job));
  // Until the scratch database is renamed into place, every exit drops it (by name: after the
  // rename, dropping it is a no-op).
  try {
    let plain = !streamed;
    if (streamed) {
      try {
        await streamed.stream.finish();
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code !== 'E_DUMP_INDEX') throw e;
        job.log('warn', `${e.message}; restoring it from the whole dump instead`);
        streamed.stream.abort();
        await dropDatabase(ctx.server!, scratch);
        scratch = await createScratch(ctx, d, m, job);
        plain = true;
      }
    }
    if (plain) {
      const server = ctx.server!;
      const args = ['--dbname', withDatabase(server, scratch).url, '--jobs=2', '--exit-on-error', '--no-password'];
      if (options.noOwner) args.push('--no-owner', '--no-acl');
      const run = runTool(tools.pgRestore, [...args, file], server, job.signal);
      run.stdout.resume();
      await run.done.catch((err: unknown) => {
        throw pgRestoreFailed(err, m.name);
      });
    }

    const mismatches = await verifyCounts(ctx, scratch, m, plain ? undefined : streamed?.stream.counted);
    if (mismatches.length) {
      throw new LifeboatError('E_RESTORE_FAILED', `restored ${m.name} does not match the manifest: ${mismatches.slice(0, 5).join('; ')}`);
    }
    job.log('info', `verified ${m.name}: ${m.tables.length} tables with the row counts of the backup`);

    const terminated = await swapIn(ctx.server!, scratch, d, job);
    job.log('info', `${d.action === 'replace' ? 'replaced' : 'created'} ${d.database}`);
    return { database: d.database, tables: m.tables.length, verified: true, mismatches, terminatedConnections: terminated };
  } catch (err) {
    await dropDatabase(ctx.server!, scratch);
    throw err instanceof LifeboatError ? err : pgError(err, ctx.server!);
  }
}

/**
 * Puts the checked scratch database in place under `d.database`: a rename when the database is
 * new; when it replaces one, new connections are blocked, existing ones terminated, the original
 * renamed aside and dropped once the copy holds its name. Returns the connections terminated.
 */
async function swapIn(server: PgEndpoint, scratch: string, d: PlannedDatabase, job: Job): Promise<number> {
  const admin = await connect(adminEndpoint(server, d.database));
  try {
    if (d.action !== 'replace') {
      await admin.query(`alter database ${ident(scratch)} rename to ${ident(d.database)}`);
      releaseScratchDatabase(scratch);
      return 0;
    }
    const old = `${d.database.slice(0, 40)}_lifeboat_old_${randomBytes(4).toString('hex')}`;
    await admin.query(`alter database ${ident(d.database)} allow_connections false`);
    let terminated;
    try {
      const r = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [d.database]);
      terminated = r.rowCount ?? 0;
      job.log('info', `terminated ${terminated} connection(s) to ${d.database}`);
      await renameWhenFree(admin, d.database, old);
    } catch (err) {
      await admin.query(`alter database ${ident(d.database)} allow_connections true`).catch(() => undefined);
      throw err;
    }
    try {
      await admin.query(`alter database ${ident(scratch)} rename to ${ident(d.database)}`);
      releaseScratchDatabase(scratch);
    } catch (err) {
      // Never leave the server without the database: the original goes back under its name.
      await admin.query(`alter database ${ident(old)} rename to ${ident(d.database)}`).catch(() => undefined);
      await admin.query(`alter database ${ident(d.database)} allow_connections true`).catch(() => undefined);
      throw err;
    }
    await admin.query(`drop database ${ident(old)}`);
    return terminated;
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * The database the swap of `database` connects through. Normally the maintenance database
 * `postgres`; but `postgres` itself (in every `databases: all` backup) cannot be renamed or
 * dropped by a session connected to it, so its swap goes through template1, which every cluster
 * has. Restoring into the live `postgres` in place instead would leave it half-restored when the
 * load fails; the swap keeps the same guarantee as for any other database: the original stays
 * whole until the restored copy has passed its checks.
 */
export function adminEndpoint(server: PgEndpoint, database: string): PgEndpoint {
  return database === databaseOf(server) ? withDatabase(server, 'template1') : server;
}

/** Renames a database, retrying while connections that raced the termination go away. */
async function renameWhenFree(admin: Awaited<ReturnType<typeof connect>>, from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.query(`alter database ${ident(from)} rename to ${ident(to)}`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '55006' || attempt >= 20) throw err;
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [from]);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Each restored table's rows against the manifest; `counted` holds counts the streamed load took already. */
async function verifyCounts(ctx: RestoreContext, database: string, m: DatabaseManifest, counted?: ReadonlyMap<string, number>): Promise<string[]> {
  const client = await connect(withDatabase(ctx.server!, database));
  try {
    const mismatches: string[] = [];
    for (const t of m.tables) {
      if (t.rows === null) continue;
      const count = async () => {
        const known = counted?.get(`${t.schema}.${t.name}`);
        if (known !== undefined) return known;
        const { rows } = await client.query<{ n: string }>(`select count(*) as n from only ${ident(t.schema)}.${ident(t.name)}`).catch(() => ({ rows: [{ n: '-1' }] }));
        return Number(rows[0]!.n);
      };
      const n = await count();
      if (n !== t.rows) mismatches.push(`${t.schema}.${t.name}: ${n < 0 ? 'missing' : `${n} rows`}, expected ${t.rows}`);
    }
    return mismatches;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Restores roles and tablespaces, never touching those that exist: their CREATE and ALTER
 * statements are left out, so a password or attribute changed since the backup stays as it is.
 */
export async function restoreGlobals(server: PgEndpoint, tools: PgTools, file: string, dir: string, job: Job): Promise<{ created: string[]; kept: string[] }> {
  const client = await connect(server);
  let roles: Set<string>;
  let tablespaces: Set<string>;
  try {
    roles = new Set((await client.query<{ n: string }>('select rolname as n from pg_roles')).rows.map((r) => r.n));
    tablespaces = new Set((await client.query<{ n: string }>('select spcname as n from pg_tablespace')).rows.map((r) => r.n));
  } finally {
    await client.end().catch(() => undefined);
  }
  const name = (raw: string) => (raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw);
  const created = new Set<string>();
  const kept = new Set<string>();
  const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((line) => {
    const role = /^(?:CREATE|ALTER) ROLE ("(?:[^"]|"")+"|[^\s;]+)/.exec(line);
    if (role) {
      const n = name(role[1]!);
      if (roles.has(n)) {
        kept.add(n);
        return false;
      }
      created.add(n);
      return true;
    }
    const space = /^CREATE TABLESPACE ("(?:[^"]|"")+"|\S+)/.exec(line);
    return !(space && tablespaces.has(name(space[1]!)));
  });
  const filtered = path.join(dir, 'globals-filtered.sql');
  await fs.writeFile(filtered, lines.join('\n'));
  const run = runTool(tools.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--no-password', '-d', server.url, '-f', filtered], server, job.signal);
  run.stdout.resume();
  await run.done;
  job.log('info', `roles: created ${[...created].join(', ') || 'none'}; kept as they are: ${[...kept].join(', ') || 'none'}`);
  return { created: [...created], kept: [...kept] };
}

function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
