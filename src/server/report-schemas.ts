// The shapes of the reports the API serves beside its objects (a target's health, a storage's
// space, the daemon's status, retention's decisions), as schemas: the OpenAPI document then
// describes them, the response check in tests holds answers to them, and the web UI's types are
// generated from them. Each is tied to the report's own type both ways at compile time, so
// neither can change without the other.
import { z } from '@hono/zod-openapi';
import type { RestoreRecord } from '../catalog/catalog.ts';
import type { DrillReport } from '../jobs/drill.ts';
import type { PruneOutcome } from '../jobs/prune.ts';
import type { RestorePlan } from '../jobs/restore-plan.ts';
import type { VerifyReport } from '../jobs/verify.ts';
import type { TargetHealth } from '../reports/health.ts';
import type { RetentionPreviewTarget } from '../reports/retention.ts';
import type { DaemonStatus } from '../reports/status.ts';
import type { StorageSummary } from '../reports/storage.ts';

/** True when A and B are the same type; anything else fails to compile where it is asserted. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const BackupStatusSchema = z.enum(['running', 'ok', 'degraded', 'failed', 'deleted']);

export const TargetHealthSchema = z.object({
  target: z.string(),
  lastBackup: z.object({ id: z.string(), status: BackupStatusSchema, startedAt: z.string(), finishedAt: z.string().nullable() }).nullable()
    .openapi({ description: 'the newest backup not deleted, whatever its status' }),
  lastSuccess: z.object({ id: z.string(), startedAt: z.string(), finishedAt: z.string().nullable() }).nullable()
    .openapi({ description: 'the newest backup that succeeded, even if retention deleted it since' }),
  nextRun: z.string().nullable().openapi({ description: 'the earliest next run of its schedules not paused' }),
  lastVerification: z.object({ backupId: z.string(), at: z.string(), level: z.enum(['quick', 'full']), ok: z.boolean() }).nullable(),
  successRate: z.object({ days: z.number(), succeeded: z.number(), failed: z.number(), finished: z.number(), rate: z.number().nullable() })
    .openapi({ description: 'backups started in the last `days` that finished; rate = succeeded / finished, null when none finished' }),
  backups: z.number(),
  totalBytes: z.number(),
  protected: z.number(),
}).openapi('TargetHealth');
const targetHealthMatches: Same<z.infer<typeof TargetHealthSchema>, TargetHealth> = true;

export const StorageUsageSchema = z.object({
  name: z.string(),
  type: z.string(),
  quotaBytes: z.number().nullable(),
  usedBytes: z.number().nullable().openapi({ description: 'as last measured; null (with checkedAt) before the first measurement' }),
  objects: z.number().nullable(),
  freeBytes: z.number().nullable(),
  totalBytes: z.number().nullable(),
  checkedAt: z.string().nullable(),
  catalog: z.object({ backups: z.number(), bytes: z.number() }).openapi({ description: 'backups with a good copy there, and their bytes' }),
}).openapi('StorageUsage');
const storageUsageMatches: Same<z.infer<typeof StorageUsageSchema>, StorageSummary> = true;

export const RunningJobSchema = z.object({
  id: z.string(), kind: z.string(), target: z.string().nullable(), backupId: z.string().nullable(), trigger: z.string(), startedAt: z.string(),
  progress: z.unknown().openapi({ description: 'the job\'s last progress event, as its event stream sends it' }),
}).openapi('RunningJob');

export const DaemonStatusSchema = z.object({
  daemon: z.object({ up: z.boolean(), holder: z.string().nullable(), heartbeatAt: z.string().nullable(), mode: z.string() })
    .openapi({ description: 'up: a daemon holds the scheduler lease and its heartbeat has not expired' }),
  schedules: z.array(z.object({
    id: z.number(), target: z.string(), spec: z.string(), cron: z.string(), timezone: z.string(), paused: z.boolean(),
    configKey: z.string().nullable(), cursorAt: z.string().nullable(), next: z.string().nullable(),
  })),
  running: z.array(RunningJobSchema),
  targets: z.array(z.object({
    target: z.string(),
    last: z.object({ id: z.string(), status: BackupStatusSchema, startedAt: z.string() }).optional(),
    lastSuccess: z.string().nullable(),
  })),
  storage: z.array(z.object({
    storage: z.string(), type: z.string(), usedBytes: z.number(), objects: z.number(), freeBytes: z.number().nullable(), totalBytes: z.number().nullable(), checkedAt: z.string(),
  })).openapi({ description: 'storage use as last measured' }),
}).openapi('DaemonStatus');
const daemonStatusMatches: Same<z.infer<typeof DaemonStatusSchema>, DaemonStatus> = true;

export const RetentionDecisionSchema = z.object({
  id: z.string(),
  action: z.enum(['keep', 'delete']),
  reasons: z.array(z.string()).openapi({ description: 'every reason that applies, e.g. "daily 2026-11-19", "older than 90 days"' }),
  target: z.string(),
  result: z.enum(['kept', 'deleted', 'pending', 'cancelled', 'would-delete', 'failed']),
  deleteAt: z.string().optional(),
  error: z.string().optional(),
}).openapi('RetentionDecision');
const decisionMatches: Same<z.infer<typeof RetentionDecisionSchema>, PruneOutcome> = true;

export const RetentionPreviewSchema = z.object({
  target: z.string(),
  policy: z.record(z.string(), z.unknown()).nullable().openapi({ description: '`retention:` of the target as lifeboat.yaml gives it; null without one (everything is kept)' }),
  timeZone: z.string(),
  warnings: z.array(z.string()),
  decisions: z.array(RetentionDecisionSchema).openapi({ description: 'every backup not deleted, newest first, with its decision and reasons' }),
}).openapi('RetentionPreview');
// The policy is the config's own type (a schema of its own in src/config/schema.ts): its keys
// are checked there, not restated here.
const previewMatches: Same<Omit<z.infer<typeof RetentionPreviewSchema>, 'policy'>, Omit<RetentionPreviewTarget, 'policy'>> = true;

export const RestorePlanSchema = z.object({
  backupId: z.string(),
  target: z.string(),
  storage: z.string().openapi({ description: 'the storage the bundle is read from' }),
  key: z.string(),
  databases: z.array(z.object({
    source: z.string().openapi({ description: 'its name in the bundle' }),
    server: z.string().openapi({ description: 'where it goes, password hidden' }),
    database: z.string(),
    action: z.enum(['create', 'replace']),
    tables: z.number(), rows: z.number(), dumpSize: z.number(),
  })),
  tables: z.array(z.object({
    table: z.string(), database: z.string(),
    action: z.enum(['replace', 'create', 'beside']).openapi({ description: 'replace: the live rows; create: the database lacks it; beside: renameTo' }),
    as: z.string(), rows: z.number(),
    closure: z.object({
      partitions: z.array(z.object({ table: z.string(), as: z.string(), rows: z.number() })),
      with: z.array(z.string()).openapi({ description: 'what comes with the table, counted by kind: "2 index", "1 trigger"' }),
      needs: z.array(z.object({ kind: z.string(), name: z.string(), action: z.enum(['use', 'create', 'differs', 'present']), detail: z.string().optional() })),
      foreignKeys: z.array(z.object({ name: z.string(), table: z.string(), references: z.string(), direction: z.enum(['incoming', 'outgoing']), handling: z.string() })),
      views: z.array(z.object({ name: z.string(), kind: z.enum(['view', 'materialized view']), handling: z.string() })),
    }).optional().openapi({ description: 'absent when the dump\'s table of contents could not be read' }),
  })),
  files: z.array(z.object({
    set: z.string(), path: z.string(), destination: z.string(), trusted: z.string(),
    type: z.enum(['file', 'directory', 'symlink']), action: z.enum(['create', 'overwrite']), size: z.number(),
    volume: z.string().optional(), mountpoint: z.string().optional(), via: z.enum(['mountpoint', 'helper']).optional(),
  })),
  checks: z.array(z.object({
    name: z.string(), ok: z.boolean(), detail: z.string(),
    overridable: z.boolean().optional().openapi({ description: 'a failed check that force may override (schema or version differences); others always stop' }),
  })),
  replacesData: z.boolean().openapi({ description: 'existing data is replaced: the run needs confirm: "RESTORE"' }),
  safetyBackup: z.boolean(),
  globals: z.boolean(),
}).openapi('RestorePlan');
const planMatches: Same<z.infer<typeof RestorePlanSchema>, RestorePlan> = true;

export const RestoreRecordSchema = z.object({
  id: z.string(), backupId: z.string(), requestedBy: z.string(), startedAt: z.string(), finishedAt: z.string().nullable(),
  status: z.enum(['running', 'succeeded', 'failed', 'cancelled']),
  plan: z.unknown().openapi({ description: 'the plan it ran (RestorePlan), as recorded then' }),
  report: z.unknown().openapi({ description: 'what it restored, as recorded when it ended; null while running' }),
  safetyBackupId: z.string().nullable(), error: z.string().nullable(),
}).openapi('RestoreRecord');
const restoreRecordMatches: Same<z.infer<typeof RestoreRecordSchema>, RestoreRecord> = true;

const VerifyCheckSchema = z.object({
  name: z.string(), ok: z.boolean(),
  warning: z.boolean().optional().openapi({ description: 'failed without failing the verification: a damaged copy when another passed' }),
  expected: z.string().optional(), actual: z.string().optional(),
}).openapi('VerifyCheck');

export const VerifyReportSchema = z.object({
  backupId: z.string(),
  level: z.enum(['quick', 'full']).openapi({ description: 'quick: every copy and checksum; full: a test restore besides' }),
  ok: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  checks: z.array(VerifyCheckSchema),
}).openapi('VerifyReport');
const verifyReportMatches: Same<z.infer<typeof VerifyReportSchema>, VerifyReport> = true;

export const DrillReportSchema = z.object({
  id: z.string(), backupId: z.string(), target: z.string(), ok: z.boolean(), startedAt: z.string(),
  rtoMs: z.number().nullable(),
  phases: z.object({
    fetch: z.number().optional(), unpack: z.number().optional(), checks: z.number().optional(),
    databases: z.number().optional(), files: z.number().optional(), validation: z.number().optional(),
  }).openapi('DrillPhases', { description: 'The RTO by part, in milliseconds: fetch, decrypt+unpack, restore.sh\'s checks, databases, files, the comparison with the manifest' }),
  bundleSize: z.number().nullable(),
  storage: z.string().nullable(),
  tools: z.record(z.string(), z.string()),
  restoreSh: z.object({ code: z.number().nullable(), summary: z.array(z.string()) }).nullable()
    .openapi({ description: 'restore.sh\'s exit status (0 whole, 1 partial, 2 refused) and summary lines' }),
  checks: z.array(VerifyCheckSchema).openapi({ description: 'the drill\'s comparison with the manifest, and what went wrong before it' }),
  error: z.string().optional().openapi({ description: 'why the drill stopped early, when it did' }),
}).openapi('DrillReport');
const drillReportMatches: Same<z.infer<typeof DrillReportSchema>, DrillReport> = true;

void [drillReportMatches, verifyReportMatches, targetHealthMatches, storageUsageMatches, daemonStatusMatches, decisionMatches, previewMatches, planMatches, restoreRecordMatches];
