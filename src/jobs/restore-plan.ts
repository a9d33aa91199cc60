// What a restore will do, computed before it changes anything: the databases, tables and files it
// writes and every check that must pass first. The CLI prints it; --dry-run stops after it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { keysFor, keysForBundle } from '../bundle/codec.ts';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { checkIntegrity } from '../bundle/reader.ts';
import { asLifeboatError } from '../errors.ts';
import { loadCompression } from '../postgres/load-settings.ts';
import { connect, redactUrl, withDatabase } from '../postgres/connection.ts';
import { describeDatabase, serverVersion } from '../postgres/introspect.ts';
import { getProfile } from '../profiles/index.ts';
import { formatBytes } from '../util/format.ts';
import type { Job } from './job.ts';
import type { RestoreContext, RestoreOptions } from './restore-context.ts';
import { planFiles, type PlannedFile } from './restore-files.ts';
import { privilegeChecks } from './restore-privileges.ts';
import { tempRoot } from './resources.ts';
import { planTables, type PlannedTable } from './restore-table-plan.ts';
import { restoreTools } from './restore-tools.ts';

/** One database the restore writes. */
export interface PlannedDatabase {
  /** The database's name in the bundle. */
  source: string;
  /** Where it goes: server (password hidden) and database name. */
  server: string;
  database: string;
  /** `create`: the database does not exist; `replace`: it does, and is replaced as a whole. */
  action: 'create' | 'replace';
  tables: number;
  rows: number;
  dumpSize: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** A failed check that `--force` may override (schema or version differences); others always stop. */
  overridable?: boolean;
}

/** What a restore will do, computed before it does anything; the CLI and later the API show it. */
export interface RestorePlan {
  backupId: string;
  target: string;
  storage: string;
  key: string;
  databases: PlannedDatabase[];
  /** With --table: the tables, whether each replaces a live table's rows or lands beside it, and its closure. */
  tables: PlannedTable[];
  files: PlannedFile[];
  checks: Check[];
  /** Existing data is replaced: confirmation (--yes, or typing RESTORE) is required. */
  replacesData: boolean;
  /** A safety backup of the replaced databases is taken first. */
  safetyBackup: boolean;
  /** Roles and tablespaces missing on the target are created from the backup. */
  globals: boolean;
}

export async function makePlan(ctx: RestoreContext, job: Job, options: RestoreOptions): Promise<RestorePlan> {
  const checks: Check[] = [];
  const databases: PlannedDatabase[] = [];
  const stat = await ctx.storage.stat(ctx.key);
  checks.push({ name: 'bundle present', ok: stat !== undefined, detail: stat ? `${ctx.storage.name}:${ctx.key}, ${formatBytes(stat.size)}` : `missing from storage ${ctx.storage.name}` });
  if (stat && options.dryRun) {
    // A dry run reads the whole bundle once to prove it; a real restore does so while extracting.
    job.progress({ phase: 'checking bundle', done: 0, unit: 'bytes' });
    const keys = keysForBundle(keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption), ctx.manifest.encryption);
    // A damaged copy is passed over for the next, as the run itself does (restore.ts, execute):
    // else the plan would refuse a restore that would succeed from a replica.
    const damaged: string[] = [];
    for (;;) {
      let problem: string;
      try {
        const integrity = await checkIntegrity(await ctx.storage.get(ctx.key), path.basename(ctx.key), keys);
        if (integrity.ok) {
          const others = damaged.length ? ` (read from ${ctx.storage.name}: ${damaged.join('; ')})` : '';
          checks.push({ name: 'checksums', ok: true, detail: `all ${integrity.members.length} members match the manifest${others}` });
          break;
        }
        problem = integrity.problems.join('; ');
      } catch (err) {
        const e = asLifeboatError(err);
        if (!['E_BUNDLE_CORRUPT', 'E_STORAGE_READ', 'E_STORAGE_NOT_FOUND'].includes(e.code)) {
          checks.push({ name: 'checksums', ok: false, detail: e.message });
          break;
        }
        problem = e.message;
      }
      damaged.push(`the copy on ${ctx.storage.name} is damaged: ${problem}`);
      if (!(await ctx.copies.fallBack(problem))) {
        checks.push({ name: 'checksums', ok: false, detail: damaged.join('; ') });
        break;
      }
      ({ storage: ctx.storage, key: ctx.key } = ctx.copies.current);
    }
  }

  const files = await planFiles(ctx, options.toDir, checks);
  const tables: RestorePlan['tables'] = [];
  if (!ctx.server) return finishPlan(ctx, databases, tables, files, checks);
  let client;
  try {
    client = await connect(ctx.server);
  } catch (err) {
    checks.push({ name: 'target reachable', ok: false, detail: asLifeboatError(err).message });
    return finishPlan(ctx, databases, tables, files, checks);
  }
  try {
    const version = await serverVersion(client);
    checks.push({ name: 'target reachable', ok: true, detail: `${redactUrl(ctx.server.url)}, PostgreSQL ${version.version}` });
    const sourceMajor = Number(ctx.manifest.postgres!.serverVersion.split('.')[0]);
    checks.push({
      name: 'server version', ok: version.major >= sourceMajor, overridable: true,
      detail: version.major >= sourceMajor ? `${version.version} can take a dump from ${ctx.manifest.postgres!.serverVersion}` : `the target runs ${version.version}, older than the source ${ctx.manifest.postgres!.serverVersion}: pg_restore may fail`,
    });
    if (ctx.selected.length) {
      const load = await loadCompression(client, options.toastCompression ?? 'auto');
      checks.push({ name: 'TOAST compression', ok: load.ok, detail: load.detail });
      ctx.server = { ...ctx.server, options: load.options };
    }
    const dumpMajor = Number(ctx.manifest.postgres!.pgDumpVersion.split('.')[0]);
    try {
      const tools = await restoreTools(version.major, dumpMajor, ctx.server);
      checks.push({ name: 'pg_restore', ok: true, detail: `${tools.version} from ${tools.dir}` });
    } catch (err) {
      checks.push({ name: 'pg_restore', ok: false, detail: asLifeboatError(err).message });
    }
    const existing = new Set((await client.query<{ datname: string }>('select datname from pg_database')).rows.map((r) => r.datname));
    for (const d of ctx.selected) {
      const database = ctx.destination.get(d.name)!;
      const exists = existing.has(database);
      if (ctx.selectedTables.length) {
        // Tables go into the live database; the database itself is neither created nor replaced.
        if (exists) tables.push(...(await planTables(ctx, database, options.renameTo, checks, { dryRun: options.dryRun, noOwner: options.noOwner })));
        else checks.push({ name: `database ${database}`, ok: false, detail: `does not exist on the target; restore the whole database with --database ${d.name}` });
        continue;
      }
      databases.push({
        source: d.name, server: redactUrl(ctx.server.url), database, action: exists ? 'replace' : 'create',
        tables: d.tables.length, rows: d.tables.reduce((n, t) => n + (t.rows ?? 0), 0), dumpSize: d.dumpSize,
      });
      if (exists) checks.push(await schemaCheck(ctx, d, database));
    }
    checks.push(...(await privilegeChecks(ctx, client, databases, tables, options)));
  } finally {
    await client.end().catch(() => undefined);
  }
  const needed = ctx.selected.reduce((n, d) => n + d.dumpSize, 0);
  const tempDir = tempRoot(ctx.loaded);
  const space = await fs.statfs(tempDir).catch(() => undefined);
  const free = space ? space.bavail * space.bsize : undefined;
  checks.push({
    name: 'temp space', ok: free === undefined || free > needed * 1.05,
    detail: free === undefined ? `${tempDir} not measurable` : `${formatBytes(free)} free in ${tempDir}, ${formatBytes(needed)} needed for the dump files`,
  });
  await compatibilityChecks(ctx, checks);
  return finishPlan(ctx, databases, tables, files, checks);
}

