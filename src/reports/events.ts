import type { Catalog, EventRecord, EventSeverity } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.ts';

const SEVERITIES: readonly EventSeverity[] = ['info', 'warning', 'error', 'critical'];

export interface EventQuery {
  /** Only those no one has read. */
  unread?: boolean;
  kind?: string;
  severity?: EventSeverity;
  target?: string;
  /** 1 to 200; default 50. */
  limit?: number;
  cursor?: string;
}

/** Events, newest first, paged by cursor, with the unread count for the badge: `GET /api/v1/events`. */
export function listEvents(catalog: Catalog, q: EventQuery = {}): { items: EventRecord[]; nextCursor: string | null; unread: number } {
  if (q.severity !== undefined && !SEVERITIES.includes(q.severity)) throw new LifeboatError('E_USAGE', `severity "${String(q.severity)}": use one of ${SEVERITIES.join(', ')}`);
  const limit = pageLimit(q.limit);
  const beforeId = q.cursor === undefined ? undefined : (decodeCursor('events', q.cursor, ['number'])[0] as number);
  const rows = catalog.eventPage({ unread: q.unread, kind: q.kind, severity: q.severity, target: q.target, beforeId, limit: limit + 1 });
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor('events', [last.id]) : null, unread: catalog.unreadEventCount() };
}

export function unreadEventCount(catalog: Catalog): number {
  return catalog.unreadEventCount();
}

/**
 * Marks events read: the given `ids`, or everything up to `upTo` (the newest id the user saw, so
 * an event that arrived since stays unread), or `all`. Exactly one of them. Returns how many
 * were marked and how many stay unread.
 */
export function markEventsRead(catalog: Catalog, which: { ids?: number[]; upTo?: number; all?: boolean }): { marked: number; unread: number } {
  const given = [which.ids !== undefined, which.upTo !== undefined, which.all === true].filter(Boolean).length;
  if (given !== 1) throw new LifeboatError('E_USAGE', 'give exactly one of ids, upTo or all');
  const marked = which.ids !== undefined
    ? catalog.markEventsRead(which.ids)
    : which.upTo !== undefined
      ? catalog.markEventsReadUpTo(which.upTo)
      : catalog.markEventsRead();
  return { marked, unread: catalog.unreadEventCount() };
}
