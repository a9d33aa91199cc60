import type { SQLInputValue } from 'node:sqlite';
import type { BackupFilter, BackupStatus, BackupSummary, Catalog, SortColumn, Trust } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.ts';
import { PageMemo } from './page-memo.ts';

export type BackupSort = 'startedAt' | 'size' | 'target';
export type VerifiedFilter = NonNullable<BackupFilter['verified']>;

/** What `GET /api/v1/backups` takes. Every filter narrows; none set lists every backup not deleted. */
export interface BackupQuery {
  target?: string;
  /** As lists show it; `deleted` lists the records retention or `delete` left (else they are left out). */
  status?: BackupStatus;
  /**
   * The last verification: `none` (never verified), `failed`, `passed` (at any level), `quick` or
   * `full` (passed at that level: `full` is a test restore, `quick` checksums only).
   */
  verified?: VerifiedFilter;
  /** Protected now (a protection whose time is up no longer counts). */
  protected?: boolean;
  /** Deletion announced and not yet done. */
  pendingDeletion?: boolean;
  /** Started at or after `from`, and before `to` (ISO 8601 times or Dates). */
  from?: string | Date;
  to?: string | Date;
  /**
   * `startedAt` (default, newest first), `size` (largest first; failed and running ones, which
   * have none, count as smallest) or `target` (A to Z; within a target newest first, whatever
   * the order).
   */
  sort?: BackupSort;
  order?: 'asc' | 'desc';
  /** 1 to 200; default 50. */
  limit?: number;
  /** `nextCursor` of the previous page, for the same filters and sort. */
  cursor?: string;
  /** Also count every backup the filters select (a scan of them: ask on the first page only). */
  withTotal?: boolean;
  /** When `protected` is judged; default now. */
  now?: Date;
}

/** One backup as a list shows it: enough to draw a row and its badges without the manifest. */
export interface BackupSummaryRow {
  id: string;
  target: string;
  status: BackupStatus;
  trust: Trust;
  /** manual, schedule, api, pre-restore, rebuild, import. */
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  size: number | null;
  /** Why it failed. */
  error: string | null;
  verification: { status: 'unverified' | 'passed' | 'failed'; level: 'quick' | 'full' | null; at: string | null };
  /** Protected now; `protectedUntil` null means until unprotected. */
  protected: boolean;
  protectedUntil: string | null;
  /** `pending` with the time it happens, or `deleted`. */
  deletion: { status: 'none' | 'pending' | 'deleted'; at: string | null };
  /** Each copy: which storage and its state (pending, ok, failed, missing). */
  locations: { storage: string; status: 'pending' | 'ok' | 'failed' | 'missing' }[];
  /** Databases, tables, rows, files, app items, duration, warnings; null until complete. */
  summary: BackupSummary | null;
  tags: string[];
}

export interface BackupPage {
  items: BackupSummaryRow[];
  /** Pass it as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
  /** Only when `withTotal` was asked. */
  total?: number;
}

const STATUSES: readonly BackupStatus[] = ['running', 'ok', 'degraded', 'failed', 'deleted'];
const VERIFIED: readonly VerifiedFilter[] = ['none', 'failed', 'passed', 'quick', 'full'];

/** Each sort as SQL columns (the last unique) and the cursor value types they give. */
function sortColumns(sort: BackupSort, desc: boolean): { columns: SortColumn[]; shape: ('string' | 'number')[] } {
  switch (sort) {
    case 'startedAt':
      return { columns: [{ expr: 'b.started_at', desc }, { expr: 'b.id', desc }], shape: ['string', 'string'] };
    case 'size':
      // size_key is ifnull(size, -1): failed and running backups sort as the smallest.
      return { columns: [{ expr: 'b.size_key', desc }, { expr: 'b.id', desc }], shape: ['number', 'string'] };
    case 'target':
      return { columns: [{ expr: 'b.target', desc }, { expr: 'b.started_at', desc: true }, { expr: 'b.id', desc: true }], shape: ['string', 'string', 'string'] };
  }
}

