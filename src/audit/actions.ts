/**
 * Every action the audit log records, one vocabulary for the CLI, the daemon and the HTTP API,
 * so `lifeboat audit --action backup.` finds a backup however it was started.
 */
export const AUDIT_ACTIONS = [
  'backup.start',
  'backup.delete',
  'backup.protect',
  'backup.unprotect',
  'backup.cancel-deletion',
  'backup.download',
  'backup.export',
  'backup.import',
  'restore.plan',
  'restore.run',
  'workflow.export',
  'workflow.restore',
  'verify.run',
  'drill.run',
  'job.cancel',
  'prune.run',
  'replicate.run',
  'catalog.rebuild',
  'schedule.add',
  'schedule.edit',
  'schedule.pause',
  'schedule.resume',
  'schedule.remove',
  'schedule.run',
  'target.create',
  'target.update',
  'target.delete',
  'target.test',
  'storage.create',
  'storage.update',
  'storage.delete',
  'storage.test',
  'channel.create',
  'channel.update',
  'channel.delete',
  'channel.test',
  'user.create',
  'user.remove',
  'user.role',
  'user.passwd',
  'session.login',
  'session.login-failed',
  'session.logout',
  'session.signout-all',
  'token.create',
  'token.revoke',
  'key.export',
  'key.import',
  'config.update',
  'config.retention',
  'config.verification',
  /** Retention removed old rows of this log; the row carries the anchor the rest chains from. */
  'audit.prune',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** ok: done; failed: tried and failed; refused: not attempted (bad request, not allowed, a plan's checks, a lock). */
export const AUDIT_OUTCOMES = ['ok', 'failed', 'refused'] as const;

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

const known: ReadonlySet<string> = new Set(AUDIT_ACTIONS);

export function isAuditAction(action: string): action is AuditAction {
  return known.has(action);
}
