// The shapes the API answers as `unknown` in its OpenAPI document (health, storage use, the
// daemon's status, retention's policy and decisions), written down once for these screens.
// Their source of truth is on the server: src/reports/health.ts, storage.ts, status.ts,
// retention.ts and src/config/schema.ts.
import type { Schema } from '../../api/client.ts';

/** A target's health beside it in GET /api/v1/targets (src/reports/health.ts). */
export interface TargetHealth {
  target: string;
  lastBackup: { id: string; status: string; startedAt: string; finishedAt: string | null } | null;
  lastSuccess: { id: string; startedAt: string; finishedAt: string | null } | null;
  nextRun: string | null;
  lastVerification: { backupId: string; at: string; level: 'quick' | 'full'; ok: boolean } | null;
  successRate: { days: number; succeeded: number; failed: number; finished: number; rate: number | null };
  backups: number;
  totalBytes: number;
  protected: number;
}

/** A storage's space beside it in GET /api/v1/storages (src/reports/storage.ts). */
export interface StorageUsage {
  name: string;
  type: string;
  quotaBytes: number | null;
  usedBytes: number | null;
  objects: number | null;
  freeBytes: number | null;
  totalBytes: number | null;
  checkedAt: string | null;
  catalog: { backups: number; bytes: number };
}

export interface RunningJob {
  id: string;
  kind: string;
  target: string | null;
  backupId: string | null;
  trigger: string;
  startedAt: string;
  progress: unknown;
}

/** GET /api/v1/status (src/reports/status.ts), the parts these screens read. */
export interface DaemonStatus {
  daemon: { up: boolean; holder: string | null; heartbeatAt: string | null; mode: string };
  running: RunningJob[];
}

/** `retention:` of a target, as lifeboat.yaml takes it (src/config/schema.ts). */
export interface RetentionPolicy {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
  maxAgeDays?: number;
  maxTotalSize?: string | number;
  minFreeSpacePercent?: number;
  minKeep?: number;
  notifyBeforeDeleteHours?: number;
  timezone?: string;
  criticalFreeSpacePercent?: number;
  onCriticalSpace?: 'stop-and-alert' | 'delete-oldest';
}

/** One backup's fate under the policy now (src/jobs/prune.ts PruneOutcome). */
export interface RetentionDecision {
  id: string;
  action: 'keep' | 'delete';
  reasons: string[];
  target: string;
  result: 'kept' | 'deleted' | 'pending' | 'cancelled' | 'would-delete' | 'failed';
  deleteAt?: string;
}

export interface RetentionPreview {
  target: string;
  policy: RetentionPolicy | null;
  timeZone: string;
  warnings: string[];
  decisions: RetentionDecision[];
}

/** A user's SQL assertion run against the restored copy. */
export interface UserCheck {
  name: string;
  sql: string;
  expect: string | number | boolean | null;
  database?: string;
}

/** `verification:` of a target: `manual`, or when to verify and what to check. */
export type VerificationPolicy =
  | 'manual'
  | { every?: number; cron?: string; percentage?: number; quickAfterEachBackup?: boolean; checks?: UserCheck[]; binDir?: string };

export type ConfigObject = Schema<'ConfigObject'>;
export type Job = Schema<'Job'>;
export type BackupRow = Schema<'BackupRow'>;
export type EventRecord = Schema<'Event'>;
export type Schedule = Schema<'Schedule'>;
