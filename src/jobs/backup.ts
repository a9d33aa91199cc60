import { createReadStream } from 'node:fs';
import { hostname, platform } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { BackupSummary, Catalog } from '../catalog/catalog.ts';
import { bundleSuffix, encrypt } from '../bundle/codec.ts';
import { collectFiles, refuseUnreadable, type FileEntry } from '../bundle/file-sets.ts';
import { serializeManifest, type DatabaseManifest, type FileRecord, type Manifest } from '../bundle/manifest.ts';
import { readmeText, restoreScript, type KitInfo } from '../bundle/restore-kit.ts';
import { BundleWriter, ShortReadError } from '../bundle/writer.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toolsForServer, type PgTools } from '../postgres/binaries.ts';
import { connect, databaseOf, parsePgUrl, pgError, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { dumpGlobals, openSnapshot, pgDump } from '../postgres/dump.ts';
import { DumpIndexer } from '../postgres/dump-index.ts';
import { describeDatabase, listDatabases, serverVersion } from '../postgres/introspect.ts';
import { getProfile } from '../profiles/index.ts';
import type { AppItem, AppItems } from '../profiles/profile.ts';
import { openStorage, probeWritable, type StorageDriver } from '../storage/storage.ts';
import { Job, type JobListener, type Trigger } from './job.ts';
import { copyBackup, type CopyOutcome } from './replicate.ts';
import { freeSpaceFor } from './prune.ts';
import { VERSION } from '../version.ts';
import { formatBytes } from '../util/format.ts';
import { tempRoot } from './resources.ts';

export interface BackupResult {
  id: string;
  jobId: string;
  storage: string;
  key: string;
  size: number;
  sha256: string;
  manifest: Manifest;
  summary: BackupSummary;
  /** One per configured replica; a failed copy leaves the backup `degraded`, not failed. */
  replicas: CopyOutcome[];
}

export interface BackupOptions {
  trigger?: Trigger;
  signal?: AbortSignal;
  listener?: JobListener;
  /** Size of the parts a dump is cut into (tests use small parts to exercise joining). */
  partSize?: number;
  /** The backup's start time and id; the scheduler passes its clock's (tests move it by hand). */
  now?: Date;
}

/** The tar member a database's dump is written to (before any `.part-NNNN`). */
export function dumpMemberName(db: string): string {
  return `databases/${encodeURIComponent(db)}.dump`;
}

/** The storage key of a bundle's sidecar manifest. */
export function sidecarKey(bundleKey: string): string {
  return `${bundleKey}.manifest.json`;
}

/** `<target>-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`... when that second is taken already. */
export function newBackupId(target: string, at: Date, taken: (id: string) => boolean): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${target}-${stamp}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}-${n}`)) return `${base}-${n}`;
}

/**
 * Backs up one target into one bundle on its primary storage. Everything that can be checked
 * before writing is checked first; any failure or abort leaves a failed backup record, no
 * bundle in storage and no temporary files.
 */
export async function runBackup(
  loaded: LoadedConfig,
  catalog: Catalog,
  targetName: string,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const target = loaded.config.targets[targetName];
  if (!target) {
    const names = Object.keys(loaded.config.targets);
    throw new LifeboatError('E_NOT_FOUND', `no target named "${targetName}" in ${loaded.file}`, {
      hint: names.length ? `configured targets: ${names.join(', ')}` : 'add one under targets:',
    });
  }
  const profile = getProfile(target.profile);
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  catalog.saveTarget(targetName, publicTargetConfig(target));

  return Job.run(catalog, { kind: 'backup', target: targetName, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, async (job) => {
    const lock = `backup:${targetName}`;
    catalog.acquireLock(lock, job.id, `a backup of target "${targetName}"`);
    const started = options.now ?? new Date();
    const storageName = target.storage.primary;
    const storage = await openStorage(storageName, loaded.config.storages[storageName]!);
    const id = newBackupId(targetName, started, (candidate) => catalog.backupExists(candidate));
    const bundleName = id + bundleSuffix(target.compression.algorithm, target.encryption !== undefined);
    const key = `${targetName}/${bundleName}`;
    catalog.startBackup({
      id, target: targetName, trigger: options.trigger ?? 'manual', jobId: job.id, startedAt: started,
      compression: target.compression.algorithm, encrypted: target.encryption !== undefined, bundleKey: key,
    });
    job.log('info', `backup ${id} of target ${targetName} to storage ${storageName}`);
    let result;
    try {
      const offset = started.getTime() - Date.now();
      const clock = () => new Date(Date.now() + offset);
      result = await writeBackup({ loaded, catalog, target, targetName, profile, storage, id, key, bundleName, started, now: clock, job, partSize: options.partSize });
      catalog.completeBackup(id, {
        size: result.size, sha256: result.sha256, manifest: result.manifest, summary: result.summary,
        location: { storage: storageName, key, status: 'ok', size: result.size, sha256: result.sha256 },
      });
      job.log('info', `backup ${id} complete: ${result.size} bytes, sha256 ${result.sha256}`);
    } catch (err) {
      const e = asLifeboatError(err);
      catalog.failBackup(id, e.message);
      catalog.recordEvent({
        kind: 'backup_failed', severity: 'error', target: targetName, backupId: id, jobId: job.id,
        message: e.code === 'E_ABORTED' ? `backup ${id} was cancelled` : `backup ${id} failed: ${e.message}`, data: { code: e.code, trigger: options.trigger ?? 'manual' },
      });
      throw e;
    } finally {
      await storage.close();
      if (!result) catalog.releaseLock(lock, job.id);
    }
    // The backup is complete and safe on the primary; replicas are copies of it, and a failed
    // copy leaves it `degraded` for `lifeboat replicate --pending` to finish.
    try {
      const replicas: CopyOutcome[] = [];
      for (const replica of target.storage.replicas) replicas.push(await copyBackup(loaded, catalog, catalog.getBackup(id)!, replica, job));
      const copies = replicas.filter((r) => r.status === 'ok').length;
      catalog.recordEvent({
        kind: 'backup_succeeded', severity: 'info', target: targetName, backupId: id, jobId: job.id,
        message: `backup ${id}: ${formatBytes(result.size)} in ${Math.round(result.summary.durationMs / 1000)} s on ${storageName}${replicas.length ? ` and ${copies} of ${replicas.length} replica(s)` : ''}`,
        data: { size: result.size, durationMs: result.summary.durationMs, storage: storageName, replicas },
      });
      return { id, jobId: job.id, storage: storageName, key, ...result, replicas };
    } finally {
      catalog.releaseLock(lock, job.id);
    }
  });
}

interface WriteContext {
  loaded: LoadedConfig;
  catalog: Catalog;
  target: TargetConfig;
  targetName: string;
  profile: ReturnType<typeof getProfile>;
  storage: StorageDriver;
  id: string;
  key: string;
  bundleName: string;
  started: Date;
  /** The backup's clock: real time, shifted when `options.now` moved the start. */
  now: () => Date;
  job: Job;
  partSize: number | undefined;
}

/** What pre-flight learned about the server, so the dump phase does not ask again. */
interface PgPlan {
  endpoint: PgEndpoint;
  tools: PgTools;
  serverVersion: string;
  databases: { name: string; sizeBytes: number }[];
}

async function writeBackup(c: WriteContext): Promise<{ size: number; sha256: string; manifest: Manifest; summary: BackupSummary }> {
  const { job, target, storage } = c;
  const signal = job.signal;

  // ---- pre-flight: everything that can fail before a byte is written ----
  job.progress({ phase: 'checking', done: 0, unit: 'items' });
  const swept = await storage.sweep();
  if (swept) job.log('info', `removed ${swept} temporary file(s) left by an interrupted backup`);
  await probeWritable(storage);
  const pgPlan = target.postgres ? await planPostgres(target.postgres, job) : undefined;
  // The profile's own file sets (n8n: its config file, which holds the encryption key) come along.
  const fileSets = { ...(c.profile.fileSets?.(target, path.dirname(c.loaded.file)) ?? {}), ...target.files };
  const { entries, unreadable } = await collectFiles(fileSets, path.dirname(c.loaded.file));
  if (target.onUnreadable === 'fail') refuseUnreadable(unreadable);
  const warnings: string[] = [];
  for (const u of unreadable) {
    const line = `skipped unreadable file ${u.path} (set ${u.set}): ${u.reason}`;
    warnings.push(line);
    job.log('warn', line);
  }
  const fileBytes = entries.reduce((n, e) => n + (e.type === 'file' ? e.stat.size : 0), 0);
  const estimate = (pgPlan?.databases.reduce((n, d) => n + d.sizeBytes, 0) ?? 0) + fileBytes;
  await ensureRoom(c, estimate);
  signal.throwIfAborted();

  // ---- write ----
  const writer = await BundleWriter.create(target.compression, target.encryption);
  let done = 0;
  let current = '';
  writer.onBytes = (n) => {
    done += n;
    job.progress({ phase: 'writing', current, done, total: Math.max(estimate, done), unit: 'bytes' });
  };
  const upload = storage.put(c.key, writer.output, { signal });
  // A failed upload (disk full, network) stops the producer at once instead of leaving it
  // waiting for room in the stream.
  let uploadError: unknown;
  upload.catch((err: unknown) => {
    uploadError = err;
    writer.abort(asLifeboatError(err));
  });
  let manifest: Manifest;
  try {
    manifest = await produce(c, writer, pgPlan, entries, warnings, unreadable, (member) => {
      current = member;
      job.log('info', `writing ${member}`);
    });
  } catch (err) {
    writer.abort(asLifeboatError(err));
    await upload.catch(() => undefined);
    throw uploadError ?? err;
  }
  const { size } = await upload;
  const { sha256 } = writer.written;
  if (size !== writer.written.size) {
    await storage.delete(c.key);
    throw new LifeboatError('E_STORAGE_WRITE', `storage "${storage.name}" holds ${size} bytes of ${c.key} but ${writer.written.size} were written`);
  }

  // The sidecar lets `catalog rebuild` work from storage alone; it is encrypted like the bundle.
  const sidecar = Buffer.from(serializeManifest(manifest));
  const sidecarBody = target.encryption ? await encrypt(Readable.from([sidecar]), target.encryption) : Readable.from([sidecar]);
  try {
    await storage.put(sidecarKey(c.key), sidecarBody, { signal });
  } catch (err) {
    await storage.delete(c.key);
    throw err;
  }
  return { size, sha256, manifest, summary: summarize(manifest, c.now().getTime() - c.started.getTime()) };
}

async function planPostgres(pgConfig: NonNullable<TargetConfig['postgres']>, job: Job): Promise<PgPlan> {
  const endpoint = parsePgUrl(pgConfig.url);
  const maintenance = databaseOf(endpoint) ? endpoint : withDatabase(endpoint, 'postgres');
  const client = await connect(maintenance);
  let server: { major: number; version: string };
  let available: { name: string; sizeBytes: number }[];
  try {
    server = await serverVersion(client);
    available = await listDatabases(client);
  } catch (err) {
    throw pgError(err, maintenance);
  } finally {
    await client.end().catch(() => undefined);
  }
  const tools = await toolsForServer(server.major, pgConfig.binDir);
  job.log('info', `PostgreSQL ${server.version}; using pg_dump ${tools.version} from ${tools.dir}`);
  let databases: { name: string; sizeBytes: number }[];
  if (pgConfig.databases === 'all') {
    databases = available;
  } else {
    databases = pgConfig.databases.map((name) => {
      const found = available.find((d) => d.name === name);
      if (!found) {
        throw new LifeboatError('E_PG_DATABASE', `database "${name}" does not exist on the server`, {
          hint: `databases there: ${available.map((d) => d.name).join(', ') || 'none'}`,
        });
      }
      return found;
    });
  }
  return { endpoint, tools, serverVersion: server.version, databases };
}

/**
 * Refuses to start a backup the storage cannot hold, or that would leave it under the target's
 * critical free space (`criticalFreeSpacePercent`, default 5%). The size is estimated from the
 * target's last successful backup, else from the databases' and files' size. With
 * `onCriticalSpace: delete-oldest` the oldest backups retention's floors allow are deleted first
 * to make room; otherwise (or when that is not enough) the backup is refused and a `critical_space`
 * event is raised.
 */
async function ensureRoom(c: WriteContext, rawEstimate: number): Promise<void> {
  const { storage, target, job, catalog } = c;
  const space = await storage.space();
  if (!space || space.total === 0) return;
  const last = catalog.listBackups(c.targetName).find((b) => (b.status === 'ok' || b.status === 'degraded') && b.size !== null && b.trigger !== 'pre-restore');
  // Compressed bundles of real databases are rarely over half of pg_database_size (indexes are
  // not dumped); uncompressed ones can be as large as the data.
  const needed = last?.size ?? Math.ceil(target.compression.algorithm === 'none' ? rawEstimate : rawEstimate / 2);
  const critical = target.retention?.criticalFreeSpacePercent ?? 5;
  const percentAfter = (free: number) => (100 * (free - needed)) / space.total;
  if (percentAfter(space.free) >= critical && space.free >= needed) return;

  let free = space.free;
  if (target.retention?.onCriticalSpace === 'delete-oldest') {
    const freed = await freeSpaceFor(c, { freeBytes: space.free - needed, totalBytes: space.total }, critical);
    free += freed;
    if (freed) job.log('warn', `deleted ${formatBytes(freed)} of old backups to keep ${critical}% of storage "${storage.name}" free`);
  }
  if (percentAfter(free) >= critical && free >= needed) return;
  const message = `storage "${storage.name}" has ${formatBytes(free)} free of ${formatBytes(space.total)}; this backup needs about ${formatBytes(needed)}, which would leave ${Math.max(0, percentAfter(free)).toFixed(1)}% (critical: ${critical}%)`;
  catalog.recordEvent({ kind: 'critical_space', severity: 'critical', target: c.targetName, backupId: c.id, jobId: job.id, message, data: { storage: storage.name, free, total: space.total, needed } });
  throw new LifeboatError('E_NO_SPACE', message, {
    hint: target.retention?.onCriticalSpace === 'delete-oldest'
      ? 'retention\'s floors (newest, verified, protected, minKeep) keep the rest: free space or move the target to another storage'
      : 'free space, prune old backups, set retention.onCriticalSpace: delete-oldest, or point the target at another storage',
  });
}

async function produce(
  c: WriteContext,
  writer: BundleWriter,
  pgPlan: PgPlan | undefined,
  entries: FileEntry[],
  warnings: string[],
  skipped: { set: string; path: string; reason: string }[],
  onMember: (member: string) => void,
): Promise<Manifest> {
  const { target, job } = c;
  const signal = job.signal;
  const kit: KitInfo = {
    id: c.id,
    target: c.targetName,
    bundleName: c.bundleName,
    algorithm: target.compression.algorithm,
    encrypted: target.encryption !== undefined,
    databases: pgPlan?.databases.map((d) => encodeURIComponent(d.name)) ?? [],
    globals: target.postgres?.globals ?? false,
    fileSets: [...new Set(entries.map((e) => e.set))],
  };
  await writer.addBuffer('README.txt', Buffer.from(readmeText(kit)));
  await writer.addBuffer('restore.sh', Buffer.from(restoreScript(kit)), { mode: 0o755 });

  const databases: DatabaseManifest[] = [];
  const appItems: AppItem[] = [];
  const migrations: NonNullable<AppItems['migrations']> = [];
  const metadata: Record<string, unknown[]> = {};
  const appInfo: Record<string, unknown> = {};
  let appProfile = c.profile.name === 'auto' ? 'generic' : c.profile.name;
  if (pgPlan) {
    if (target.postgres?.globals) {
      onMember('databases/globals.sql');
      const globals = await dumpGlobals(pgPlan.tools, withDatabase(pgPlan.endpoint, pgPlan.databases[0]?.name ?? 'postgres'), signal);
      if (globals.warning) {
        warnings.push(globals.warning);
        job.log('warn', globals.warning);
      }
      await writer.addBuffer('databases/globals.sql', globals.sql);
    }
    for (const db of pgPlan.databases) {
      signal.throwIfAborted();
      const endpoint = withDatabase(pgPlan.endpoint, db.name);
      const member = dumpMemberName(db.name);
      onMember(member);
      const snapshot = await openSnapshot(endpoint);
      try {
        const excluded = c.profile.excludedData?.(target);
        const dump = await pgDump(pgPlan.tools, endpoint, snapshot.id, signal, excluded?.patterns.map((p) => `--exclude-table-data=${p}`), tempRoot(c.loaded));
        // Counting runs beside the dump, on the connection that holds the snapshot.
        const described = describeDatabase(snapshot.client, signal).then(async (info) => ({
          info,
          app: await c.profile.readDatabase({ database: db.name, client: snapshot.client, signal, target, configDir: path.dirname(c.loaded.file) }),
        }));
        described.catch(() => undefined);
        // Where each table's data lies in the dump, so one table can be read back alone.
        const indexer = new DumpIndexer();
        let written;
        try {
          written = await writer.addUnknownLength(member, (into, onBytes) => dump.fill(into, (piece) => {
            indexer.push(piece);
            onBytes?.(piece);
          }), c.partSize);
        } finally {
          dump.close();
        }
        await dump.done;
        const dumpIndex = indexer.result();
        if (!dumpIndex) job.log('info', `no table index for the dump of ${db.name}: restoring one table will read the whole dump`);
        const { info, app } = await described;
        for (const t of info.tables) {
          if (excluded?.matches(t.schema, t.name)) Object.assign(t, { rows: 0, dataExcluded: true });
        }
        databases.push({ ...info, dumpMembers: written.members, dumpSize: written.size, dumpSha256: written.sha256, ...(dumpIndex ? { dumpIndex } : {}) });
        appItems.push(...app.items);
        migrations.push(...(app.migrations ?? []));
        if (app.info) Object.assign(appInfo, app.info);
        if (app.profile) appProfile = app.profile;
        for (const w of app.warnings ?? []) {
          warnings.push(w);
          job.log('warn', w);
        }
        for (const [name, doc] of Object.entries(app.metadata ?? {})) (metadata[name] ??= []).push(doc);
        const rows = info.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
        job.log('info', `dumped ${db.name}: ${info.tables.length} tables, ${rows} rows, ${written.size} bytes`);
      } catch (err) {
        throw err instanceof LifeboatError ? err : pgError(err, endpoint);
      } finally {
        await snapshot.close();
      }
    }
  }

  const files: FileRecord[] = [];
  for (const entry of entries) {
    signal.throwIfAborted();
    const meta = { mode: entry.stat.mode & 0o7777, mtime: entry.stat.mtime, uid: entry.stat.uid, gid: entry.stat.gid };
    const record: FileRecord = {
      set: entry.set, path: entry.path, member: entry.member, type: entry.type, mode: meta.mode,
      uid: meta.uid, gid: meta.gid, size: entry.type === 'file' ? entry.stat.size : 0, mtime: entry.stat.mtime.toISOString(),
    };
    if (entry.type === 'directory') {
      await writer.addSpecial(entry.member, 'directory', meta);
    } else if (entry.type === 'symlink') {
      await writer.addSpecial(entry.member, 'symlink', { ...meta, linkname: entry.linkTarget });
      record.linkTarget = entry.linkTarget;
    } else {
      onMember(entry.member);
      const source = entry.stat.size > 0 ? createReadStream(entry.path, { end: entry.stat.size - 1, signal }) : Readable.from([]);
      try {
        const m = await writer.addStream(entry.member, entry.stat.size, source, meta);
        record.sha256 = m.sha256;
      } catch (err) {
        if (!(err instanceof ShortReadError)) throw err;
        record.sha256 = writer.members.at(-1)!.sha256;
        const line = `${entry.path} shrank while it was read; the copy is padded and may be inconsistent`;
        warnings.push(line);
        job.log('warn', line);
      }
      writer.onBytes?.(entry.stat.size);
    }
    files.push(record);
  }

  const metadataMembers: string[] = [];
  for (const [name, docs] of Object.entries(metadata)) {
    const member = `metadata/${name}.json`;
    await writer.addBuffer(member, Buffer.from(JSON.stringify(docs.length === 1 ? docs[0] : docs, null, 2)));
    metadataMembers.push(member);
  }
  const systemInfo = {
    hostname: hostname(), platform: platform(), node: process.version, lifeboat: VERSION,
    postgres: pgPlan && { serverVersion: pgPlan.serverVersion, pgDump: pgPlan.tools.version },
  };
  await writer.addBuffer('metadata/system_info.json', Buffer.from(JSON.stringify(systemInfo, null, 2)));
  metadataMembers.push('metadata/system_info.json');

  onMember('manifest.json');
  return writer.finish({
    format: 'lifeboat-bundle',
    formatVersion: 1,
    id: c.id,
    target: c.targetName,
    lifeboatVersion: VERSION,
    startedAt: c.started.toISOString(),
    finishedAt: c.now().toISOString(),
    host: { hostname: hostname(), platform: platform() },
    profile: appProfile,
    compression: { algorithm: target.compression.algorithm, level: target.compression.level },
    encryption: !target.encryption
      ? { kind: 'none' }
      : 'passphrase' in target.encryption
        ? { kind: 'passphrase' }
        : { kind: 'recipients', recipients: target.encryption.recipients },
    postgres: pgPlan && {
      serverVersion: pgPlan.serverVersion,
      pgDumpVersion: pgPlan.tools.version,
      globals: target.postgres?.globals ?? false,
      databases,
    },
    files,
    skipped,
    app: { profile: appProfile, items: appItems, migrations: migrations.length ? migrations : undefined, metadataMembers, info: Object.keys(appInfo).length ? appInfo : undefined },
    warnings,
  });
}

export function summarize(m: Manifest, durationMs: number): BackupSummary {
  const dbs = m.postgres?.databases ?? [];
  return {
    databases: dbs.length,
    tables: dbs.reduce((n, d) => n + d.tables.length, 0),
    rows: dbs.reduce((n, d) => n + d.tables.reduce((r, t) => r + (t.rows ?? 0), 0), 0),
    files: m.files.filter((f) => f.type === 'file').length,
    appItems: m.app.items.length,
    durationMs,
    warnings: m.warnings.length,
  };
}

/** A target's config as the catalog may keep it: no passwords, no passphrases. */
function publicTargetConfig(t: TargetConfig): unknown {
  return {
    ...t,
    postgres: t.postgres && { ...t.postgres, url: parsePgUrl(t.postgres.url).url },
    encryption: t.encryption && ('passphrase' in t.encryption ? { passphrase: '***' } : t.encryption),
  };
}
