import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { restorable, type BackupRecord, type Catalog, type LocationRecord } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { openStorage, retrying, type StorageDriver } from '../storage/storage.ts';
import { formatBytes } from '../util/format.ts';
import { sidecarKey } from '../bundle/names.ts';
import { Copies } from './copies.ts';
import { Job, type JobListener } from './job.ts';

export interface CopyOutcome {
  backupId: string;
  storage: string;
  status: 'ok' | 'failed';
  /** Where the bytes came from. */
  from?: string;
  bytes?: number;
  error?: string;
}

/**
 * Copies one backup's bundle and sidecar to `storageName`, streamed from the best readable
 * copy (never re-dumped). The bytes sent are hashed and must match the bundle's recorded
 * sha256 and size; the stored size is checked after. Transient failures retry the whole copy
 * with backoff. The outcome is recorded as that storage's location; a failure also raises a
 * `backup_degraded` event. Never throws except on abort.
 */
export async function copyBackup(loaded: LoadedConfig, catalog: Catalog, backup: BackupRecord, storageName: string, job: Job): Promise<CopyOutcome> {
  const key = backup.bundleKey!;
  const config = loaded.config.storages[storageName];
  const location: LocationRecord = { storage: storageName, key, status: 'pending', size: backup.size, sha256: backup.sha256, error: null };
  catalog.setLocation(backup.id, location);
  let sources: Copies | undefined;
  let dest: StorageDriver | undefined;
  try {
    if (!config) throw new LifeboatError('E_CONFIG', `storage "${storageName}" is not in ${loaded.file}`);
    dest = await openStorage(storageName, config);
    const swept = await dest.sweep();
    if (swept) job.log('info', `removed ${swept} temporary file(s) an interrupted copy left on ${storageName}`);
    sources = await Copies.open(loaded, catalog, backup, (level, message) => job.log(level, message), { exclude: storageName });
    const from = sources.current;
    job.log('info', `copying ${backup.id} from ${from.storage.name} to ${storageName}`);
    const bytes = await retrying(() => copyOnce(backup, from.storage, dest!, key, job), config.retry, {
      signal: job.signal,
      onRetry: (err, attempt) => job.log('warn', `copy to ${storageName} failed (attempt ${attempt}): ${asLifeboatError(err).message}; retrying`),
    });
    if (!(await dest.stat(sidecarKey(key))) && (await from.storage.stat(sidecarKey(key)))) {
      await dest.put(sidecarKey(key), await from.storage.get(sidecarKey(key), { signal: job.signal }), { signal: job.signal });
    }
    catalog.setLocation(backup.id, { ...location, status: 'ok', size: bytes });
    job.log('info', `copied ${backup.id} to ${storageName}: ${formatBytes(bytes)}, sha256 checked`);
    return { backupId: backup.id, storage: storageName, status: 'ok', from: from.storage.name, bytes };
  } catch (err) {
    const e = asLifeboatError(err);
    catalog.setLocation(backup.id, { ...location, status: 'failed', error: e.message });
    if (e.code === 'E_ABORTED') throw e;
    job.log('warn', `copy of ${backup.id} to ${storageName} failed: ${e.message}`);
    catalog.recordEvent({
      kind: 'backup_degraded', severity: 'warning', target: backup.target, backupId: backup.id, jobId: job.id,
      message: `backup ${backup.id} could not be copied to storage ${storageName}: ${e.message}`, data: { storage: storageName },
    });
    return { backupId: backup.id, storage: storageName, status: 'failed', error: e.message };
  } finally {
    await sources?.close();
    await dest?.close();
  }
}

/** One attempt: a copy already there is kept when its bytes hash right, replaced otherwise. */
async function copyOnce(backup: BackupRecord, from: StorageDriver, to: StorageDriver, key: string, job: Job): Promise<number> {
  const existing = await to.stat(key);
  if (existing) {
    const { sha256, size } = await hashOf(await to.get(key, { signal: job.signal }));
    if (sha256 === backup.sha256 && size === backup.size) return size;
    job.log('warn', `${to.name} holds a different ${key} (${formatBytes(size)}); replacing it`);
    await to.delete(key);
  }
  const hash = createHash('sha256');
  let sent = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      sent += chunk.length;
      job.progress({ phase: `copying to ${to.name}`, current: key, done: sent, total: backup.size ?? undefined, unit: 'bytes' });
      done(null, chunk);
    },
  });
  const source = await from.get(key, { signal: job.signal });
  source.on('error', (err) => meter.destroy(err));
  const { size } = await to.put(key, source.pipe(meter), { signal: job.signal });
  const sha256 = hash.digest('hex');
  if ((backup.sha256 && sha256 !== backup.sha256) || (backup.size !== null && sent !== backup.size)) {
    await to.delete(key);
    throw new LifeboatError('E_BUNDLE_CORRUPT', `the copy on ${from.name} does not match the backup's checksum (${formatBytes(sent)}, sha256 ${sha256.slice(0, 12)}...)`);
  }
  const stored = await to.stat(key);
  if (!stored || stored.size !== sent || size !== sent) {
    await to.delete(key);
    throw new LifeboatError('E_STORAGE_WRITE', `${to.name} holds ${stored?.size ?? 0} bytes of ${key} after sending ${sent}`);
  }
  return sent;
}

async function hashOf(stream: NodeJS.ReadableStream): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** The storages a backup should be on: its target's primary and replicas, as configured now. */
export function wantedStorages(loaded: LoadedConfig, backup: BackupRecord): string[] {
  const ref = loaded.config.targets[backup.target]?.storage;
  return ref ? [ref.primary, ...ref.replicas] : [];
}

export interface ReplicateReport {
  copies: CopyOutcome[];
  /** Backups with no usable copy left to copy from. */
  lost: string[];
}

/**
 * `lifeboat replicate --pending`: every restorable backup gets a copy on each storage its
 * target names (primary and replicas) that lacks a good one: failed copies are retried,
 * replicas added to the config later are filled, a missing primary is repaired from a replica.
 */
export async function runReplicatePending(
  loaded: LoadedConfig,
  catalog: Catalog,
  options: { target?: string; signal?: AbortSignal; listener?: JobListener } = {},
): Promise<ReplicateReport> {
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  if (options.target && !loaded.config.targets[options.target]) {
    throw new LifeboatError('E_NOT_FOUND', `no target named "${options.target}" in ${loaded.file}`);
  }
  return Job.run(catalog, { kind: 'replicate', target: options.target, trigger: 'manual' }, options.listener ?? {}, signal, async (job) => {
    catalog.acquireLock('replicate', job.id, 'a replication run');
    try {
      const report: ReplicateReport = { copies: [], lost: [] };
      const backups = catalog.listBackups(options.target).filter((b) => b.status === 'ok' || b.status === 'degraded').reverse();
      for (const backup of backups) {
        const missing = wantedStorages(loaded, backup).filter((s) => !backup.locations.some((l) => l.storage === s && l.status === 'ok'));
        if (missing.length === 0) continue;
        if (!restorable(backup)) {
          report.lost.push(backup.id);
          job.log('warn', `backup ${backup.id} has no good copy left to replicate from`);
          continue;
        }
        for (const storage of missing) {
          signal.throwIfAborted();
          report.copies.push(await copyBackup(loaded, catalog, catalog.getBackup(backup.id)!, storage, job));
        }
      }
      const failed = report.copies.filter((c) => c.status === 'failed').length;
      job.log(failed ? 'warn' : 'info', `replication: ${report.copies.length - failed} copied, ${failed} failed`);
      return report;
    } finally {
      catalog.releaseLock('replicate', job.id);
    }
  });
}
