import { z } from '@hono/zod-openapi';

/** The shapes the API answers with. Each is what the CLI's --json prints for the same object. */

export const LocationSchema = z.object({
  storage: z.string(),
  key: z.string(),
  status: z.enum(['pending', 'ok', 'failed', 'missing']),
  size: z.number().nullable(),
  sha256: z.string().nullable(),
  error: z.string().nullable(),
}).openapi('Location');

/** What a complete backup holds and took, in counts (BackupSummary, catalog/backups.ts). */
export const BackupSummarySchema = z.object({ databases: z.number(), tables: z.number(), rows: z.number(), files: z.number(), appItems: z.number(), durationMs: z.number(), warnings: z.number() }).openapi('BackupSummary');

export const BackupSchema = z.object({
  id: z.string().openapi({ example: 'app-20261207T020000Z' }),
  target: z.string(),
  status: z.enum(['running', 'ok', 'degraded', 'failed', 'deleted']),
  trigger: z.string(),
  jobId: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  size: z.number().nullable(),
  compression: z.string().nullable(),
  encrypted: z.boolean(),
  sha256: z.string().nullable(),
  bundleKey: z.string().nullable(),
  error: z.string().nullable(),
  verificationStatus: z.enum(['unverified', 'passed', 'failed']),
  verifiedAt: z.string().nullable(),
  verificationLevel: z.enum(['quick', 'full']).nullable(),
  protected: z.boolean(),
  protectedUntil: z.string().nullable(),
  tags: z.array(z.string()),
  deletionStatus: z.enum(['none', 'pending', 'deleted']),
  deleteAfter: z.string().nullable(),
  summary: BackupSummarySchema.nullable(),
  locations: z.array(LocationSchema),
  trust: z.enum(['trusted', 'untrusted']),
  trustReason: z.string().nullable(),
}).openapi('Backup');

export const JobSchema = z.object({
  id: z.string(),
  kind: z.string(),
  target: z.string().nullable(),
  backupId: z.string().nullable(),
  trigger: z.string(),
  state: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
  progress: z.unknown(),
  log: z.array(z.object({ seq: z.number(), at: z.string(), level: z.string(), message: z.string() })).optional(),
  outcome: z.object({ state: z.string(), result: z.unknown().optional(), error: z.unknown().optional() }).nullable().optional(),
}).openapi('Job');

/** A path parameter naming a backup: its id or a unique prefix of it. */
export const BackupParam = z.object({ id: z.string().min(1).max(200).openapi({ param: { name: 'id', in: 'path' }, example: 'app-20261207T020000Z' }) });
export const NameParam = z.object({ name: z.string().min(1).max(200).openapi({ param: { name: 'name', in: 'path' } }) });
export const IdParam = z.object({ id: z.string().min(1).max(200).openapi({ param: { name: 'id', in: 'path' } }) });
