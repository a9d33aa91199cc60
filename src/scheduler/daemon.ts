import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { objectsVersion, refreshObjects } from '../config/objects-merge.ts';
import { runBackupFlow } from '../jobs/backup-flow.ts';
import { runPrune } from '../jobs/prune.ts';
import { reapLeaked, reapSummary } from '../jobs/resources.ts';
import { flushNotifications } from '../notify/deliver.ts';
import { checkStorage, type StorageHealth } from '../jobs/storage-health.ts';
import { formatBytes } from '../util/format.ts';
import { pendingVerifications, runVerify } from '../jobs/verify.ts';
import { runDrill } from '../jobs/drill.ts';
import { dueDrills, overdueDrills } from './drill-policy.ts';
import { configSchedules, Scheduler, type Clock } from './scheduler.ts';
import { pruneAuditLog, withAudit } from '../audit/audit.ts';
import { notePrune, noteVerification } from '../audit/details.ts';

export interface DaemonOptions {
  clock?: Clock;
  /** Time between ticks; default 15 s. */
  tickMs?: number;
  /** How long running backups may finish after a stop is asked; default 5 minutes. */
  graceMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** A scheduler wired to the real operations: backups (with check and retention) and prunes. */
export function makeScheduler(loaded: LoadedConfig, catalog: Catalog, options: DaemonOptions = {}): Scheduler {
  // Audit rows carry the time they are written, or the test clock's.
  const auditAt = (now: Date) => (options.clock ? now : undefined);
  return new Scheduler({
    loaded,
    catalog,
    clock: options.clock,
    log: options.log,
    runBackup: async (target, o) => {
      // The backup's own log lines go to the daemon's log, progress does not.
      const listener = { onLog: (level: 'info' | 'warn' | 'error', message: string) => options.log?.(level, `[${target}] ${message}`) };
      return withAudit(catalog, { actor: 'daemon', action: 'backup.start', object: target, at: auditAt(o.now) }, async (audit) => {
        const flow = await runBackupFlow(loaded, catalog, target, { trigger: o.trigger, signal: o.signal, now: options.clock ? o.now : undefined, listener });
        const pruned = flow.prune?.filter((x) => x.result === 'deleted').map((x) => x.id);
        Object.assign(audit.detail, { backup: flow.backup.id, trigger: o.trigger, pruned: pruned?.length ? pruned : undefined });
        return { backupId: flow.backup.id };
      });
    },
    runPrune: async (o) => {
      // The audit log's own retention rides on this hourly cycle, and on no API.
      pruneAuditLog(catalog, loaded.config.audit.retentionDays, o.now);
      await withAudit(catalog, { actor: 'daemon', action: 'prune.run', at: auditAt(o.now) }, async (audit) => {
        notePrune(audit, await runPrune(loaded, catalog, { trigger: 'schedule', signal: o.signal, now: options.clock ? o.now : undefined }));
        // An hour that changed nothing is not worth a row.
        audit.skip = Object.keys(audit.detail).length === 0;
      });
      // What each storage holds and has free, for `lifeboat status` and retention's space rules.
      for (const name of Object.keys(loaded.config.storages)) {
        const h = await checkStorage(loaded, catalog, name);
        if (!h.reachable) options.log?.('warn', `storage ${name} is not reachable: ${h.error}`);
        else lowSpace(loaded, catalog, name, h, o.now);
      }
    },
    notify: async (o) => {
      for (const d of await flushNotifications(loaded, catalog, { now: o.now, signal: o.signal, budgetMs: 60_000 })) {
        if (!d.ok) options.log?.('warn', `notification ${d.event} to ${d.channel} failed: ${d.error}${d.retryAt ? `; retrying at ${d.retryAt}` : '; giving up'}`);
      }
    },
    runVerifications: async (o) => {
      const due = new Set(pendingVerifications(loaded, catalog));
      for (const target of o.cronTargets) {
        const newest = catalog.newestGoodBackup(target);
        if (newest && newest.verificationLevel !== 'full') due.add(newest.id);
      }
      for (const id of due) {
        o.signal.throwIfAborted();
        const listener = { onLog: (level: 'info' | 'warn' | 'error', message: string) => options.log?.(level, `[verify ${id}] ${message}`) };
        const report = await withAudit(catalog, { actor: 'daemon', action: 'verify.run', object: id, at: auditAt(o.now) }, async (audit) => {
          const r = await runVerify(loaded, catalog, id, { signal: o.signal, listener, trigger: 'schedule' });
          noteVerification(audit, r);
          return r;
        });
        options.log?.(report.ok ? 'info' : 'error', `verification of ${id} ${report.ok ? 'passed' : 'FAILED'}`);
      }
    },
    runDrills: async (o) => {
      for (const target of dueDrills(loaded, catalog, o.now)) {
        o.signal.throwIfAborted();
        const newest = catalog.newestGoodBackup(target);
        if (!newest) {
          options.log?.('warn', `[drill ${target}] due, but the target has no good backup to drill`);
          continue;
        }
        const policy = loaded.config.targets[target]?.verification;
        const jobs = typeof policy === 'object' ? policy.drill?.jobs : undefined;
        const listener = { onLog: (level: 'info' | 'warn' | 'error', message: string) => options.log?.(level, `[drill ${newest.id}] ${message}`) };
        const report = await withAudit(catalog, { actor: 'daemon', action: 'drill.run', object: newest.id, at: auditAt(o.now) }, async (audit) => {
          const r = await runDrill(loaded, catalog, newest.id, { jobs, signal: o.signal, listener, trigger: 'schedule' });
          audit.detail.drill = { ok: r.ok, rtoMs: r.rtoMs };
          return r;
        });
        options.log?.(report.ok ? 'info' : 'error', `drill of ${newest.id} ${report.ok ? 'passed' : 'FAILED'}${report.rtoMs !== null ? ` (RTO ${Math.round(report.rtoMs / 1000)} s)` : ''}`);
      }
      for (const target of overdueDrills(loaded, catalog, o.now)) options.log?.('warn', `drill_overdue: ${target}`);
    },
  });
}

/**
 * `lifeboat serve`: ticks the scheduler until `signal` fires, then stops gracefully (no new
 * runs; running backups get `graceMs`, then are cancelled cleanly; the lease is released).
 */
export async function runDaemon(loaded: LoadedConfig, catalog: Catalog, signal: AbortSignal, options: DaemonOptions = {}): Promise<void> {
  catalog.recoverInterrupted();
  const scheduler = makeScheduler(loaded, catalog, options);
  let objects = objectsVersion(loaded);
  options.log?.('info', `lifeboat daemon started (${scheduler.holder}); scheduler mode ${loaded.config.daemon.schedulerMode}, concurrency ${loaded.config.daemon.concurrency}`);
  while (!signal.aborted) {
    try {
      // Objects created, changed or removed over the API (or by another process) since the last
      // tick; a target's schedules come and go with it.
      refreshObjects(loaded, catalog);
      if (objectsVersion(loaded) !== objects) {
        objects = objectsVersion(loaded);
        catalog.syncSchedules(configSchedules(loaded));
      }
      // Resources of killed processes; this daemon's own running jobs are alive and kept.
      const reaped = await reapLeaked(loaded, catalog);
      if (reaped.length) options.log?.('warn', reapSummary(reaped));
      await scheduler.tick();
    } catch (err) {
      options.log?.('error', `scheduler tick failed: ${(err as Error).message}`);
    }
    await sleep(options.tickMs ?? 15_000, undefined, { signal }).catch(() => undefined);
  }
  options.log?.('info', 'stopping: no new runs; waiting for running backups');
  await scheduler.stop(options.graceMs ?? 5 * 60_000);
  options.log?.('info', 'lifeboat daemon stopped');
}

/**
 * Raises `low_space` (a warning, at most once a day per storage) when a storage's free space is
 * under the highest `minFreeSpacePercent` of the targets on it, or 10% when none sets one. The
 * emergency, `critical_space`, is raised by the backup that would cross the critical threshold.
 */
function lowSpace(loaded: LoadedConfig, catalog: Catalog, storage: string, h: StorageHealth, now: Date): void {
  if (h.freeBytes === null || !h.totalBytes) return;
  const users = Object.entries(loaded.config.targets).filter(([, t]) => t.storage.primary === storage || t.storage.replicas.includes(storage));
  const threshold = Math.max(...users.map(([, t]) => t.retention?.minFreeSpacePercent ?? 0), users.length ? 0 : 10) || 10;
  const percent = (100 * h.freeBytes) / h.totalBytes;
  if (percent >= threshold) return;
  const key = `low-space:${storage}`;
  const last = catalog.getSetting<string>(key);
  if (last && now.getTime() - Date.parse(last) < 86_400_000) return;
  catalog.setSetting(key, now.toISOString());
  catalog.recordEvent({
    kind: 'low_space', severity: 'warning',
    message: `storage ${storage} has ${percent.toFixed(1)}% free (${formatBytes(h.freeBytes)} of ${formatBytes(h.totalBytes)}), under ${threshold}%`,
    data: { storage, freeBytes: h.freeBytes, totalBytes: h.totalBytes, thresholdPercent: threshold },
  });
}
