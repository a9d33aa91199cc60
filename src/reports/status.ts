import type { Catalog, ScheduleRecord, StorageUsage } from '../catalog/catalog.ts';
import type { BackupStatus } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { configSchedules, LEASE, Scheduler } from '../scheduler/scheduler.ts';

/** What `lifeboat status` prints and `GET /api/v1/daemon` answers. */
export interface DaemonStatus {
  daemon: {
    /** A daemon holds the scheduler lease and its heartbeat has not expired. */
    up: boolean;
    holder: string | null;
    heartbeatAt: string | null;
    mode: string;
  };
  /** Every schedule with its next run (null: paused). */
  schedules: (ScheduleRecord & { next: string | null })[];
  running: ReturnType<Catalog['runningJobs']>;
  /** Per configured target: its newest backup and when it last succeeded. */
  targets: { target: string; last?: { id: string; status: BackupStatus; startedAt: string }; lastSuccess: string | null }[];
  /** Storage use as last measured. */
  storage: StorageUsage[];
}

/** The daemon, next runs, running jobs, the last result per target, storage use, at `now`. */
export function daemonStatus(loaded: LoadedConfig, catalog: Catalog, now: Date = new Date()): DaemonStatus {
  catalog.syncSchedules(configSchedules(loaded));
  const lease = catalog.getLease(LEASE);
  const up = lease !== undefined && new Date(lease.expiresAt) > now;
  const targets = Object.keys(loaded.config.targets).map((name) => {
    const last = catalog.newestBackup(name, 'any');
    const lastOk = catalog.newestBackup(name, 'succeeded');
    return { target: name, last: last && { id: last.id, status: last.status, startedAt: last.startedAt }, lastSuccess: lastOk?.startedAt ?? null };
  });
  return {
    daemon: { up, holder: lease?.holder ?? null, heartbeatAt: lease?.heartbeatAt ?? null, mode: loaded.config.daemon.schedulerMode },
    schedules: Scheduler.upcoming(catalog, now).map((u) => ({ ...u.schedule, next: u.next?.toISOString() ?? null })),
    running: catalog.runningJobs(),
    targets,
    storage: catalog.storageUsage(),
  };
}
