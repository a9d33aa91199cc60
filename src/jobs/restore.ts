import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import { keysFor } from '../bundle/codec.ts';
import type { DatabaseManifest, FileRecord, Manifest } from '../bundle/manifest.ts';
import { checkIntegrity } from '../bundle/reader.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toolsForServer, type PgTools } from '../postgres/binaries.ts';
import { loadCompression, type ToastChoice } from '../postgres/load-settings.ts';
import { connect, databaseOf, parsePgUrl, pgError, redactUrl, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import { describeDatabase, ident, serverVersion } from '../postgres/introspect.ts';
import type { StorageDriver } from '../storage/storage.ts';
import { Copies, deferredLog } from './copies.ts';
import { getProfile } from '../profiles/index.ts';
import { formatBytes } from '../util/format.ts';
import { runBackup } from './backup.ts';
import { dumpFile, extractBundle, GLOBALS_MEMBER } from './extract.ts';
import { Job, type JobListener } from './job.ts';
import { placeFile, planFiles, selectFiles, type PlannedFile } from './restore-files.ts';
import { DumpProgress } from './dump-progress.ts';
import { pgRestoreFailed, StreamingRestore } from './restore-stream.ts';
import { restoreTables, selectTables, tableName, type TableRestoreResult } from './restore-tables.ts';

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
  /** With --table: the tables, and whether each replaces a live table's rows or lands beside it. */
  tables: { table: string; database: string; action: 'replace' | 'create' | 'beside'; as: string; rows: number }[];
  files: PlannedFile[];
  checks: Check[];
  /** Existing data is replaced: confirmation (--yes, or typing RESTORE) is required. */
  replacesData: boolean;
  /** A safety backup of the replaced databases is taken first. */
  safetyBackup: boolean;
  /** Roles and tablespaces missing on the target are created from the backup. */
  globals: boolean;
}

export interface RestoreReport {
  plan: RestorePlan;
  restored: { database: string; tables: number; verified: boolean; mismatches: string[]; terminatedConnections: number }[];
  /** Files written, each read back and checked against the manifest's sha256. */
  files: { path: string; destination: string; verified: boolean }[];
  tables: TableRestoreResult[];
  /** With --globals: roles created, and roles that existed and were left as they are. */
  roles?: { created: string[]; kept: string[] };
  safetyBackupId?: string;
}

export interface RestoreOptions {
  /** Databases to restore (names in the bundle); default: all. */
  databases?: string[];
  /** A database URL to restore into (exactly one database). */
  to?: string;
  /** Files to restore: `set`, `set:/path` or `/path`; default: all, unless only databases are named. */
  files?: string[];
  /** Restore files under this directory instead of their original places. */
  toDir?: string;
  /** Restore only these tables (`schema.table`) of the one database selected. */
  tables?: string[];
  /** With one table: restore it beside the live one under this name. */
  renameTo?: string;
  /** Also restore roles and tablespaces from databases/globals.sql; existing ones are kept as they are. */
  globals?: boolean;
  dryRun?: boolean;
  /** The user agreed to replace existing data. */
  yes?: boolean;
  /** Proceed despite overridable check failures. */
  force?: boolean;
  /** Skip ownership and grants (for a server without the original roles). */
  noOwner?: boolean;
  /** TOAST compression of the loaded rows (load-settings.ts); default `auto`: lz4 where the server has it. */
  toastCompression?: ToastChoice;
  /** Asked when data would be replaced and `yes` is not set; returns whether to go on. */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  /** How long the safety backup stays protected from retention. */
  safetyDays?: number;
  signal?: AbortSignal;
  listener?: JobListener;
}

interface Context {
  loaded: LoadedConfig;
  catalog: Catalog;
  backup: BackupRecord;
  manifest: Manifest;
  /** The copy being read: `storage` and `key` follow it when a corrupt copy makes it fall back. */
  copies: Copies;
  log: ReturnType<typeof deferredLog>;
  storage: StorageDriver;
  key: string;
  selected: DatabaseManifest[];
  selectedFiles: FileRecord[];
  selectedTables: DatabaseManifest['tables'];
  globals: boolean;
  /** Target server endpoint (maintenance database) and, per source database, the destination name. */
  server: PgEndpoint | undefined;
  destination: Map<string, string>;
}

