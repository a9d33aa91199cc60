// The shapes these screens read, from the API's OpenAPI document (src/web/api/schema.gen.ts),
// and the two it leaves open: a target's `retention:` and `verification:` blocks as
// lifeboat.yaml takes them (their source of truth is src/config/schema.ts).
import type { Schema } from '../../api/client.ts';

export type TargetHealth = Schema<'TargetHealth'>;
export type StorageUsage = Schema<'StorageUsage'>;
export type RunningJob = Schema<'RunningJob'>;
export type DaemonStatus = Schema<'DaemonStatus'>;

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

/** One backup's fate under the policy now. */
export type RetentionDecision = Schema<'RetentionDecision'>;

export type RetentionPreview = Omit<Schema<'RetentionPreview'>, 'policy'> & { policy: RetentionPolicy | null };

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
