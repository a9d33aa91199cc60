import type { Catalog } from '../catalog/catalog.ts';
import type { AuditRow } from '../catalog/audit.ts';
import { LifeboatError } from '../errors.ts';
import type { AuditOutcome } from './actions.ts';

/** An audit row as shown: the detail parsed. */
export interface AuditEntry extends Omit<AuditRow, 'detailJson' | 'outcome'> {
  outcome: AuditOutcome;
  detail: Record<string, unknown> | null;
}

export interface AuditFilter {
  /** From this time on: a Date, an ISO time, or an age such as 7d, 12h, 30m. */
  since?: Date | string;
  /** Before this time (same forms). */
  until?: Date | string;
  /** This actor exactly. */
  actor?: string;
  /** Actions starting with this: `backup.` for every backup action, `restore.run` for one. */
  action?: string;
  /** Rows per page: default 100, at most 1000. */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string;
}

export interface AuditPage {
  /** Newest first. */
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last one. */
  nextCursor: string | null;
}

/** Rows of the audit log, newest first, filtered, a page at a time. */
export function listAudit(catalog: Catalog, filter: AuditFilter = {}, now = new Date()): AuditPage {
  const limit = filter.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new LifeboatError('E_USAGE', `limit ${limit}: give a whole number from 1 to 1000`);
  let beforeId: number | undefined;
  if (filter.cursor !== undefined) {
    beforeId = Number(filter.cursor);
    if (!/^\d+$/.test(filter.cursor) || !Number.isSafeInteger(beforeId)) throw new LifeboatError('E_USAGE', `cursor "${filter.cursor}" is not one this log gave`, { hint: 'pass the nextCursor of the previous page' });
  }
  const rows = catalog.queryAudit({
    since: filter.since === undefined ? undefined : parseAuditTime(filter.since, 'since', now),
    until: filter.until === undefined ? undefined : parseAuditTime(filter.until, 'until', now),
    actor: filter.actor,
    actionPrefix: filter.action,
    beforeId,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  return { entries: page.map(toEntry), nextCursor: rows.length > limit ? String(page.at(-1)!.id) : null };
}

/** An ISO time from a Date, an ISO time, or an age before `now` (7d, 12h, 30m, 45s). */
export function parseAuditTime(value: Date | string, name: string, now = new Date()): string {
  if (value instanceof Date) return value.toISOString();
  const age = /^(\d+)([smhdw])$/.exec(value.trim());
  if (age) return new Date(now.getTime() - Number(age[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[age[2] as 's']).toISOString();
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw new LifeboatError('E_USAGE', `${name} "${value}": give an ISO time (2026-12-01 or 2026-12-01T10:00:00Z) or an age (7d, 12h, 30m)`);
  return new Date(t).toISOString();
}

function toEntry(r: AuditRow): AuditEntry {
  return {
    id: r.id, at: r.at, actor: r.actor, action: r.action, object: r.object, address: r.address, userAgent: r.userAgent, outcome: r.outcome,
    detail: r.detailJson === null ? null : (JSON.parse(r.detailJson) as Record<string, unknown>), prevHash: r.prevHash, hash: r.hash,
  };
}