/**
 * Restores databases, tables, roles and files from a backup. Plans first; with `dryRun` stops
 * there. Otherwise checks the whole bundle's checksums while extracting, takes a protected safety
 * backup of what it replaces, restores each database into a new scratch database, verifies its
 * row counts against the manifest, and only then swaps it in by rename: a failed restore leaves
 * the original database as it was. Tables and files: restore-tables.ts, restore-files.ts.
 */
export async function runRestore(loaded: LoadedConfig, catalog: Catalog, backupPrefix: string, options: RestoreOptions = {}): Promise<{ plan: RestorePlan; report?: RestoreReport }> {
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  const ctx = await prepare(loaded, catalog, backupPrefix, options);
  try {
    return await Job.run(catalog, { kind: options.dryRun ? 'restore-plan' : 'restore', target: ctx.backup.target, backupId: ctx.backup.id, trigger: 'manual' }, options.listener ?? {}, signal, (job) => {
      ctx.log.flush((level, message) => job.log(level, message));
      return restoreJob(ctx, job, options);
    });
  } finally {
    await ctx.copies.close();
  }
}

async function restoreJob(ctx: Context, job: Job, options: RestoreOptions): Promise<{ plan: RestorePlan; report?: RestoreReport }> {
  const { catalog } = ctx;
  const plan = await makePlan(ctx, job, options);
  for (const c of plan.checks) job.log(c.ok ? 'info' : 'warn', `check ${c.ok ? 'passed' : 'FAILED'}: ${c.name}: ${c.detail}`);
  if (options.dryRun) return { plan };

  const blocking = plan.checks.filter((c) => !c.ok && !(c.overridable && options.force));
  if (blocking.length) {
    const overridable = blocking.every((c) => c.overridable);
    throw new LifeboatError(overridable ? 'E_USAGE' : 'E_RESTORE_CHECK', `restore refused: ${blocking.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, {
      hint: overridable ? 'pass --force to restore anyway' : 'nothing was changed',
    });
  }
  if (plan.replacesData && !options.yes) {
    const agreed = options.confirm ? await options.confirm(plan) : false;
    if (!agreed) {
      const replaced = [
        ...plan.databases.filter((d) => d.action === 'replace').map((d) => d.database),
        ...plan.tables.filter((t) => t.action === 'replace').map((t) => `${t.database}: ${t.table}`),
        ...plan.files.filter((f) => f.action === 'overwrite').map((f) => f.destination),
      ];
      throw new LifeboatError('E_USAGE', `this restore replaces existing data (${replaced.slice(0, 5).join(', ')}${replaced.length > 5 ? `, and ${replaced.length - 5} more` : ''})`, {
        hint: 'pass --yes to confirm, or run it on a terminal to be asked; --dry-run shows the plan',
      });
    }
  }

  const lock = `restore:${ctx.backup.target}`;
  catalog.acquireLock(lock, job.id, `a restore of target "${ctx.backup.target}"`);
  // Retention waits while the backup it would delete is being read.
  const retention = `retention:${ctx.backup.target}`;
  try {
    catalog.acquireLock(retention, job.id, `a restore of target "${ctx.backup.target}"`);
  } catch (err) {
    catalog.releaseLock(retention, job.id);
    catalog.releaseLock(lock, job.id);
    throw err;
  }
  const requestedBy = os.userInfo().username;
  catalog.startRestore({ id: job.id, backupId: ctx.backup.id, requestedBy, plan });
  const what = [...plan.databases.map((d) => `database ${d.database}`), ...plan.tables.map((t) => `table ${t.table}`), ...(plan.files.length ? [`${plan.files.length} file(s)`] : [])].join(', ') || 'nothing';
  const event = { target: ctx.backup.target, backupId: ctx.backup.id, jobId: job.id };
  catalog.recordEvent({ ...event, kind: 'restore_started', severity: 'warning', message: `${requestedBy} started a restore of ${ctx.backup.id}: ${what}`, data: { requestedBy } });
  const report: RestoreReport = { plan, restored: [], files: [], tables: [] };
  try {
    await execute(ctx, plan, report, job, options);
    catalog.finishRestore(job.id, { status: 'succeeded', report, safetyBackupId: report.safetyBackupId });
    catalog.recordEvent({ ...event, kind: 'restore_finished', severity: 'info', message: `restore of ${ctx.backup.id} finished: ${what}${report.safetyBackupId ? `; safety backup ${report.safetyBackupId}` : ''}`, data: { requestedBy, safetyBackupId: report.safetyBackupId } });
    return { plan, report };
  } catch (err) {
    const e = asLifeboatError(err);
    catalog.finishRestore(job.id, { status: e.code === 'E_ABORTED' ? 'cancelled' : 'failed', report, safetyBackupId: report.safetyBackupId, error: e.message });
    const restored = [...report.restored.map((r) => r.database), ...report.tables.map((t) => t.restoredAs), ...report.files.map((f) => f.destination)];
    const safety = report.safetyBackupId ? `; the safety backup is ${report.safetyBackupId}` : '';
    catalog.recordEvent({ ...event, kind: 'restore_failed', severity: 'error', message: `restore of ${ctx.backup.id} failed: ${e.message} (restored: ${restored.length ? restored.join(', ') : 'nothing'}${safety})`, data: { requestedBy, safetyBackupId: report.safetyBackupId } });
    throw new LifeboatError(e.code, `${e.message} (restored: ${restored.length ? restored.join(', ') : 'nothing'}${safety})`, { cause: err, hint: e.hint });
  } finally {
    catalog.releaseLock(retention, job.id);
    catalog.releaseLock(lock, job.id);
  }
}

async function prepare(loaded: LoadedConfig, catalog: Catalog, prefix: string, options: RestoreOptions): Promise<Context> {
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}${backup.error ? ` (${backup.error})` : ''}: it cannot be restored`);
  const manifest = catalog.getManifest(backup.id)!;
  const target = loaded.config.targets[backup.target];

  const inBundle = manifest.postgres?.databases ?? [];
  // Nothing named: everything. Only files (or --to-dir) named: files only; only databases: databases only.
  const wantTables = Boolean(options.tables?.length);
  const wantDatabases = wantTables || Boolean(options.databases?.length) || (!options.files?.length && !options.toDir);
  const wantFiles = !wantTables && (Boolean(options.files?.length) || Boolean(options.toDir) || (!options.databases?.length && !options.to));
  let selected = wantDatabases ? inBundle : [];
  if (options.databases?.length) {
    selected = options.databases.map((name) => {
      const found = inBundle.find((d) => d.name === name);
      if (!found) {
        throw new LifeboatError('E_NOT_FOUND', `backup ${backup.id} has no database "${name}"`, {
          hint: `databases in it: ${inBundle.map((d) => d.name).join(', ') || 'none'}`,
        });
      }
      return found;
    });
  }
  const selectedFiles = options.files?.length ? selectFiles(manifest.files, options.files) : wantFiles ? manifest.files : [];
  let selectedTables: DatabaseManifest['tables'] = [];
  if (wantTables) {
    if (selected.length !== 1) throw new LifeboatError('E_USAGE', '--table restores tables of one database: name it with --database', { hint: `databases in the backup: ${inBundle.map((d) => d.name).join(', ')}` });
    selectedTables = selectTables(selected[0]!, options.tables!);
    if (options.renameTo && selectedTables.length !== 1) throw new LifeboatError('E_USAGE', '--rename-to goes with exactly one --table');
  } else if (options.renameTo) {
    throw new LifeboatError('E_USAGE', '--rename-to goes with --table');
  }
  if (options.globals && !manifest.postgres?.globals) {
    throw new LifeboatError('E_NOT_FOUND', `backup ${backup.id} has no roles (databases/globals.sql): its target did not set globals: true`);
  }
  if (options.globals && selected.length === 0) throw new LifeboatError('E_USAGE', '--globals goes with a database restore');
  if (selected.length === 0 && selectedFiles.length === 0) throw new LifeboatError('E_USAGE', `backup ${backup.id} holds nothing of what was asked to restore`);

  const destination = new Map<string, string>();
  let server: PgEndpoint | undefined;
  if (options.to) {
    if (selected.length !== 1) throw new LifeboatError('E_USAGE', '--to restores one database: name it with --database');
    const to = parsePgUrl(options.to);
    const db = databaseOf(to);
    if (!db) throw new LifeboatError('E_USAGE', `--to ${redactUrl(options.to)} names no database`, { hint: 'end the URL with /<database>' });
    destination.set(selected[0]!.name, db);
    server = withDatabase(to, 'postgres');
  } else if (selected.length > 0) {
    if (!target?.postgres) {
      throw new LifeboatError('E_CONFIG', `target "${backup.target}" has no postgres connection in ${loaded.file}`, { hint: 'restore with --to postgres://.../database' });
    }
    server = withDatabase(parsePgUrl(target.postgres.url), 'postgres');
    for (const d of selected) destination.set(d.name, d.name);
  }
  // Opened last: nothing above holds a connection that an error would leave open.
  const log = deferredLog();
  const copies = await Copies.open(loaded, catalog, backup, log);
  const { storage, key } = copies.current;
  return { loaded, catalog, backup, manifest, copies, log, storage, key, selected, selectedFiles, selectedTables, globals: options.globals === true, server, destination };
}

async function makePlan(ctx: Context, job: Job, options: RestoreOptions): Promise<RestorePlan> {
  const checks: Check[] = [];
  const databases: PlannedDatabase[] = [];
  const stat = await ctx.storage.stat(ctx.key);
  checks.push({ name: 'bundle present', ok: stat !== undefined, detail: stat ? `${ctx.storage.name}:${ctx.key}, ${formatBytes(stat.size)}` : `missing from storage ${ctx.storage.name}` });
  if (stat && options.dryRun) {
    // A dry run reads the whole bundle once to prove it; a real restore does so while extracting.
    job.progress({ phase: 'checking bundle', done: 0, unit: 'bytes' });
    const keys = keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption);
    try {
      const integrity = await checkIntegrity(await ctx.storage.get(ctx.key), path.basename(ctx.key), keys);
      checks.push({ name: 'checksums', ok: integrity.ok, detail: integrity.ok ? `all ${integrity.members.length} members match the manifest` : integrity.problems.join('; ') });
    } catch (err) {
      checks.push({ name: 'checksums', ok: false, detail: asLifeboatError(err).message });
    }
  }

  const files = await planFiles(ctx.selectedFiles, options.toDir);
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
      const tools = await restoreTools(version.major, dumpMajor);
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
        if (exists) tables.push(...(await planTables(ctx, database, options.renameTo, checks)));
        else checks.push({ name: `database ${database}`, ok: false, detail: `does not exist on the target; restore the whole database with --database ${d.name}` });
        continue;
      }
      databases.push({
        source: d.name, server: redactUrl(ctx.server.url), database, action: exists ? 'replace' : 'create',
        tables: d.tables.length, rows: d.tables.reduce((n, t) => n + (t.rows ?? 0), 0), dumpSize: d.dumpSize,
      });
      if (exists) checks.push(await schemaCheck(ctx, d, database));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
  const needed = ctx.selected.reduce((n, d) => n + d.dumpSize, 0);
  const tempDir = ctx.loaded.config.tempDir ?? os.tmpdir();
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
async function compatibilityChecks(ctx: Context, checks: Check[]): Promise<void> {
  if (!ctx.selected.length) return;
  const target = ctx.loaded.config.targets[ctx.backup.target];
  const profile = getProfile(ctx.manifest.app.profile);
  if (!target || !profile.compatibility) return;
  for (const c of await profile.compatibility(ctx.manifest.app, target, path.dirname(ctx.loaded.file))) {
    checks.push({ name: c.name, ok: c.ok, detail: c.detail, overridable: true });
  }
}