/**
 * A page of backups for the API and the UI: filtered, sorted, and paged by keyset cursors, so a
 * page costs the same at the start and the end of 10,000 backups and never repeats or skips a
 * backup when others are added meanwhile. Wrong input is E_USAGE naming the field.
 */
export function queryBackups(catalog: Catalog, q: BackupQuery = {}): BackupPage {
  return JSON.parse(queryBackupsJson(catalog, q)) as BackupPage;
}

/**
 * queryBackups as the JSON text the API sends, made of the texts SQLite keeps for each listed
 * backup (catalog migration 15): no row becomes an object on the way. Pages of questions asked
 * again come from memory (page-memo.ts).
 */
export function queryBackupsJson(catalog: Catalog, q: BackupQuery = {}): string {
  const key = JSON.stringify(q);
  let memo = memos.get(catalog);
  if (!memo) memos.set(catalog, (memo = new PageMemo()));
  const hit = memo.get(key, () => catalog.changeMark(), q.now !== undefined);
  if (hit !== undefined) return hit;
  // Kept under the mark the page's own statement read (none for an empty page: not kept).
  const { text, mark } = runQuery(catalog, q);
  memo.put(key, mark, text);
  return text;
}

/** queryBackupsJson without its memory: for a caller that keeps pages itself (server/catalog-reader.ts). */
export function backupsPageText(catalog: Catalog, q: BackupQuery = {}): string {
  return runQuery(catalog, q).text;
}

const memos = new WeakMap<Catalog, PageMemo<string>>();

function runQuery(catalog: Catalog, q: BackupQuery): { text: string; mark: string | undefined } {
  const now = q.now ?? new Date();
  const filter: BackupFilter = {
    target: q.target,
    status: oneOf('status', q.status, STATUSES),
    verified: oneOf('verified', q.verified, VERIFIED),
    protected: q.protected,
    pendingDeletion: q.pendingDeletion,
    from: time('from', q.from),
    to: time('to', q.to),
    now: now.toISOString(),
  };
  const sort = oneOf('sort', q.sort, ['startedAt', 'size', 'target'] as const) ?? 'startedAt';
  const order = oneOf('order', q.order, ['asc', 'desc'] as const) ?? (sort === 'target' ? 'asc' : 'desc');
  const limit = pageLimit(q.limit);
  const { columns, shape } = sortColumns(sort, order === 'desc');
  const listing = `backups:${sort}:${order}`;
  const after = q.cursor === undefined ? undefined : (decodeCursor(listing, q.cursor, shape) as SQLInputValue[]);
  // One row more than asked tells whether another page follows.
  const { rows, mark } = catalog.backupPage(filter, columns, after, limit + 1);
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const nextCursor = rows.length > limit && last ? encodeCursor(listing, last.sortKey) : null;
  const total = q.withTotal ? `,"total":${catalog.countBackups(filter)}` : '';
  // One join makes the whole text: a template around the join would copy the page twice more
  // (the join, then the flattening of the concatenation when it is written to the socket).
  const parts = items.map((r) => r.json);
  const tail = `],"nextCursor":${JSON.stringify(nextCursor)}${total}}`;
  if (parts.length === 0) return { text: `{"items":[${tail}`, mark };
  parts[0] = `{"items":[${parts[0]!}`;
  parts[parts.length - 1] += tail;
  return { text: parts.join(','), mark };
}

function oneOf<T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new LifeboatError('E_USAGE', `${field} "${value}": use one of ${allowed.join(', ')}`);
  return value as T;
}

/** An ISO time as the catalog stores it (toISOString), so string comparison is time order. */
function time(field: string, value: string | Date | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(t.getTime())) throw new LifeboatError('E_USAGE', `${field} "${String(value)}" is not a time`, { hint: 'give an ISO 8601 time such as 2026-11-20 or 2026-11-20T02:00:00Z' });
  return t.toISOString();
}
