import { createHash } from 'node:crypto';
import { LifeboatError } from '../errors.ts';

/**
 * Opaque keyset cursors: base64url of `{ l: listing, k: [sort values..., id] }` and a short
 * checksum of it. The checksum is not a secret (a cursor only positions a listing a caller may
 * read anyway): it makes a damaged or hand-edited cursor an error instead of a silently
 * different page.
 */
export function encodeCursor(listing: string, key: (string | number)[]): string {
  const body = Buffer.from(JSON.stringify({ l: listing, k: key })).toString('base64url');
  return `${body}.${check(listing, body)}`;
}

/**
 * The key a cursor carries, checked against `listing` (which names the listing and its sort,
 * e.g. `backups:size:desc`) and `shape` (the type of each value). E_USAGE naming the cursor
 * otherwise.
 */
export function decodeCursor(listing: string, cursor: string, shape: ('string' | 'number')[]): (string | number)[] {
  const [body, sum, ...rest] = cursor.split('.');
  let key: unknown;
  if (body && sum && rest.length === 0 && sum === check(listing, body)) {
    try {
      const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { l?: unknown; k?: unknown };
      if (parsed.l === listing) key = parsed.k;
    } catch {
      key = undefined;
    }
  }
  if (!Array.isArray(key) || key.length !== shape.length || key.some((v, i) => typeof v !== shape[i])) {
    const shown = cursor.length > 40 ? `${cursor.slice(0, 40)}...` : cursor;
    throw new LifeboatError('E_USAGE', `cursor "${shown}" is not one this listing gave (damaged, edited, or from another sort or listing)`, {
      hint: 'pass the nextCursor of the previous page unchanged, or leave cursor out to start from the first page',
    });
  }
  return key as (string | number)[];
}

function check(listing: string, body: string): string {
  return createHash('sha256').update(listing).update('\0').update(body).digest('base64url').slice(0, 10);
}

/** A page size: 1 to `max`, `fallback` when absent; E_USAGE naming `limit` otherwise. */
export function pageLimit(limit: number | undefined, fallback = 50, max = 200): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new LifeboatError('E_USAGE', `limit ${limit}: give a whole number from 1 to ${max}`);
  return limit;
}
