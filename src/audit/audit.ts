import type { Catalog } from '../catalog/catalog.ts';
import type { AuditRow } from '../catalog/audit.ts';
import { asLifeboatError, type ErrorCode } from '../errors.ts';
import { isAuditAction, type AuditAction, type AuditOutcome } from './actions.ts';
import { canonicalJson, sealAuditRow } from './chain.ts';
import { redactDetail } from './redact.ts';

export { AUDIT_ACTIONS, AUDIT_OUTCOMES, isAuditAction, type AuditAction, type AuditOutcome } from './actions.ts';
export { canonicalJson, verifyAuditChain, type ChainReport } from './chain.ts';
export { listAudit, parseAuditTime, type AuditEntry, type AuditFilter, type AuditPage } from './query.ts';
export { pruneAuditLog } from './retention.ts';
export { redactDetail, isSecretKey } from './redact.ts';

/** One thing that happened, as a caller describes it. */
export interface AuditInput {
  /** Who: a user name, `token:<name> (<owner>)`, `cli:<os user>`, `daemon`. */
  actor: string;
  action: AuditAction;
  /** What it was done to: a backup id, a target, a schedule id, a user name. */
  object?: string | null;
  /** The client's address (HTTP). */
  address?: string | null;
  /** The client's User-Agent (HTTP). */
  userAgent?: string | null;
  outcome: AuditOutcome;
  /** A small description (a restore's plan summary, the error): redacted before it is stored. */
  detail?: Record<string, unknown>;
  /** When; default now (the daemon passes its clock). */
  at?: Date;
}

/**
 * Appends one row to the audit log, chained to the last one. The detail is redacted first
 * (redact.ts): secret-looking keys and secrets inside text never reach the catalog. It takes
 * its own write transaction: call it outside any other catalog transaction.
 */
export function recordAudit(catalog: Catalog, input: AuditInput): AuditRow {
  if (!isAuditAction(input.action)) throw new TypeError(`unknown audit action ${String(input.action)}`);
  const detail = input.detail === undefined ? undefined : redactDetail(input.detail);
  const cap = (s: string | null | undefined, n: number) => (s === null || s === undefined ? null : s.slice(0, n));
  return catalog.appendAudit({
    at: (input.at ?? new Date()).toISOString(),
    actor: cap(input.actor, 200) ?? '',
    action: input.action,
    object: cap(input.object, 500),
    address: cap(input.address, 100),
    userAgent: cap(input.userAgent, 500),
    outcome: input.outcome,
    detailJson: detail === undefined || (typeof detail === 'object' && detail !== null && Object.keys(detail).length === 0) ? null : canonicalJson(detail),
  }, sealAuditRow);
}

/** Codes meaning the operation was not attempted: the request was wrong, not allowed, or refused by checks or a lock. */
const REFUSED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_USAGE', 'E_CONFIG', 'E_NOT_FOUND', 'E_AMBIGUOUS', 'E_RESTORE_CHECK', 'E_LOCKED', 'E_UNAUTHENTICATED', 'E_FORBIDDEN', 'E_CONFLICT', 'E_RATE_LIMITED', 'E_TOO_LARGE']);

/** The outcome an error means: `refused` when nothing was attempted, `failed` otherwise. */
export function outcomeOf(err: unknown): AuditOutcome {
  return REFUSED.has(asLifeboatError(err).code) ? 'refused' : 'failed';
}

/** What an audited operation may say about itself while it runs (see withAudit). */
export interface AuditNote {
  /** The object, once known (a backup prefix resolved to its id). */
  object?: string | null;
  /** Added to the row's detail. */
  detail: Record<string, unknown>;
  /** Overrides the outcome of an operation that returned without throwing (a verification that found problems). */
  outcome?: AuditOutcome;
  /** Nothing to record after all (a dry run, a prune that changed nothing). */
  skip?: boolean;
}

/**
 * Runs `fn` and records one row for it whatever happens: `ok` (or what `fn` set in the note)
 * when it returns, `refused` or `failed` with the error's code and message when it throws. The
 * error is thrown on unchanged; a row that cannot be written then does not hide it.
 */
export async function withAudit<T>(catalog: Catalog, base: Omit<AuditInput, 'outcome' | 'detail'>, fn: (note: AuditNote) => Promise<T> | T): Promise<T> {
  const note: AuditNote = { detail: {} };
  const write = (outcome: AuditOutcome) => {
    if (!note.skip) recordAudit(catalog, { ...base, object: note.object === undefined ? base.object : note.object, outcome: note.outcome ?? outcome, detail: note.detail });
  };
  let result: T;
  try {
    result = await fn(note);
  } catch (err) {
    const e = asLifeboatError(err);
    note.detail.error = { code: e.code, message: e.message };
    note.outcome = undefined;
    try {
      write(outcomeOf(e));
    } catch {
      // The operation's own error is the one to report.
    }
    throw err;
  }
  write('ok');
  return result;
}
