import type { SQLInputValue } from 'node:sqlite';
import { UserQueries } from './users.ts';
import type { Row } from './store.ts';

/** The previous hash of the first row ever written. */
export const AUDIT_GENESIS = '0'.repeat(64);

/** One row of the audit log as stored. */
export interface AuditRow {
  /** Consecutive from 1: a gap means a removed row. */
  id: number;
  /** ISO time, UTC. */
  at: string;
  /** Who: a user name, `token:<name> (<owner>)`, `cli:<os user>`, `daemon`. */
  actor: string;
  /** One of AUDIT_ACTIONS (audit/actions.ts). */
  action: string;
  /** What it was done to: a backup id, a target, a schedule id; null when nothing in particular. */
  object: string | null;
  /** The client's address (HTTP), null elsewhere. */
  address: string | null;
  /** The client's User-Agent (HTTP), null elsewhere. */
  userAgent: string | null;
  outcome: 'ok' | 'failed' | 'refused';
  /** Canonical JSON of the (redacted) detail, exactly as hashed; null when there is none. */
  detailJson: string | null;
  /** The hash of the row before (AUDIT_GENESIS for the first). */
  prevHash: string;
  /** sha256 of prevHash and this row's content (audit/chain.ts). */
  hash: string;
}

/** What is sealed: a row without its hashes. */
export type AuditContent = Omit<AuditRow, 'prevHash' | 'hash'>;

/** A row of the chain as the rows after it refer to it. */
export interface ChainLink {
  id: number;
  hash: string;
}

/** Computes a row's hash from the previous row's hash and its content. */
export type Seal = (prevHash: string, content: AuditContent) => string;

/** Where the chain continues after rows removed by retention: the last removed row. */
const ANCHOR = 'audit.anchor';
/** The last row written, so rows removed from the end are noticed too. */
const HEAD = 'audit.head';

/**
 * The audit log's table. Append-only from the code: rows are added at the end of the chain
 * and removed only by retention, oldest first, leaving an anchor the chain verifies from.
 */
export class AuditQueries extends UserQueries {
  /**
   * Appends a row at the end of the chain. One write transaction (begin immediate) reads the
   * tail and inserts, so the daemon, CLI commands and the API writing at once form one chain.
   */
  appendAudit(row: Omit<AuditContent, 'id'>, seal: Seal): AuditRow {
    return this.tx(() => this.#append(row, seal));
  }

  /**
   * Removes the oldest rows up to the first one at or after `cutoff` (a prefix by id, so the
   * chain stays whole whatever the clocks said), keeps the last removed row as the anchor, and
   * appends the row `record` builds to say so, all in one transaction. Nothing is removed when
   * no row is older than `cutoff`.
   */
  pruneAudit(cutoff: string, record: (removed: { rows: number; anchor: ChainLink }) => Omit<AuditContent, 'id'>, seal: Seal): { rows: number; anchor?: ChainLink } {
    return this.tx(() => {
      const first = this.one('select min(id) as id from audit where at >= ?', cutoff)?.id;
      const last = first === null || first === undefined ? this.one('select max(id) as id from audit')?.id : Number(first) - 1;
      if (last === null || last === undefined) return { rows: 0 };
      const lastRow = this.one('select id, hash from audit where id = ?', Number(last));
      // Nothing older than the cutoff, or the row to anchor on is already gone (verify says so).
      if (!lastRow) return { rows: 0 };
      const anchor = { id: Number(lastRow.id), hash: String(lastRow.hash) };
      const rows = Number(this.one('select count(*) as n from audit where id <= ?', anchor.id)!.n);
      this.run('delete from audit where id <= ?', anchor.id);
      this.setSetting(ANCHOR, anchor);
      this.#append(record({ rows, anchor }), seal);
      return { rows, anchor };
    });
  }

  /** The last row removed by retention, from which the remaining rows chain; undefined if none was. */
  auditAnchor(): ChainLink | undefined {
    return this.getSetting<ChainLink>(ANCHOR);
  }

  /** The last row written, as recorded beside the table; undefined before the first row. */
  auditHead(): ChainLink | undefined {
    return this.getSetting<ChainLink>(HEAD);
  }

  /**
   * Runs `fn` in one read transaction: the rows, head and anchor it reads are one snapshot
   * (WAL), so a row appended meanwhile by the daemon or the API does not look like a gap.
   */
  readAuditSnapshot<T>(fn: () => T): T {
    this.db.exec('begin');
    try {
      return fn();
    } finally {
      this.db.exec('commit');
    }
  }

  /** Every row, oldest first, read one at a time (verification walks the whole log). */
  *auditRows(): Generator<AuditRow> {
    for (const r of this.db.prepare('select * from audit order by id').iterate()) yield toAuditRow(r as Row);
  }

  /** The newest `action` row, for checking the anchor against the row that recorded it. */
  lastAuditOf(action: string): AuditRow | undefined {
    const r = this.one('select * from audit where action = ? order by id desc limit 1', action);
    return r && toAuditRow(r);
  }

  /** Rows newest first, filtered; `beforeId` continues a page. */
  queryAudit(f: { since?: string; until?: string; actor?: string; actionPrefix?: string; beforeId?: number; limit: number }): AuditRow[] {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    const add = (clause: string, ...values: SQLInputValue[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (f.since !== undefined) add('at >= ?', f.since);
    if (f.until !== undefined) add('at < ?', f.until);
    if (f.actor !== undefined) add('actor = ?', f.actor);
    if (f.actionPrefix !== undefined) add('substr(action, 1, ?) = ?', f.actionPrefix.length, f.actionPrefix);
    if (f.beforeId !== undefined) add('id < ?', f.beforeId);
    const sql = `select * from audit ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`;
    return this.all(sql, ...params, f.limit).map(toAuditRow);
  }

  #append(row: Omit<AuditContent, 'id'>, seal: Seal): AuditRow {
    const tail = this.#tail();
    const content: AuditContent = { id: tail.id + 1, ...row };
    const hash = seal(tail.hash, content);
    this.run(
      'insert into audit (id, at, actor, action, object, address, user_agent, outcome, detail_json, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      content.id, content.at, content.actor, content.action, content.object, content.address, content.userAgent, content.outcome, content.detailJson, tail.hash, hash,
    );
    this.setSetting(HEAD, { id: content.id, hash });
    return { ...content, prevHash: tail.hash, hash };
  }

  /**
   * The row a new one follows: the later of the last row in the table and the recorded head.
   * After rows were cut from the end the head still names the last one written, so the next
   * row leaves a gap that verification reports; without a head (removed) the table decides.
   */
  #tail(): ChainLink {
    const last = this.one('select id, hash from audit order by id desc limit 1');
    const head = this.auditHead();
    const anchor = this.auditAnchor();
    const candidates: ChainLink[] = [{ id: 0, hash: AUDIT_GENESIS }];
    if (anchor) candidates.push(anchor);
    if (head) candidates.push(head);
    if (last) candidates.push({ id: Number(last.id), hash: String(last.hash) });
    return candidates.reduce((a, b) => (b.id >= a.id ? b : a));
  }
}

function toAuditRow(r: Row): AuditRow {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    id: Number(r.id), at: String(r.at), actor: String(r.actor), action: String(r.action), object: text(r.object), address: text(r.address), userAgent: text(r.user_agent),
    outcome: r.outcome as AuditRow['outcome'], detailJson: text(r.detail_json), prevHash: String(r.prev_hash), hash: String(r.hash),
  };
}
