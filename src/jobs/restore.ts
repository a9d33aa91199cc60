import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { keysFor, keysForBundle } from '../bundle/codec.ts';
import { openRanges } from '../bundle/seek.ts';
import { refuseUntrusted } from '../bundle/trust.ts';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, databaseOf, parsePgUrl, redactUrl, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { targetEndpoint } from '../postgres/target.ts';
import { serverVersion } from '../postgres/introspect.ts';
import { Copies, deferredLog } from './copies.ts';
import { dumpFile, extractBundle, GLOBALS_MEMBER } from './extract.ts';
import { Job } from './job.ts';
import type { RestoreContext, RestoreOptions } from './restore-context.ts';
import { createScratch, dropDatabase, restoreDatabase, restoreGlobals, type Streamed } from './restore-databases.ts';
import { placeFile, selectFiles } from './restore-files.ts';
import { placeInVolumes } from './restore-files-volumes.ts';
import { planRefusal } from './plan-refusal.ts';
import { makePlan, type RestorePlan } from './restore-plan.ts';
import { restoreTools } from './restore-tools.ts';
import { safetyBackup } from './restore-safety.ts';
import { DumpProgress } from './dump-progress.ts';
import { StreamingRestore } from './restore-stream.ts';
import { restoreTables, selectTables, type TableRestoreResult } from './restore-tables.ts';
import { createTempDir, removeTempDir } from './resources.ts';
import { tablesToRead } from './restore-table-plan.ts';
import { releasePlanScratch, takePlanScratch } from './restore-table-scratch.ts';

export type { RestoreOptions } from './restore-context.ts';
export type { Check, PlannedDatabase, RestorePlan } from './restore-plan.ts';

export interface RestoreReport {
  plan: RestorePlan;
  restored: { database: string; tables: number; verified: boolean; mismatches: string[]; terminatedConnections: number }[];
  /** Files written, each read back and checked against the manifest's sha256. */
  files: { path: string; destination: string; verified: boolean }[];
  tables: TableRestoreResult[];
  /** With --globals: roles created, and roles that existed and were left as they are. */
  roles?: { created: string[]; kept: string[] };
  safetyBackupId?: string;
  /**
   * With --to: the command that undoes the restore. The safety backup belongs to the backup's
   * target, so restored without --to it would go to the target's own server, whose databases
   * may bear the same names (a whole-cluster restore).
   */
  undo?: string;
}

/** A restore's plan and, when it ran, its report. */
export interface RestoreOutcome {
  plan: RestorePlan;
  report?: RestoreReport;
  /** A dry run only: why the real run would be refused (exit 3), with the same options. */
  refusal?: LifeboatError;
}

/**
 * Restores databases, tables, roles and files from a backup. Plans first; with `dryRun` stops
 * there. Otherwise checks the whole bundle's checksums while extracting, takes a protected safety
 * backup of what it replaces, restores each database into a new scratch database, verifies its
 * row counts against the manifest, and only then swaps it in by rename: a failed restore leaves
 * the original database as it was. Tables and files: restore-tables.ts, restore-files.ts.
 */
