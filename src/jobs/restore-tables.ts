import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import { ident } from '../postgres/introspect.ts';
import type { Job } from './job.ts';
import { releaseScratchDatabase, trackScratchDatabase } from './resources.ts';

export interface TableRef {
  schema: string;
  name: string;
}

/** `schema.table`, or `table` in public. */
export function parseTableRef(s: string): TableRef {
  const dot = s.indexOf('.');
  return dot > 0 ? { schema: s.slice(0, dot), name: s.slice(dot + 1) } : { schema: 'public', name: s };
}

export const tableName = (t: TableRef) => `${t.schema}.${t.name}`;

/** The manifest's tables that the refs name; unknown ones are refused with close matches. */
export function selectTables(db: DatabaseManifest, refs: string[]): DatabaseManifest['tables'] {
  return refs.map((raw) => {
    const ref = parseTableRef(raw);
    const found = db.tables.find((t) => t.schema === ref.schema && t.name === ref.name);
    if (found) return found;
    const near = db.tables.filter((t) => t.name.includes(ref.name) || ref.name.includes(t.name) || t.name.startsWith(ref.name.slice(0, 3))).map(tableName);
    throw new LifeboatError('E_NOT_FOUND', `database ${db.name} in the backup has no table ${tableName(ref)}`, {
      hint: `${near.length ? 'close matches' : 'tables in it'}: ${(near.length ? near : db.tables.map(tableName)).slice(0, 8).join(', ')}`,
    });
  });
}

const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s);

/**
 * Chooses, from a custom-format dump's table of contents, the entries of the given tables and
 * what depends on them: definition, data, defaults, primary key and unique constraints,
 * indexes, triggers and owned sequences. Foreign keys are returned as SQL to add afterwards,
 * when the tables they reference exist.
 */
async function selectEntries(tools: PgTools, dump: string, endpoint: PgEndpoint, tables: TableRef[], signal: AbortSignal): Promise<{ list: string; foreignKeys: { table: TableRef; name: string; definition: string }[] }> {
  const toc = await capture(tools.pgRestore, ['-l', dump], endpoint, signal);
  const ddl = await capture(tools.pgRestore, ['--schema-only', '-f', '-', dump], endpoint, signal);
  const is = (schema: string, name: string) => tables.some((t) => t.schema === unquote(schema) && t.name === unquote(name));
  const indexes = [...ddl.matchAll(/^CREATE (?:UNIQUE )?INDEX (\S+) ON (?:ONLY )?([^\s.]+)\.(\S+) USING/gm)].filter((m) => is(m[2]!, m[3]!)).map((m) => unquote(m[1]!));
  const sequences = [...ddl.matchAll(/^ALTER SEQUENCE ([^\s.]+)\.(\S+) OWNED BY ([^\s.]+)\.([^\s.]+)\.\S+;/gm)].filter((m) => is(m[3]!, m[4]!)).map((m) => unquote(m[2]!));
  const foreignKeys = [...ddl.matchAll(/^ALTER TABLE ONLY ([^\s.]+)\.(\S+)\n\s+ADD CONSTRAINT (\S+) (FOREIGN KEY [^;]+);/gm)]
    .filter((m) => is(m[1]!, m[2]!))
    .map((m) => ({ table: { schema: unquote(m[1]!), name: unquote(m[2]!) }, name: unquote(m[3]!), definition: m[4]! }));
  const schemas = new Set(tables.map((t) => t.schema));
  const wanted: string[] = [];
  for (const t of tables) {
    for (const desc of ['TABLE', 'TABLE DATA', 'DEFAULT', 'CONSTRAINT', 'TRIGGER']) wanted.push(`${desc} ${t.schema} ${t.name} `);
  }
  for (const s of schemas) {
    for (const i of indexes) wanted.push(`INDEX ${s} ${i} `);
    for (const q of sequences) for (const desc of ['SEQUENCE', 'SEQUENCE OWNED BY', 'SEQUENCE SET']) wanted.push(`${desc} ${s} ${q} `);
    if (s !== 'public') wanted.push(`SCHEMA - ${s} `);
  }
  const lines = toc.split('\n').filter((line) => {
    const m = /^\d+; \d+ \d+ (.*)$/.exec(line);
    return m !== null && wanted.some((w) => `${m[1]} `.startsWith(w));
  });
  return { list: lines.join('\n') + '\n', foreignKeys };
}

async function capture(bin: string, args: string[], endpoint: PgEndpoint, signal: AbortSignal): Promise<string> {
  const run = runTool(bin, args, endpoint, signal);
  const chunks: Buffer[] = [];
  for await (const c of run.stdout) chunks.push(c as Buffer);
  await run.done;
  return Buffer.concat(chunks).toString('utf8');
}

