import type { Catalog } from '../catalog/catalog.ts';
import type { BackupStatus } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { configSchedules, Scheduler } from '../scheduler/scheduler.ts';

/** The window of `successRate`. */
export const SUCCESS_WINDOW_DAYS = 30;

/** How one configured target is doing: what `GET /api/v1/targets` shows beside each. */
export interface TargetHealth {
  target: string;
  /** The newest backup not deleted, whatever its status (a running one included). */
  lastBackup: { id: string; status: BackupStatus; startedAt: string; finishedAt: string | null } | null;
  /** The newest backup that succeeded (ok or degraded), even if retention deleted it since. */
  lastSuccess: { id: string; startedAt: string; finishedAt: string | null } | null;
  /** The earliest next run of the target's schedules that are not paused; null without one. */
  nextRun: string | null;
  /** The newest verification of any of its backups. */
  lastVerification: { backupId: string; at: string; level: 'quick' | 'full'; ok: boolean } | null;
  /**
   * Backups started in the last 30 days that finished: `succeeded` (ok or degraded) / `finished`
   * (succeeded + failed); running ones are left out. `rate` is null when none finished.
   */
  successRate: { days: number; succeeded: number; failed: number; finished: number; rate: number | null };
  /** Backups held (not deleted), the bytes of the complete ones, and how many are protected now. */
  backups: number;
  totalBytes: number;
  protected: number;
}

/**
 * The health of every target in the config, in the config's order. Syncs the catalog's
 * schedules with the config first, as `lifeboat status` does, so a fresh install shows its next
 * runs before the daemon ever started.
 */
export function targetHealth(loaded: LoadedConfig, catalog: Catalog, now: Date = new Date()): TargetHealth[] {
  catalog.syncSchedules(configSchedules(loaded));
  const since = new Date(now.getTime() - SUCCESS_WINDOW_DAYS * 86_400_000);
  const totals = catalog.targetTotals(now.toISOString(), since.toISOString());
  const upcoming = Scheduler.upcoming(catalog, now);
  return Object.keys(loaded.config.targets).map((target) => {
    const t = totals.get(target) ?? { backups: 0, bytes: 0, protected: 0, succeeded: 0, failed: 0 };
    const last = catalog.newestBackup(target, 'any');
    const ok = catalog.newestBackup(target, 'succeeded');
    const v = catalog.newestVerification(target);
    const next = upcoming.filter((u) => u.schedule.target === target && u.next).map((u) => u.next!.getTime());
    const finished = t.succeeded + t.failed;
    return {
      target,
      lastBackup: last ? { id: last.id, status: last.status, startedAt: last.startedAt, finishedAt: last.finishedAt } : null,
      lastSuccess: ok ? { id: ok.id, startedAt: ok.startedAt, finishedAt: ok.finishedAt } : null,
      nextRun: next.length ? new Date(Math.min(...next)).toISOString() : null,
      lastVerification: v ? { backupId: v.backupId, at: v.finishedAt, level: v.level, ok: v.ok } : null,
      successRate: { days: SUCCESS_WINDOW_DAYS, succeeded: t.succeeded, failed: t.failed, finished, rate: finished ? t.succeeded / finished : null },
      backups: t.backups,
      totalBytes: t.bytes,
      protected: t.protected,
    };
  });
}
