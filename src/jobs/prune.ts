import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { decideRetention, parseDuration, type Decision, type RetentionBackup, type RetentionRules } from '../retention/policy.ts';
import { openStorage } from '../storage/storage.ts';
import { parseSize } from '../util/format.ts';
import { timeSlicer } from '../util/time-slice.ts';
import { sidecarKey } from '../bundle/names.ts';
import { Job, type JobListener, type Trigger } from './job.ts';

/** What pruning did (or, in a dry run, would do) to one backup, and why. */
export interface PruneOutcome extends Decision {
  target: string;
  /**
   * kept; deleted now; pending (deletion announced, at `deleteAt`); cancelled (a pending deletion
   * the rules no longer want); would-delete (dry run); failed (could not delete: `error`).
   */
  result: 'kept' | 'deleted' | 'pending' | 'cancelled' | 'would-delete' | 'failed';
  deleteAt?: string;
  error?: string;
}

export interface PruneOptions {
  target?: string;
  dryRun?: boolean;
  now?: Date;
  trigger?: Trigger;
  signal?: AbortSignal;
  listener?: JobListener;
  /**
   * When a restore (or another prune or delete) holds a target's `retention:` lock: wait for
   * it to finish, saying once what it waits for (`lifeboat prune`), or fail at once with
   * E_LOCKED (the default: the prune after a backup and the daemon's try again at their next run).
   */
  wait?: boolean;
}