function finishPlan(ctx: Context, databases: PlannedDatabase[], tables: RestorePlan['tables'], files: PlannedFile[], checks: Check[]): RestorePlan {
  const replacesData = databases.some((d) => d.action === 'replace') || tables.some((t) => t.action === 'replace') || files.some((f) => f.action === 'overwrite');
  return { backupId: ctx.backup.id, target: ctx.backup.target, storage: ctx.storage.name, key: ctx.key, databases, tables, files, checks, replacesData, safetyBackup: replacesData, globals: ctx.globals };
}

/** What each --table does on the live database; a --rename-to name that is taken fails the plan. */
async function planTables(ctx: Context, database: string, renameTo: string | undefined, checks: Check[]): Promise<RestorePlan['tables']> {
  const client = await connect(withDatabase(ctx.server!, database));
  try {
    const planned: RestorePlan['tables'] = [];
    for (const t of ctx.selectedTables) {
      const exists = async (name: string) => (await client.query('select to_regclass($1) as r', [`${ident(t.schema)}.${ident(name)}`])).rows[0].r !== null;
      if (renameTo) {
        const taken = await exists(renameTo);
        checks.push({ name: `table ${t.schema}.${renameTo}`, ok: !taken, detail: taken ? 'already exists; choose another --rename-to' : 'free' });
        planned.push({ table: tableName(t), database, action: 'beside', as: `${t.schema}.${renameTo}`, rows: t.rows ?? 0 });
      } else {
        planned.push({ table: tableName(t), database, action: (await exists(t.name)) ? 'replace' : 'create', as: tableName(t), rows: t.rows ?? 0 });
      }
    }
    return planned;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The generic schema comparison: tables and columns in the backup against the live database. */
async function schemaCheck(ctx: Context, d: DatabaseManifest, database: string): Promise<Check> {
  const client = await connect(withDatabase(ctx.server!, database));
  try {
    const live = await describeDatabase(client, undefined, { counts: false });
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

async function execute(ctx: Context, plan: RestorePlan, report: RestoreReport, job: Job, options: RestoreOptions): Promise<void> {
  const signal = job.signal;
  let tools: PgTools | undefined;
  if (ctx.server && ctx.selected.length) {
    const client = await connect(ctx.server);
    const version = await serverVersion(client).finally(() => client.end().catch(() => undefined));
    tools = await restoreTools(version.major, Number(ctx.manifest.postgres!.pgDumpVersion.split('.')[0]));
  }
  const temp = await fs.mkdtemp(path.join(ctx.loaded.config.tempDir ?? os.tmpdir(), 'lifeboat-restore-'));
  // Whole databases with a dump index load into their scratch databases while the bundle is
  // read (restore-stream.ts); the checks still come before anything is swapped in.
  const streams = new Map<string, Streamed>();
  // What the extraction has written of each dump, for the loads that follow it.
  const progress = new DumpProgress();
  const dropStreams = async () => {
    for (const s of streams.values()) {
      s.stream.abort();
      await dropDatabase(ctx.server!, s.scratch);
    }
    streams.clear();
  };
  try {
    // Not with --globals: the roles that own the objects are created after the bundle is read.
    if (tools && !ctx.selectedTables.length && !options.globals) {
      for (const d of plan.databases) {
        const m = ctx.selected.find((x) => x.name === d.source)!;
        if (!StreamingRestore.possible(m)) continue;
        const scratch = await createScratch(ctx, d, m, job);
        const stream = new StreamingRestore(tools, withDatabase(ctx.server!, scratch), m, dumpFile(temp, m.name), progress, job, options.noOwner ?? false);
        stream.start();
        streams.set(d.source, { scratch, stream });
      }
    }
    // A corrupt or unreadable copy fails here, before anything is changed: try the next copy.
    let extracted;
    for (;;) {
      try {
        extracted = await extractBundle(
          { storage: ctx.storage, key: ctx.key, keys: keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption), manifest: ctx.manifest },
          { databases: ctx.selected, files: ctx.selectedFiles, members: options.globals ? [GLOBALS_MEMBER] : [], tables: ctx.selectedTables.length ? ctx.selectedTables : undefined },
          temp,
          job,
          streams.size ? progress : undefined,
        );
        break;
      } catch (err) {
        const e = asLifeboatError(err);
        // The streamed loads saw this copy's bytes: the next copy is restored the plain way.
        await dropStreams();
        if (!['E_BUNDLE_CORRUPT', 'E_STORAGE_READ', 'E_STORAGE_NOT_FOUND'].includes(e.code) || !(await ctx.copies.fallBack(e.message))) throw e;
        ({ storage: ctx.storage, key: ctx.key } = ctx.copies.current);
        for (const entry of await fs.readdir(temp)) await fs.rm(path.join(temp, entry), { recursive: true, force: true });
      }
    }
    const { dumps, staged } = extracted;

    if (plan.replacesData) {
      const replaced = [...plan.databases.filter((d) => d.action === 'replace').map((d) => d.database), ...new Set(plan.tables.filter((t) => t.action === 'replace').map((t) => t.database))];
      const overwritten = plan.files.filter((f) => f.action === 'overwrite').map((f) => f.destination);
      job.log('info', `taking a safety backup of ${[...replaced, ...overwritten].join(', ')} before replacing anything`);
      report.safetyBackupId = await safetyBackup(ctx, replaced, overwritten, options.safetyDays ?? 7, signal);
      job.log('info', `safety backup ${report.safetyBackupId} is protected for ${options.safetyDays ?? 7} days`);
    }

    if (options.globals) report.roles = await restoreGlobals(ctx.server!, tools!, staged.get(GLOBALS_MEMBER)!, temp, job);

    for (const d of plan.databases) {
      signal.throwIfAborted();
      const manifestDb = ctx.selected.find((s) => s.name === d.source)!;
      const streamed = streams.get(d.source);
      streams.delete(d.source); // restoreDatabase owns its scratch database from here
      report.restored.push(await restoreDatabase(ctx, tools!, manifestDb, d, dumps.get(d.source)!, job, options, streamed));
    }
    if (ctx.selectedTables.length) {
      const source = ctx.selected[0]!;
      report.tables = await restoreTables(ctx.server!, ctx.destination.get(source.name)!, tools!, source, ctx.selectedTables, dumps.get(source.name)!, temp, job, { renameTo: options.renameTo, noOwner: options.noOwner });
    }

    // Directories first (parents before children), so files land in directories that exist.
    const order = [...ctx.selectedFiles].sort((a, b) => Number(b.type === 'directory') - Number(a.type === 'directory') || a.path.length - b.path.length);
    for (const f of order) {
      signal.throwIfAborted();
      const destination = plan.files.find((p) => p.path === f.path && p.set === f.set)!.destination;
      const sha = await placeFile(f, staged.get(f.member), destination, options.toDir);
      if (f.type === 'file' && sha !== f.sha256) throw new LifeboatError('E_RESTORE_FAILED', `${destination} does not read back with the backup's checksum`);
      report.files.push({ path: f.path, destination, verified: f.type !== 'file' || sha === f.sha256 });
    }
    if (order.length) job.log('info', `restored ${order.length} file-system entries, every file read back with its checksum`);
  } finally {
    await dropStreams(); // scratch databases a failure left before restoreDatabase took them
    await fs.rm(temp, { recursive: true, force: true });
  }
}

interface Streamed {
  scratch: string;
  stream: StreamingRestore;
}

/** Creates the empty scratch database a database is restored into before it is swapped in. */
async function createScratch(ctx: Context, d: PlannedDatabase, m: DatabaseManifest, job: Job): Promise<string> {
  const scratch = `${d.database.slice(0, 40)}_lifeboat_${randomBytes(4).toString('hex')}`;
  const admin = await connect(ctx.server!);
  try {
    job.log('info', `restoring ${m.name} into scratch database ${scratch} (${formatBytes(m.dumpSize)} dump)`);
    await admin.query(`create database ${ident(scratch)} template template0 encoding ${literal(m.encoding)}`);
    return scratch;
  } catch (err) {
    throw err instanceof LifeboatError ? err : pgError(err, ctx.server!);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

async function dropDatabase(server: PgEndpoint, name: string): Promise<void> {
  const admin = await connect(server).catch(() => undefined);
  await admin?.query(`drop database if exists ${ident(name)} with (force)`).catch(() => undefined);
  await admin?.end().catch(() => undefined);
}

/** Backs up the databases about to be replaced, as they are now, and protects that backup. */
async function safetyBackup(ctx: Context, databases: string[], files: string[], days: number, signal: AbortSignal): Promise<string> {
  const base = ctx.loaded.config.targets[ctx.backup.target];
  let postgres;
  if (databases.length && ctx.server) {
    const url = new URL(ctx.server.url);
    if (ctx.server.password !== undefined) url.password = encodeURIComponent(ctx.server.password);
    postgres = { url: url.toString(), databases, globals: false };
  }
  const fileSets: TargetConfig['files'] = files.length ? { 'pre-restore': { paths: files, include: undefined, exclude: undefined } } : {};
  const target: TargetConfig = {
    ...(base ?? { profile: 'generic', onUnreadable: 'fail', compression: { algorithm: 'zstd' }, storage: { primary: ctx.storage.name, replicas: [] } }),
    postgres,
    files: fileSets,
  };
  const loaded = { ...ctx.loaded, config: { ...ctx.loaded.config, targets: { ...ctx.loaded.config.targets, [ctx.backup.target]: target } } };
  try {
    const result = await runBackup(loaded, ctx.catalog, ctx.backup.target, { trigger: 'pre-restore', signal });
    ctx.catalog.setProtection(result.id, new Date(Date.now() + days * 86_400_000), ['pre-restore']);
    return result.id;
  } catch (err) {
    const e = asLifeboatError(err);
    throw new LifeboatError(e.code, `the safety backup failed, so the restore did not start: ${e.message}`, { cause: err, hint: e.hint });
  }
}

async function restoreDatabase(ctx: Context, tools: PgTools, m: DatabaseManifest, d: PlannedDatabase, file: string, job: Job, options: RestoreOptions, streamed?: Streamed) {
  let scratch = streamed?.scratch ?? (await createScratch(ctx, d, m, job));
  let created = true;
  const admin = await connect(ctx.server!).catch(async (err: unknown) => {
    await dropDatabase(ctx.server!, scratch);
    throw err;
  });
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
        await admin.query(`drop database if exists ${ident(scratch)} with (force)`);
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

    let terminated = 0;
    if (d.action === 'replace') {
      const old = `${d.database.slice(0, 40)}_lifeboat_old_${randomBytes(4).toString('hex')}`;
      await admin.query(`alter database ${ident(d.database)} allow_connections false`);
      try {
        const r = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [d.database]);
        terminated = r.rowCount ?? 0;
        job.log('info', `terminated ${terminated} connection(s) to ${d.database}`);
        await renameWhenFree(admin, d.database, old);
      } catch (err) {
        await admin.query(`alter database ${ident(d.database)} allow_connections true`).catch(() => undefined);
        throw err;
      }
      await admin.query(`alter database ${ident(scratch)} rename to ${ident(d.database)}`);
      created = false;
      await admin.query(`drop database ${ident(old)}`);
    } else {
      await admin.query(`alter database ${ident(scratch)} rename to ${ident(d.database)}`);
      created = false;
    }
    job.log('info', `${d.action === 'replace' ? 'replaced' : 'created'} ${d.database}`);
    return { database: d.database, tables: m.tables.length, verified: true, mismatches, terminatedConnections: terminated };
  } catch (err) {
    throw err instanceof LifeboatError ? err : pgError(err, ctx.server!);
  } finally {
    if (created) await admin.query(`drop database if exists ${ident(scratch)} with (force)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
  }
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
async function verifyCounts(ctx: Context, database: string, m: DatabaseManifest, counted?: ReadonlyMap<string, number>): Promise<string[]> {
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
async function restoreGlobals(server: PgEndpoint, tools: PgTools, file: string, dir: string, job: Job): Promise<{ created: string[]; kept: string[] }> {
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

/**
 * pg_restore must be at least as new as the pg_dump that wrote the archive; against a newer
 * server an older pg_restore works. Prefer the tools matching the server, else the oldest that
 * reads the archive.
 */
async function restoreTools(serverMajor: number, dumpMajor: number): Promise<PgTools> {
  try {
    return await toolsForServer(Math.max(serverMajor, dumpMajor));
  } catch (err) {
    if (asLifeboatError(err).code !== 'E_PG_VERSION' || serverMajor <= dumpMajor) throw err;
    return toolsForServer(dumpMajor);
  }
}

function literal(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