/**
 * The profile's check of the backup's app state against the code deployed now (Django and
 * Prisma migrations): a backup newer than the code blocks the restore unless --force.
 */
async function compatibilityChecks(ctx: RestoreContext, checks: Check[]): Promise<void> {
  if (!ctx.selected.length) return;
  const target = ctx.loaded.config.targets[ctx.backup.target];
  const profile = getProfile(ctx.manifest.app.profile);
  if (!target || !profile.compatibility) return;
  for (const c of await profile.compatibility(ctx.manifest.app, target, path.dirname(ctx.loaded.file))) {
    checks.push({ name: c.name, ok: c.ok, detail: c.detail, overridable: true });
  }
}

function finishPlan(ctx: RestoreContext, databases: PlannedDatabase[], tables: RestorePlan['tables'], files: PlannedFile[], checks: Check[]): RestorePlan {
  const replacesData = databases.some((d) => d.action === 'replace') || tables.some((t) => t.action === 'replace') || files.some((f) => f.action === 'overwrite');
  return { backupId: ctx.backup.id, target: ctx.backup.target, storage: ctx.storage.name, key: ctx.key, databases, tables, files, checks, replacesData, safetyBackup: replacesData, globals: ctx.globals };
}

/** The generic schema comparison: tables and columns in the backup against the live database. */
async function schemaCheck(ctx: RestoreContext, d: DatabaseManifest, database: string): Promise<Check> {
  const client = await connect(withDatabase(ctx.server!, database));
  try {
    const live = await describeDatabase(client, undefined, { counts: false });
    // A new server's `postgres` (every `databases: all` backup holds it): no schema to disagree with.
    if (live.tables.length === 0) return { name: `schema of ${database}`, ok: true, overridable: true, detail: 'the live database has no tables: nothing of it is lost' };
    const cols = (t: { columns: { name: string; type: string }[] }) => t.columns.map((c) => `${c.name} ${c.type}`).join(', ');
    const liveTables = new Map(live.tables.map((t) => [`${t.schema}.${t.name}`, t]));
    const diffs: string[] = [];
    for (const t of d.tables) {
      const name = `${t.schema}.${t.name}`;
      const l = liveTables.get(name);
      if (!l) diffs.push(`${name} is not in the live database`);
      else if (cols(l) !== cols(t)) diffs.push(`${name} has other columns now`);
      liveTables.delete(name);
    }
    for (const name of liveTables.keys()) diffs.push(`${name} exists only in the live database (it will be gone)`);
    return {
      name: `schema of ${database}`, ok: diffs.length === 0, overridable: true,
      detail: diffs.length === 0 ? 'same tables and columns as the backup' : `${diffs.slice(0, 5).join('; ')}${diffs.length > 5 ? `; and ${diffs.length - 5} more` : ''}`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