/** The zone a target's periods are counted in: retention's, the schedule's, else the system's. */
export function targetTimeZone(target: TargetConfig): string {
  return target.retention?.timezone ?? target.schedule?.find((s) => s.timezone)?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** A target's rules in the policy's units. */
export function retentionRules(target: TargetConfig): RetentionRules | undefined {
  const r = target.retention;
  if (!r) return undefined;
  return {
    keepLast: r.keepLast, keepHourly: r.keepHourly, keepDaily: r.keepDaily, keepWeekly: r.keepWeekly, keepMonthly: r.keepMonthly, keepYearly: r.keepYearly,
    keepWithinMs: r.keepWithin === undefined ? undefined : parseDuration(r.keepWithin),
    maxAgeDays: r.maxAgeDays,
    maxTotalSize: r.maxTotalSize === undefined ? undefined : parseSize(r.maxTotalSize),
    minFreeSpacePercent: r.minFreeSpacePercent,
    minKeep: r.minKeep,
  };
}

const vouched = (b: BackupRecord) => b.trust !== 'untrusted';

function policyInput(b: BackupRecord, now: Date): RetentionBackup {
  const until = b.protectedUntil ? new Date(b.protectedUntil) : null;
  return {
    id: b.id,
    status: b.status === 'deleted' ? 'failed' : b.status,
    trigger: b.trigger,
    startedAt: new Date(b.startedAt),
    size: b.size,
    verificationStatus: b.verificationStatus,
    protected: b.protected && (until === null || until > now),
    protectedUntil: until,
  };
}

/**
 * Applies each configured target's retention rules (src/retention/policy.ts). A deletion is
 * announced first when the target sets `notifyBeforeDeleteHours`: the backup is marked pending
 * with its time, a `pending_deletion` event is recorded, and a later prune deletes it once the
 * time has come and the rules still want it gone. Backups of targets no longer in the config are
 * left alone. Takes each target's `retention:` lock, so two prunes never race.
 */
export async function runPrune(loaded: LoadedConfig, catalog: Catalog, options: PruneOptions = {}): Promise<PruneOutcome[]> {
  const signal = options.signal ?? new AbortController().signal;
  const names = options.target ? [options.target] : Object.keys(loaded.config.targets);
  if (options.target && !loaded.config.targets[options.target]) {
    throw new LifeboatError('E_NOT_FOUND', `no target named "${options.target}" in ${loaded.file}`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ')}` });
  }
  catalog.recoverInterrupted();
  return Job.run(catalog, { kind: options.dryRun ? 'prune-plan' : 'prune', target: options.target, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, async (job) => {
    const outcomes: PruneOutcome[] = [];
    for (const name of names) {
      // Planning a target reads and weighs all its backups without awaiting anything: on the
      // daemon's thread, beside the API, the next target waits for the requests that came meanwhile.
      await new Promise<void>((resolve) => setImmediate(resolve));
      signal.throwIfAborted();
      const lock = `retention:${name}`;
      if (!options.dryRun) await acquireLock(catalog, lock, job, `pruning target "${name}"`, options.wait === true);
      try {
        outcomes.push(...(await pruneTarget(loaded, catalog, name, job, options)));
      } finally {
        if (!options.dryRun) catalog.releaseLock(lock, job.id);
      }
    }
    const deleted = outcomes.filter((o) => o.result === 'deleted').length;
    const pending = outcomes.filter((o) => o.result === 'pending').length;
    const failed = outcomes.filter((o) => o.result === 'failed').length;
    job.log(failed ? 'warn' : 'info', options.dryRun
      ? `dry run: ${outcomes.filter((o) => o.result === 'would-delete').length} backup(s) would be deleted`
      : `pruned: ${deleted} deleted, ${pending} pending deletion, ${failed} could not be deleted`);
    return outcomes;
  });
}

/** How often a waiting prune tries the lock again: a restore takes minutes, a second is no load. */
const LOCK_POLL_MS = 1000;

async function acquireLock(catalog: Catalog, lock: string, job: Job, what: string, wait: boolean): Promise<void> {
  let said = false;
  for (;;) {
    try {
      catalog.acquireLock(lock, job.id, what);
      return;
    } catch (err) {
      if (!wait || asLifeboatError(err).code !== 'E_LOCKED') throw err;
      if (!said) {
        said = true;
        const h = catalog.lockHolder(lock);
        const holder = h ? `${h.kind ? `a ${h.kind.replace(/-/g, ' ')} job` : 'another job'} (job ${h.jobId}, pid ${h.pid} on ${h.host}, since ${h.since})` : 'another job';
        job.log('info', `waiting for ${holder} to release the ${lock} lock before ${what} (Ctrl-C stops; --no-wait fails at once instead)`);
      }
      await sleep(LOCK_POLL_MS, undefined, { signal: job.signal });
    }
  }
}

/**
 * What retention decides for one target at `now`, changing nothing: the decisions for the
 * backups it counts, and the untrusted ones it leaves alone (as outcomes). The prune applies it;
 * `lifeboat prune --dry-run` and the API's preview (reports/retention.ts) show it.
 */
export async function planPrune(loaded: LoadedConfig, catalog: Catalog, name: string, now: Date, warn: (message: string) => void): Promise<{ backups: BackupRecord[]; decisions: Decision[]; untrusted: PruneOutcome[] }> {
  const target = loaded.config.targets[name]!;
  const rules = retentionRules(target);
  const backups = catalog.listBackups(name);
  let space: { freeBytes: number; totalBytes: number } | undefined;
  if (rules?.minFreeSpacePercent !== undefined) {
    const primary = target.storage.primary;
    const storage = await openStorage(primary, loaded.config.storages[primary]!);
    try {
      const s = await storage.space();
      if (s) space = { freeBytes: s.free, totalBytes: s.total };
      else warn(`storage ${primary} reports no free space: minFreeSpacePercent cannot apply (set quota: on it)`);
    } finally {
      await storage.close();
    }
  }
  // An untrusted backup (no key of this installation vouches for it) is neither counted nor
  // deleted: forged "newest" bundles planted in storage must not push real ones out of keepLast.
  const decisions = decideRetention(backups.filter(vouched).map((b) => policyInput(b, now)), rules, { now, timeZone: targetTimeZone(target), space });
  const untrusted: PruneOutcome[] = backups.filter((b) => !vouched(b) && b.status !== 'deleted').map((b) => ({
    id: b.id, action: 'keep', target: name, result: 'kept',
    reasons: [`untrusted (${b.trustReason ?? 'no key of this installation vouches for it'}): retention neither counts nor deletes it; check it, then \`lifeboat delete ${b.id}\` or import its key`],
  }));
  return { backups, decisions, untrusted };
}

async function pruneTarget(loaded: LoadedConfig, catalog: Catalog, name: string, job: Job, options: PruneOptions): Promise<PruneOutcome[]> {
  const target = loaded.config.targets[name]!;
  const now = options.now ?? new Date();
  const { backups, decisions, untrusted } = await planPrune(loaded, catalog, name, now, (message) => job.log('warn', message));
  const notice = target.retention?.notifyBeforeDeleteHours ?? 0;
  const outcomes: PruneOutcome[] = [...untrusted];
  // Deleting failed records touches no storage, so hundreds of them would never yield.
  const slice = timeSlicer();
  const byId = new Map(backups.map((b) => [b.id, b]));
  for (const d of decisions) {
    await slice();
    const b = byId.get(d.id)!;
    const base = { ...d, target: name };
    if (d.action === 'keep') {
      if (b.deletionStatus === 'pending' && !options.dryRun) {
        catalog.cancelDeletion(b.id);
        job.log('info', `${b.id}: pending deletion cancelled, kept: ${d.reasons.join('; ')}`);
        outcomes.push({ ...base, result: 'cancelled' });
      } else {
        outcomes.push({ ...base, result: 'kept' });
      }
      continue;
    }
    if (options.dryRun) {
      outcomes.push({ ...base, result: 'would-delete', deleteAt: b.deleteAfter ?? undefined });
      continue;
    }
    // Announce first, when asked, unless it is only a failed record (it holds no data).
    const announce = notice > 0 && b.status !== 'failed';
    if (announce && b.deletionStatus !== 'pending') {
      const at = new Date(now.getTime() + notice * 3_600_000);
      catalog.scheduleDeletion(b.id, at);
      catalog.recordEvent({
        kind: 'pending_deletion', severity: 'warning', target: name, backupId: b.id, jobId: job.id,
        message: `backup ${b.id} will be deleted at ${at.toISOString()} (${d.reasons.join('; ')}); protect it or run \`lifeboat cancel-deletion ${b.id}\` to keep it`,
        data: { deleteAt: at.toISOString(), reasons: d.reasons },
      });
      job.log('info', `${b.id}: deletion announced for ${at.toISOString()}: ${d.reasons.join('; ')}`);
      outcomes.push({ ...base, result: 'pending', deleteAt: at.toISOString() });
      continue;
    }
    if (announce && b.deleteAfter && new Date(b.deleteAfter) > now) {
      outcomes.push({ ...base, result: 'pending', deleteAt: b.deleteAfter });
      continue;
    }
    try {
      await removeBackup(loaded, catalog, b, job);
      job.log('info', `${b.id}: deleted: ${d.reasons.join('; ')}`);
      outcomes.push({ ...base, result: 'deleted' });
    } catch (err) {
      const e = asLifeboatError(err);
      if (e.code === 'E_ABORTED') throw e;
      job.log('warn', `${b.id}: could not be deleted: ${e.message}`);
      outcomes.push({ ...base, result: 'failed', error: e.message });
    }
  }
  return outcomes;
}

/**
 * Removes a backup's bundle and sidecar from every storage that holds a copy, then marks the
 * record deleted. A storage that cannot be reached leaves the record as it was (and says which),
 * so the next prune or delete finishes the job; nothing is marked deleted while a copy remains.
 */
async function removeBackup(loaded: LoadedConfig, catalog: Catalog, b: BackupRecord, job: Job): Promise<void> {
  const problems: string[] = [];
  for (const l of b.locations) {
    const config = loaded.config.storages[l.storage];
    if (!config) {
      problems.push(`storage ${l.storage} is not in ${loaded.file}`);
      continue;
    }
    const storage = await openStorage(l.storage, config);
    try {
      await storage.delete(l.key);
      await storage.delete(sidecarKey(l.key));
      // Recorded at once: if another copy cannot be removed now, the record says which are gone.
      catalog.setLocation(b.id, { ...l, status: 'missing', error: 'deleted' });
      job.log('info', `removed ${l.key} from ${l.storage}`);
    } catch (err) {
      problems.push(`${l.storage}: ${asLifeboatError(err).message}`);
    } finally {
      await storage.close();
    }
  }
  if (problems.length) {
    throw new LifeboatError('E_STORAGE_WRITE', `backup ${b.id} is still stored: ${problems.join('; ')}`, { hint: 'fix the storage and run the deletion again; the catalog keeps the record until every copy is gone' });
  }
  catalog.markDeleted(b.id);
  catalog.recordEvent({ kind: 'deleted', severity: 'info', target: b.target, backupId: b.id, jobId: job.id, message: `backup ${b.id} was deleted from ${b.locations.map((l) => l.storage).join(', ') || 'the catalog'}` });
}

/**
 * `lifeboat delete <id>`: deletes one backup at once, from every storage. A protected backup
 * must be unprotected first.
 */
export async function runDelete(loaded: LoadedConfig, catalog: Catalog, prefix: string, options: { signal?: AbortSignal; listener?: JobListener } = {}): Promise<BackupRecord> {
  const backup = catalog.resolveBackup(prefix);
  if (backup.status === 'deleted') throw new LifeboatError('E_CONFLICT', `backup ${backup.id} is already deleted`);
  if (backup.status === 'running') throw new LifeboatError('E_CONFLICT', `backup ${backup.id} is still running`);
  const until = backup.protectedUntil ? new Date(backup.protectedUntil) : null;
  if (backup.protected && (until === null || until > new Date())) {
    throw new LifeboatError('E_CONFLICT', `backup ${backup.id} is protected${until ? ` until ${until.toISOString()}` : ''}`, { hint: `run \`lifeboat unprotect ${backup.id}\` first` });
  }
  const signal = options.signal ?? new AbortController().signal;
  return Job.run(catalog, { kind: 'delete', target: backup.target, backupId: backup.id, trigger: 'manual' }, options.listener ?? {}, signal, async (job) => {
    const lock = `retention:${backup.target}`;
    catalog.acquireLock(lock, job.id, `deleting backup ${backup.id}`);
    try {
      await removeBackup(loaded, catalog, backup, job);
      job.log('info', `deleted backup ${backup.id}`);
      return catalog.getBackup(backup.id)!;
    } finally {
      catalog.releaseLock(lock, job.id);
    }
  });
}

/**
 * Emergency room for a backup about to start (`onCriticalSpace: delete-oldest`): deletes at once,
 * without notice, the oldest backups of the target that retention's floors allow, until `space`
 * (the storage's free space once the new backup is written) would be `percent` free. Returns
 * the bytes freed.
 */
export async function freeSpaceFor(
  c: { loaded: LoadedConfig; catalog: Catalog; targetName: string; job: Job },
  space: { freeBytes: number; totalBytes: number },
  percent: number,
): Promise<number> {
  const { loaded, catalog, targetName, job } = c;
  const target = loaded.config.targets[targetName]!;
  const now = new Date();
  const backups = catalog.listBackups(targetName);
  const rules = { ...(retentionRules(target) ?? {}), minFreeSpacePercent: percent };
  const decisions = decideRetention(backups.filter(vouched).map((b) => policyInput(b, now)), rules, { now, timeZone: targetTimeZone(target), space });
  const lock = `retention:${targetName}`;
  try {
    catalog.acquireLock(lock, job.id, `freeing space for a backup of "${targetName}"`);
  } catch (err) {
    job.log('warn', `cannot free space now: ${asLifeboatError(err).message}`);
    return 0;
  }
  let freed = 0;
  try {
    for (const d of [...decisions].reverse()) {
      const b = backups.find((x) => x.id === d.id)!;
      if (d.action !== 'delete' || (b.status !== 'ok' && b.status !== 'degraded')) continue;
      try {
        await removeBackup(loaded, catalog, b, job);
        freed += b.size ?? 0;
        job.log('warn', `${b.id}: deleted to make room: ${d.reasons.join('; ')}`);
      } catch (err) {
        job.log('warn', `${b.id}: could not be deleted: ${asLifeboatError(err).message}`);
      }
    }
  } finally {
    catalog.releaseLock(lock, job.id);
  }
  return freed;
}
