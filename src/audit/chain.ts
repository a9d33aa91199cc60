import { createHash } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import { AUDIT_GENESIS, type AuditContent, type AuditRow, type ChainLink } from '../catalog/audit.ts';

/**
 * JSON with object keys sorted at every level and no spaces: the same value always gives the
 * same text, so a hash over it can be recomputed by anyone (`jq -cS` gives the same bytes for
 * plain data).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && typeof v !== 'function').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * A row's hash: sha256 of the previous row's hash followed by the canonical JSON of this row's
 * columns (the detail as its stored text). The id is part of the content, so a row moved or a
 * row removed shows, as does any changed column.
 */
export function sealAuditRow(prevHash: string, c: AuditContent): string {
  const content = canonicalJson({ id: c.id, at: c.at, actor: c.actor, action: c.action, object: c.object, address: c.address, userAgent: c.userAgent, outcome: c.outcome, detail: c.detailJson });
  return createHash('sha256').update(prevHash).update(content).digest('hex');
}

/** What `verifyAuditChain` found. */
export type ChainReport =
  | {
      ok: true;
      /** Rows checked. */
      rows: number;
      /** The last row: keep its hash elsewhere to prove later that nothing before it changed. */
      head: ChainLink | null;
      /** The last row removed by retention, null when none was. */
      anchor: ChainLink | null;
    }
  | {
      ok: false;
      /** The first row that does not fit: changed, out of place, or the one after a removed row. */
      rowId: number;
      /** Why, in a sentence. */
      reason: string;
    };

/**
 * Walks the whole log from the anchor (or the genesis) and checks that each row follows the
 * one before (next id, that row's hash as its prev_hash) and that its own hash matches its
 * content; then that the log ends at the last row written and that the anchor is the one the
 * last `audit.prune` row recorded. Stops at the first broken row.
 */
export function verifyAuditChain(catalog: Catalog): ChainReport {
  return catalog.readAuditSnapshot(() => walk(catalog));
}

function walk(catalog: Catalog): ChainReport {
  const anchor = catalog.auditAnchor() ?? null;
  let prev: ChainLink = anchor ?? { id: 0, hash: AUDIT_GENESIS };
  let rows = 0;
  for (const row of catalog.auditRows()) {
    const broken = checkRow(row, prev, rows === 0);
    if (broken) return { ok: false, rowId: row.id, reason: broken };
    prev = { id: row.id, hash: row.hash };
    rows++;
  }
  const head = catalog.auditHead();
  if (head && (head.id !== prev.id || head.hash !== prev.hash)) {
    return head.id > prev.id
      ? { ok: false, rowId: prev.id + 1, reason: `rows ${prev.id + 1} to ${head.id} are missing: the last row written was ${head.id}, the log ends at ${prev.id === (anchor?.id ?? 0) ? 'its anchor' : `row ${prev.id}`}` }
      : { ok: false, rowId: head.id, reason: `row ${head.id} is not the row that was written last (its hash differs from the one recorded when it was written)` };
  }
  if (anchor) {
    const pruned = catalog.lastAuditOf('audit.prune');
    const recorded = pruned?.detailJson ? (JSON.parse(pruned.detailJson) as { anchor?: ChainLink }).anchor : undefined;
    if (!recorded || recorded.id !== anchor.id || recorded.hash !== anchor.hash) {
      return { ok: false, rowId: anchor.id + 1, reason: `the log starts after row ${anchor.id}, but no audit.prune row records that anchor: rows were removed other than by retention` };
    }
  }
  return { ok: true, rows, head: rows ? prev : null, anchor };
}

function checkRow(row: AuditRow, prev: ChainLink, first: boolean): string | undefined {
  if (row.id !== prev.id + 1) {
    if (row.id <= prev.id) return `row ${row.id} comes after row ${prev.id}: ids must increase one by one`;
    const missing = row.id - prev.id === 2 ? `row ${prev.id + 1} is missing` : `rows ${prev.id + 1} to ${row.id - 1} are missing`;
    return first && prev.id > 0 ? `${missing}: the log should continue after its anchor, row ${prev.id}` : first ? `${missing}: the log should start at row 1` : `${missing} before it`;
  }
  if (row.prevHash !== prev.hash) return `its prev_hash is not the hash of ${prev.id === 0 ? 'the genesis' : `row ${prev.id}`}: a row before it was changed or replaced`;
  if (sealAuditRow(row.prevHash, row) !== row.hash) return 'its content does not match its hash: a column was changed after it was written';
  return undefined;
}