export async function runRestore(loaded: LoadedConfig, catalog: Catalog, backupPrefix: string, options: RestoreOptions = {}): Promise<RestoreOutcome> {
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  const ctx = await prepare(loaded, catalog, backupPrefix, options);
  try {
    return await Job.run(catalog, { kind: options.dryRun ? 'restore-plan' : 'restore', target: ctx.backup.target, backupId: ctx.backup.id, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, (job) => {
      ctx.log.flush((level, message) => job.log(level, message));
      return restoreJob(ctx, job, options);
    });
  } finally {
    await ctx.copies.close();
    await releasePlanScratch(ctx); // the table plan's scratch database, when no run took it
  }
}

async function restoreJob(ctx: RestoreContext, job: Job, options: RestoreOptions): Promise<RestoreOutcome> {
  const { catalog } = ctx;
  const plan = await makePlan(ctx, job, options);
  // Kept in the job's history only: the caller shows the plan (or the refusal) once, itself.
  for (const c of plan.checks) job.record(c.ok ? 'info' : 'warn', `check ${c.ok ? 'passed' : 'FAILED'}: ${c.name}: ${c.detail}`);
  const refusal = planRefusal('restore', plan.checks, options.force === true);
  if (options.dryRun) return { plan, refusal };
  if (refusal) throw refusal;
  await options.approve?.(plan);
  for (const c of plan.checks.filter((x) => !x.ok)) job.log('warn', `check FAILED, overridden by --force: ${c.name}: ${c.detail}`);
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
  const requestedBy = options.requestedBy ?? os.userInfo().username;
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

async function prepare(loaded: LoadedConfig, catalog: Catalog, prefix: string, options: RestoreOptions): Promise<RestoreContext> {
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
  // ---- trust (authenticated bundles, mac.ts): an untrusted bundle may be forged ----
  refuseUntrusted(backup, { trustForeign: options.trustForeign, files: selectedFiles.length, toDir: options.toDir });
  // ---- end trust ----

  const destination = new Map<string, string>();
  let server: PgEndpoint | undefined;
  if (options.to) {
    // A URL naming a database takes the one database selected, under that name; the server
    // alone (postgres://host:port/) takes every selected database, each under its own name:
    // a whole-cluster restore onto another server.
    const to = parsePgUrl(options.to);
    const db = databaseOf(to);
    if (selected.length === 0) throw new LifeboatError('E_USAGE', '--to restores databases, and none is selected');
    if (db && selected.length !== 1) {
      throw new LifeboatError('E_USAGE', `--to ${redactUrl(options.to)} names one database, and ${options.databases?.length ? `--database names ${selected.length}` : `the backup has ${selected.length}`}`, {
        hint: 'pick one with --database, or point --to at the server alone to restore every database under its own name: postgres://user@host:port/',
      });
    }
    // A template cannot be backed up first (backups leave templates out), so it is never replaced.
    if (db === 'template0' || db === 'template1') throw new LifeboatError('E_USAGE', `--to names ${db}, a template database: it is never replaced`, { hint: 'restore into a database of another name' });
    for (const d of selected) destination.set(d.name, db ?? d.name);
    server = withDatabase(to, 'postgres');
  } else if (selected.length > 0) {
    if (!target?.postgres) {
      throw new LifeboatError('E_CONFIG', `target "${backup.target}" has no postgres connection in ${loaded.file}`, { hint: 'restore with --to postgres://.../database' });
    }
    server = withDatabase(await targetEndpoint(target.postgres), 'postgres');
    for (const d of selected) destination.set(d.name, d.name);
  }
  // Opened last: nothing above holds a connection that an error would leave open.
  const log = deferredLog();
  // --force also reads copies a verification marked bad: the extraction checks every member.
  const copies = await Copies.open(loaded, catalog, backup, log, { force: options.force ?? false });
  const { storage, key } = copies.current;
  return { loaded, catalog, backup, manifest, copies, log, storage, key, selected, selectedFiles, selectedTables, globals: options.globals === true, server, destination };
}

async function execute(ctx: RestoreContext, plan: RestorePlan, report: RestoreReport, job: Job, options: RestoreOptions): Promise<void> {
  const signal = job.signal;
  let tools: PgTools | undefined;
  if (ctx.server && ctx.selected.length) {
    const client = await connect(ctx.server);
    const version = await serverVersion(client).finally(() => client.end().catch(() => undefined));
    tools = await restoreTools(version.major, Number(ctx.manifest.postgres!.pgDumpVersion.split('.')[0]), ctx.server);
  }
  const temp = await createTempDir(ctx.loaded, 'lifeboat-restore-');
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
    const streaming = !ctx.selectedTables.length && !options.globals && plan.databases.some((d) => StreamingRestore.possible(ctx.selected.find((x) => x.name === d.source)!));
    // A wrong key is wrong on every copy: told from the bundle's age header (what a ranged read
    // opens first), before a scratch database is made on the server for the streamed loads.
    // Damage is left to the extraction below, which passes over to the next copy.
    if (tools && streaming && ctx.manifest.encryption.kind !== 'none') {
      const keys = keysForBundle(keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption), ctx.manifest.encryption);
      await openRanges(ctx.storage, ctx.key, keys, signal).catch((err: unknown) => {
        if (asLifeboatError(err).code === 'E_ENCRYPTION') throw err;
      });
    }
    if (tools && streaming) {
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
          { storage: ctx.storage, key: ctx.key, keys: keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption), manifest: ctx.manifest, sha256: ctx.copies.current.location.sha256 },
          { databases: ctx.selected, files: ctx.selectedFiles, members: options.globals ? [GLOBALS_MEMBER] : [], tables: ctx.selectedTables.length ? tablesToRead(plan.tables) : undefined },
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
      const overwritten = plan.files.filter((f) => f.action === 'overwrite');
      job.log('info', `taking a safety backup of ${[...replaced, ...overwritten.map((f) => f.destination)].join(', ')} before replacing anything`);
      report.safetyBackupId = await safetyBackup(ctx, replaced, overwritten, options.safetyDays ?? 7, signal);
      job.log('info', `safety backup ${report.safetyBackupId} is protected for ${options.safetyDays ?? 7} days`);
      if (options.to && ctx.server) {
        const server = new URL(withDatabase(ctx.server, '').url);
        if (ctx.server.password !== undefined) server.password = '***'; // a placeholder: the password is never shown
        report.undo = `lifeboat restore ${report.safetyBackupId} --to ${server.toString()} --yes`;
      }
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
      report.tables = await restoreTables(ctx.server!, ctx.destination.get(source.name)!, tools!, source, ctx.selectedTables, dumps.get(source.name)!, job, { renameTo: options.renameTo, noOwner: options.noOwner, planned: takePlanScratch(ctx) });
    }

    // Directories first (parents before children), so files land in directories that exist.
    const order = [...ctx.selectedFiles].sort((a, b) => Number(b.type === 'directory') - Number(a.type === 'directory') || a.path.length - b.path.length);
    for (const f of order) {
      signal.throwIfAborted();
      const planned = plan.files.find((p) => p.path === f.path && p.set === f.set);
      if (planned?.via === 'helper') continue; // written below, a volume at a time
      const sha = await placeFile(f, staged.get(f.member), planned);
      const destination = planned!.destination;
      if (f.type === 'file' && sha !== f.sha256) throw new LifeboatError('E_RESTORE_FAILED', `${destination} does not read back with the backup's checksum`);
      report.files.push({ path: f.path, destination, verified: f.type !== 'file' || sha === f.sha256 });
    }
    if (plan.files.some((p) => p.via === 'helper')) {
      const sums = await placeInVolumes(plan.files, ctx.selectedFiles, staged, signal);
      for (const p of plan.files.filter((x) => x.via === 'helper')) {
        const f = ctx.selectedFiles.find((x) => x.set === p.set && x.path === p.path)!;
        if (f.type === 'file' && sums.get(p.destination) !== f.sha256) throw new LifeboatError('E_RESTORE_FAILED', `${p.destination} in volume ${p.volume} does not read back with the backup's checksum`);
        report.files.push({ path: f.path, destination: p.destination, verified: true });
      }
      job.log('info', `wrote ${sums.size} file(s) into volume(s) ${[...new Set(plan.files.filter((x) => x.via === 'helper').map((x) => x.volume))].join(', ')} through a helper container`);
    }
    if (order.length) job.log('info', `restored ${order.length} file-system entries, every file read back with its checksum`);
  } finally {
    await dropStreams(); // scratch databases a failure left before restoreDatabase took them
    await removeTempDir(temp);
  }
}
