import path from 'node:path';
import { Readable } from 'node:stream';
import type { BackupSummary, Catalog } from '../catalog/catalog.ts';
import { bundleSuffix, encrypt } from '../bundle/codec.ts';
import { collectFiles, refuseUnreadable, type FileEntry } from '../bundle/file-sets.ts';
import { serializeManifest, type Manifest } from '../bundle/manifest.ts';
import { newBackupId, sidecarKey } from '../bundle/names.ts';
import { BundleWriter } from '../bundle/writer.ts';
import type { LoadedConfig } from '../config/load.ts';
import { SECRET_KEYS } from '../config/objects-secrets.ts';
import type { FileSetConfig, TargetConfig } from '../config/schema.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { parsePgUrl, redactUrl } from '../postgres/connection.ts';
import { getProfile } from '../profiles/index.ts';
import { openStorage, probeWritable } from '../storage/storage.ts';
import type { WriteContext } from './backup-context.ts';
import { ensureRoom, planPostgres } from './backup-preflight.ts';
import { produce } from './backup-produce.ts';
import { Job, type JobListener, type Trigger } from './job.ts';
import { copyBackup, type CopyOutcome } from './replicate.ts';
import { formatBytes } from '../util/format.ts';
import { createTempDir } from './resources.ts';

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

async function writeBackup(c: WriteContext): Promise<{ size: number; sha256: string; manifest: Manifest; summary: BackupSummary }> {
  const { target } = c;
  const sets = { ...(c.profile.fileSets?.(target, path.dirname(c.loaded.file)) ?? {}), ...target.files };
  if (!Object.values(sets).some((s) => s.volume)) return writeResolved(c, sets);
  // Docker volumes as file sets (docker/volumes.ts): their paths, and copies to remove after.
  const volumes = await (await import('../docker/volumes.ts')).resolveVolumeSets(sets, { stage: () => createTempDir(c.loaded, 'lifeboat-volume-'), log: (line) => c.job.log('info', line) });
  try {
    return await writeResolved(c, volumes.sets, (entries) => volumes.remap(entries));
  } finally {
    await volumes.cleanup();
  }
}

async function writeResolved(c: WriteContext, fileSets: Record<string, FileSetConfig>, remap?: (entries: FileEntry[]) => void): Promise<{ size: number; sha256: string; manifest: Manifest; summary: BackupSummary }> {
  const { job, target, storage } = c;
  const signal = job.signal;

  // ---- pre-flight: everything that can fail before a byte is written ----
  job.progress({ phase: 'checking', done: 0, unit: 'items' });
  const swept = await storage.sweep();
  if (swept) job.log('info', `removed ${swept} temporary file(s) left by an interrupted backup`);
  await probeWritable(storage);
  const pgPlan = target.postgres ? await planPostgres(target.postgres, job) : undefined;
  // The profile's own file sets (n8n: its config file, which holds the encryption key) come along.
  const { entries, unreadable } = await collectFiles(fileSets, path.dirname(c.loaded.file));
  remap?.(entries);
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

/** A target's config as the catalog may keep it: no passwords, passphrases or API keys. */
function publicTargetConfig(t: TargetConfig): unknown {
  const redact = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(redact);
    if (!v || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, SECRET_KEYS.has(k) && x !== undefined ? '***' : redact(x)]));
  };
  return redact({ ...t, postgres: t.postgres && { ...t.postgres, url: t.postgres.url && redactUrl(parsePgUrl(t.postgres.url).url) } });
}
