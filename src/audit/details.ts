import type { PruneOutcome } from '../jobs/prune.ts';
import type { RestorePlan, RestoreReport } from '../jobs/restore.ts';
import type { VerifyReport } from '../jobs/verify.ts';
import type { AuditNote } from './audit.ts';

/** What a restore was asked to do, before any plan: the backup, what, to where (URLs without passwords: redact.ts). */
export function restoreRequestDetail(backup: string, o: { databases?: string[]; tables?: string[]; renameTo?: string; files?: string[]; toDir?: string; to?: string; globals?: boolean; force?: boolean; trustForeign?: boolean }): Record<string, unknown> {
  return {
    backup,
    databases: o.databases, tables: o.tables, renameTo: o.renameTo, files: o.files, toDir: o.toDir, to: o.to,
    globals: o.globals || undefined, force: o.force || undefined, trustForeign: o.trustForeign || undefined,
  };
}

/**
 * A restore plan in a few lines for the audit log: the backup, each database and table with
 * what happens to it and where, how many files, and the safety backup. The same summary for
 * `restore.plan` and `restore.run`, from the CLI or the API.
 */
export function restorePlanDetail(plan: RestorePlan, report?: RestoreReport): Record<string, unknown> {
  const overwritten = plan.files.filter((f) => f.action === 'overwrite').length;
  return {
    backup: plan.backupId,
    target: plan.target,
    databases: plan.databases.map((d) => `${d.action} ${d.database} on ${d.server} from ${d.source}`),
    tables: plan.tables.map((t) => `${t.action} ${t.table} in ${t.database}${t.as !== t.table ? ` as ${t.as}` : ''}`),
    files: plan.files.length ? { count: plan.files.length, overwritten, first: plan.files.slice(0, 5).map((f) => f.destination) } : undefined,
    globals: plan.globals || undefined,
    replacesData: plan.replacesData,
    failedChecks: plan.checks.filter((c) => !c.ok).map((c) => c.name),
    safetyBackup: report?.safetyBackupId,
  };
}

/** A prune's changes: the ids deleted, announced, cancelled and failed; empty when it changed nothing (skipped then). */
export function notePrune(audit: AuditNote, outcomes: PruneOutcome[]): void {
  for (const result of ['deleted', 'pending', 'cancelled', 'failed'] as const) {
    const ids = outcomes.filter((x) => x.result === result).map((x) => x.id);
    if (ids.length) audit.detail[result] = ids;
  }
  if (audit.detail.failed) audit.outcome = 'failed';
}

/** A verification's level and result, with the checks that failed; outcome failed when it did not pass. */
export function noteVerification(audit: AuditNote, r: VerifyReport): void {
  audit.detail.verified = `${r.level} ${r.ok ? 'passed' : 'FAILED'}`;
  if (r.ok) return;
  audit.outcome = 'failed';
  audit.detail.failedChecks = r.checks.filter((c) => !c.ok && !c.warning).map((c) => `${c.name}: ${c.actual ?? '-'}`);
}