async function restoreList(tools: PgTools, dump: string, listFile: string, endpoint: PgEndpoint, noOwner: boolean, signal: AbortSignal): Promise<void> {
  const args = ['--dbname', endpoint.url, '--exit-on-error', '--no-password', '--use-list', listFile];
  if (noOwner) args.push('--no-owner', '--no-acl');
  const run = runTool(tools.pgRestore, [...args, dump], endpoint, signal);
  run.stdout.resume();
  await run.done;
}

export interface TableRestoreResult {
  table: string;
  restoredAs: string;
  rows: number;
  /** Foreign keys that could not be added back (their rows do not match), with why. */
  skippedForeignKeys: string[];
}

/**
 * Restores tables into a live database. The tables (with their indexes, constraints and owned
 * sequences) are first restored alone into a scratch database and their row counts checked;
 * then they are copied into a staging schema of the target, and from there either replace the
 * live tables' rows in one transaction, or are moved beside them under `renameTo`.
 */
export async function restoreTables(
  server: PgEndpoint,
  database: string,
  tools: PgTools,
  m: DatabaseManifest,
  tables: DatabaseManifest['tables'],
  dump: string,
  tempDir: string,
  job: Job,
  options: { renameTo?: string; noOwner?: boolean },
): Promise<TableRestoreResult[]> {
  const signal = job.signal;
  const refs = tables.map((t) => ({ schema: t.schema, name: t.name }));
  const suffix = randomBytes(4).toString('hex');
  const scratch = `lifeboat_tables_${suffix}`;
  const staging = `lifeboat_staging_${suffix}`;
  const { list, foreignKeys } = await selectEntries(tools, dump, server, refs, signal);
  const listFile = path.join(tempDir, `tables-${suffix}.list`);
  await writeFile(listFile, list);
  const stagedDump = path.join(tempDir, `tables-${suffix}.dump`);

  const admin = await connect(server);
  const target = await connect(withDatabase(server, database));
  try {
    trackScratchDatabase(server, scratch); // before it exists: a kill leaves it recorded
    await admin.query(`create database ${ident(scratch)} template template0 encoding '${m.encoding.replaceAll("'", "''")}'`);
    try {
      job.log('info', `restoring ${tables.map(tableName).join(', ')} alone into scratch database ${scratch}`);
      const scratchEndpoint = withDatabase(server, scratch);
      await restoreList(tools, dump, listFile, scratchEndpoint, options.noOwner ?? false, signal);
      const scratchClient = await connect(scratchEndpoint);
      try {
        await checkCounts(scratchClient, tables, (t) => `${ident(t.schema)}.${ident(t.name)}`);
        // One staging schema holds every table: moving a table moves its indexes and owned sequences.
        await scratchClient.query(`create schema ${ident(staging)}`);
        for (const t of tables) await scratchClient.query(`alter table ${ident(t.schema)}.${ident(t.name)} set schema ${ident(staging)}`);
      } finally {
        await scratchClient.end().catch(() => undefined);
      }
      const dumpRun = runTool(tools.pgDump, ['--format=custom', '--compress=0', '--no-password', `--schema=${staging}`, `--file=${stagedDump}`, `--dbname=${scratchEndpoint.url}`], server, signal);
      dumpRun.stdout.resume();
      await dumpRun.done;
    } finally {
      await admin.query(`drop database if exists ${ident(scratch)} with (force)`).then(() => releaseScratchDatabase(scratch), () => undefined);
    }

    const run = runTool(tools.pgRestore, ['--dbname', withDatabase(server, database).url, '--exit-on-error', '--no-password', ...(options.noOwner ? ['--no-owner', '--no-acl'] : []), stagedDump], server, signal);
    run.stdout.resume();
    try {
      await run.done;
      return await applyStaged(target, staging, tables, foreignKeys, job, options.renameTo);
    } finally {
      await target.query(`drop schema if exists ${ident(staging)} cascade`).catch(() => undefined);
    }
  } finally {
    await target.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
}

async function applyStaged(
  client: pg.Client,
  staging: string,
  tables: DatabaseManifest['tables'],
  foreignKeys: { table: TableRef; name: string; definition: string }[],
  job: Job,
  renameTo: string | undefined,
): Promise<TableRestoreResult[]> {
  const results: TableRestoreResult[] = [];
  const stagedSequences = (await client.query<{ name: string }>('select sequencename as name from pg_sequences where schemaname = $1', [staging])).rows.map((r) => r.name);
  await client.query('begin');
  try {
    for (const t of tables) {
      const live = `${ident(t.schema)}.${ident(t.name)}`;
      const staged = `${ident(staging)}.${ident(t.name)}`;
      const exists = (await client.query('select to_regclass($1) as r', [`${ident(t.schema)}.${ident(t.name)}`])).rows[0].r !== null;
      const skipped: string[] = [];
      if (renameTo || !exists) {
        const newName = renameTo ?? t.name;
        // Index and sequence names are unique per schema: give the moved ones the new table's prefix.
        const indexes = await client.query<{ name: string }>('select indexrelid::regclass::text as name from pg_index where indrelid = $1::regclass', [staged]);
        for (const { name } of indexes.rows) {
          const bare = unquote(name.split('.').pop()!);
          await client.query(`alter index ${ident(staging)}.${ident(bare)} rename to ${ident(renamed(bare, t.name, newName))}`);
        }
        for (const seq of stagedSequences.filter((s) => s.startsWith(`${t.name}_`))) {
          await client.query(`alter sequence ${ident(staging)}.${ident(seq)} rename to ${ident(renamed(seq, t.name, newName))}`);
        }
        if (newName !== t.name) await client.query(`alter table ${staged} rename to ${ident(newName)}`);
        await client.query(`alter table ${ident(staging)}.${ident(newName)} set schema ${ident(t.schema)}`);
        const moved = `${ident(t.schema)}.${ident(newName)}`;
        for (const fk of foreignKeys.filter((f) => f.table.schema === t.schema && f.table.name === t.name)) {
          await client.query('savepoint fk');
          try {
            await client.query(`alter table ${moved} add constraint ${ident(renamed(fk.name, t.name, newName))} ${fk.definition}`);
          } catch (err) {
            await client.query('rollback to savepoint fk');
            skipped.push(`${fk.name}: ${(err as Error).message}`);
          }
        }
        results.push({ table: tableName(t), restoredAs: `${t.schema}.${newName}`, rows: t.rows ?? 0, skippedForeignKeys: skipped });
      } else {
        // In place: the live table keeps its definition, dependants and grants; its rows are
        // replaced in this transaction. Foreign-key triggers are off meanwhile (replication
        // role), as pg_restore does for data, so rows other tables reference can be swapped.
        await client.query('set local session_replication_role = replica');
        const cols = t.columns.map((c) => ident(c.name)).join(', ');
        await client.query(`delete from ${live}`);
        await client.query(`insert into ${live} (${cols}) select ${cols} from ${staged}`);
        await client.query('set local session_replication_role = origin');
        for (const seq of stagedSequences.filter((s) => s.startsWith(`${t.name}_`))) {
          await client.query(`select setval('${ident(t.schema)}.${ident(seq)}', last_value, is_called) from ${ident(staging)}.${ident(seq)} where to_regclass('${ident(t.schema)}.${ident(seq)}') is not null`);
        }
        results.push({ table: tableName(t), restoredAs: tableName(t), rows: t.rows ?? 0, skippedForeignKeys: [] });
      }
    }
    await checkCounts(client, tables, (t) => {
      const r = results.find((x) => x.table === tableName(t))!;
      const [schema, name] = [r.restoredAs.slice(0, r.restoredAs.indexOf('.')), r.restoredAs.slice(r.restoredAs.indexOf('.') + 1)];
      return `${ident(schema)}.${ident(name)}`;
    });
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    const message = (err as Error).message;
    throw new LifeboatError('E_RESTORE_FAILED', `restoring the tables failed, nothing was changed: ${message}`, {
      cause: err,
      hint: /permission denied to set parameter "session_replication_role"/.test(message) ? 'replacing rows in place needs a superuser; use --rename-to to restore beside the live table' : undefined,
    });
  }
  for (const r of results) job.log('info', `restored ${r.table} as ${r.restoredAs}: ${r.rows} rows${r.skippedForeignKeys.length ? `; foreign keys not added: ${r.skippedForeignKeys.join('; ')}` : ''}`);
  return results;
}

/** `orders_pkey` for table `orders` renamed to `orders_restored` becomes `orders_restored_pkey`. */
function renamed(name: string, table: string, newTable: string): string {
  if (table === newTable) return name;
  return (name.startsWith(`${table}_`) ? newTable + name.slice(table.length) : `${newTable}_${name}`).slice(0, 63);
}

async function checkCounts(client: pg.Client, tables: DatabaseManifest['tables'], qualified: (t: DatabaseManifest['tables'][number]) => string): Promise<void> {
  const wrong: string[] = [];
  for (const t of tables) {
    if (t.rows === null) continue;
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from only ${qualified(t)}`);
    if (Number(rows[0]!.n) !== t.rows) wrong.push(`${tableName(t)}: ${rows[0]!.n} rows, expected ${t.rows}`);
  }
  if (wrong.length) throw new LifeboatError('E_RESTORE_FAILED', `restored tables do not match the manifest: ${wrong.join('; ')}`);
}
