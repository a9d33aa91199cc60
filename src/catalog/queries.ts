import type { SQLInputValue, SQLOutputValue, StatementSync } from 'node:sqlite';
import type { BackupStatus } from './backups.ts';
import type { Row } from './store.ts';
import { AuditQueries } from './audit.ts';

/** Which backups a listing shows; every field narrows it (see reports/backups.ts). */
export interface BackupFilter {
  target?: string;
  /** The status as lists show it: `degraded` and `deleted` are derived (backups.ts). */
  status?: 'running' | 'ok' | 'degraded' | 'failed' | 'deleted';
  /** `none` never verified; `failed`; `passed` at any level; `quick` / `full` passed at that level. */
  verified?: 'none' | 'failed' | 'passed' | 'quick' | 'full';
  /** Protected at `now` (a protection whose `until` has passed no longer counts). */
  protected?: boolean;
  pendingDeletion?: boolean;
  /** ISO times: started at or after `from`, before `to`. */
  from?: string;
  to?: string;
  /** ISO time `protected` is judged at. */
  now: string;
}

/** A backup as a page of the list holds it. */
export interface BackupListRow {
  /** The backup as `GET /api/v1/backups` lists it: BackupSummaryRow's JSON (reports/backups.ts). */
  json: string;
  /** The row's values of the page's sort columns, for the next cursor. */
  sortKey: (string | number)[];
}

/** One column of a keyset order: its SQL expression and direction. */
export interface SortColumn {
  expr: string;
  desc: boolean;
}

/** Jobs a listing shows. */
export interface JobFilter {
  state?: 'running' | 'succeeded' | 'failed' | 'cancelled';
  kind?: string;
  target?: string;
}

// A backup's status as lists show it, in SQL over backup_list (migration 11): the same rules as
// BackupQueries#toBackup.
const SHOWN_STATUS = "case when b.deletion_status = 'deleted' then 'deleted' when b.status = 'ok' and b.bad_copies > 0 then 'degraded' else b.status end";

/**
 * The read side the HTTP API and the web UI need: filtered keyset pages over backups and jobs,
 * and per-target figures in a few grouped queries. Statements are prepared once per
 * connection: a page of backups is one prepared statement and one round of SQLite, which keeps
 * `GET /api/v1/backups` well under a millisecond on 10,000 rows.
 */
export class ReportQueries extends AuditQueries {
  /** Statements that answer rows as arrays (setReturnArrays), apart from the shared ones. */
  readonly #statements = new Map<string, StatementSync>();

  #rows(sql: string, params: SQLInputValue[]): Row[] {
    return this.prepare(sql).all(...params) as Row[];
  }

  /**
   * Runs `fn` in one transaction; a catalog call inside that opens its own becomes a savepoint.
   * For bulk writers (bench/api-data.ts) that call the ordinary API thousands of times.
   */
  bulk<T>(fn: () => T): T {
    return this.tx(fn);
  }

  protected override tx<T>(fn: () => T): T {
    if (!this.db.isTransaction) return super.tx(fn);
    this.db.exec('savepoint nested');
    try {
      const result = fn();
      this.db.exec('release nested');
      return result;
    } catch (err) {
      this.db.exec('rollback to nested');
      this.db.exec('release nested');
      throw err;
    }
  }

  /**
   * A mark that changes whenever the catalog does, by this connection or another process: what
   * a read cache keys on (reports/backups.ts).
   */
  changeMark(): string {
    const r = this.prepare('select (select data_version from pragma_data_version) as v, total_changes() as n').get() as Row;
    return `${String(r.v)}:${String(r.n)}`;
  }

  /**
   * `bySize`: the page is in size order. Its date range is then written `+b.started_at`, which
   * SQLite cannot seek an index by: it walks the size index (which holds started_at, migration
   * perf19) in order and stops at the page's end, instead of reading every row in the range and
   * sorting them.
   */
  #backupWhere(f: BackupFilter, bySize = false): { sql: string; params: SQLInputValue[] } {
    const where: string[] = [];
    const params: SQLInputValue[] = [];
    if (f.target !== undefined) {
      where.push('b.target = ?');
      params.push(f.target);
    }
    switch (f.status) {
      case undefined:
        where.push("b.deletion_status != 'deleted'");
        break;
      case 'deleted':
        where.push("b.deletion_status = 'deleted'");
        break;
      case 'ok':
        where.push("b.status = 'ok'", "b.deletion_status != 'deleted'", 'b.bad_copies = 0');
        break;
      case 'degraded':
        where.push("b.status = 'ok'", "b.deletion_status != 'deleted'", 'b.bad_copies > 0');
        break;
      default:
        // A literal, not a parameter: SQLite then uses the partial index backup_list_failed.
        where.push(f.status === 'failed' ? "b.status = 'failed'" : "b.status = 'running'", "b.deletion_status != 'deleted'");
    }
    switch (f.verified) {
      case undefined:
        break;
      case 'none':
        where.push("b.verification_status = 'unverified'");
        break;
      case 'failed':
      case 'passed':
        where.push('b.verification_status = ?');
        params.push(f.verified);
        break;
      default:
        where.push("b.verification_status = 'passed'", 'b.verification_level = ?');
        params.push(f.verified);
    }
    if (f.protected !== undefined) {
      where.push(f.protected ? 'b.protected = 1 and (b.protected_until is null or b.protected_until > ?)' : 'not (b.protected = 1 and (b.protected_until is null or b.protected_until > ?))');
      params.push(f.now);
    }
    // Literals again, for the partial indexes backup_list_pending and backup_list_protected.
    if (f.pendingDeletion !== undefined) where.push(`b.deletion_status ${f.pendingDeletion ? '=' : '!='} 'pending'`);
    const started = bySize ? '+b.started_at' : 'b.started_at';
    if (f.from !== undefined) {
      where.push(`${started} >= ?`);
      params.push(f.from);
    }
    if (f.to !== undefined) {
      where.push(`${started} < ?`);
      params.push(f.to);
    }
    return { sql: where.join(' and '), params };
  }

  /**
   * One page of backups in `order` (whose last column must be unique: `b.id`), strictly after
   * the row whose sort values are `after` (one value per column), at most `limit` rows: each as
   * the JSON text the API lists it (migration 15's list_json, a protection whose time is up
   * shown as none), with its sort values for the next cursor, and the change mark the same
   * statement read (as changeMark(); undefined when no row came back), so a cache keyed on it
   * needs no second statement per page.
   */
  backupPage(filter: BackupFilter, order: SortColumn[], after: SQLInputValue[] | undefined, limit: number): { rows: BackupListRow[]; mark: string | undefined } {
    const w = this.#backupWhere(filter, order[0]?.expr === 'b.size_key');
    const where = [w.sql];
    const params: SQLInputValue[] = [filter.now, ...w.params];
    if (after) {
      const k = keysetAfter(order, after);
      where.push(k.sql);
      params.push(...k.params);
    }
    // The limit written in, not bound: SQLite plans a known limit better (59 against 104 us a
    // page of 51, one measurement on a loaded machine). A whole number the caller checked.
    const sql = `select case when b.protected = 1 and b.protected_until <= ? then json_set(b.list_json, '$.protected', json('false')) else b.list_json end,
        ${order.map((c) => c.expr).join(', ')}, (select data_version from pragma_data_version), total_changes()
      from backup_list b where ${where.join(' and ')}
      order by ${order.map((c) => `${c.expr} ${c.desc ? 'desc' : 'asc'}`).join(', ')} limit ${Math.trunc(limit)}`;
    let statement = this.#statements.get(sql);
    if (!statement) {
      // Arrays, not objects: node:sqlite builds an object per row property by property.
      statement = this.db.prepare(sql);
      statement.setReturnArrays(true);
      this.#statements.set(sql, statement);
    }
    const all = statement.all(...params) as unknown as SQLOutputValue[][];
    const end = 1 + order.length;
    const mark = all.length ? `${String(all[0]![end])}:${String(all[0]![end + 1])}` : undefined;
    return { rows: all.map((r) => ({ json: r[0] as string, sortKey: r.slice(1, end) as (string | number)[] })), mark };
  }

  /** How many backups a filter selects (a scan of what it selects: ask once, not per page). */
  countBackups(filter: BackupFilter): number {
    const w = this.#backupWhere(filter);
    return Number(this.#rows(`select count(*) as n from backup_list b where ${w.sql}`, w.params)[0]!.n);
  }

  /** Backups per target and shown status, deleted ones included (metrics). */
  backupCounts(): { target: string; status: string; count: number }[] {
    return this.#rows(`select b.target, ${SHOWN_STATUS} as status, count(*) as n from backup_list b group by 1, 2 order by 1, 2`, []).map((r) => ({
      target: String(r.target), status: String(r.status), count: Number(r.n),
    }));
  }

  /**
   * Per target: backups held (not deleted), their bytes (complete ones), protected at `now`, and
   * of the backups started since `since` how many succeeded (ok or degraded) and failed.
   */
  targetTotals(now: string, since: string): Map<string, { backups: number; bytes: number; protected: number; succeeded: number; failed: number }> {
    // Two queries, each answered from one index alone (backup_list_target_size, then the recent
    // end of backup_list_started): a scan of the table's rows cost ten times more.
    const held = this.#rows(
      `select target,
         sum(deletion_status != 'deleted') as backups,
         sum(case when deletion_status != 'deleted' and status = 'ok' then max(size_key, 0) else 0 end) as bytes,
         sum(deletion_status != 'deleted' and protected = 1 and (protected_until is null or protected_until > ?)) as protected
       from backup_list indexed by backup_list_target_size group by target`,
      [now],
    );
    const recent = new Map(this.#rows(
      "select target, sum(status = 'ok') as succeeded, sum(status = 'failed') as failed from backup_list where started_at >= ? group by target",
      [since],
    ).map((r) => [String(r.target), r]));
    return new Map(held.map((r) => {
      const x = recent.get(String(r.target));
      return [String(r.target), { backups: Number(r.backups), bytes: Number(r.bytes), protected: Number(r.protected), succeeded: Number(x?.succeeded ?? 0), failed: Number(x?.failed ?? 0) }];
    }));
  }

  /** A target's newest backup (not deleted), or its newest successful one (deleted or not: it succeeded). */
  newestBackup(target: string, which: 'any' | 'succeeded'): { id: string; status: BackupStatus; startedAt: string; finishedAt: string | null; size: number | null; durationMs: number | null } | undefined {
    const cond = which === 'any' ? "b.deletion_status != 'deleted'" : "b.status = 'ok'";
    const r = this.#rows(
      `select b.id, ${SHOWN_STATUS} as shown_status, b.started_at, b.finished_at, b.size, json_extract(b.summary_json, '$.durationMs') as duration_ms
       from backup_list b where b.target = ? and ${cond} order by b.started_at desc, b.id desc limit 1`,
      [target],
    )[0];
    return r && {
      id: String(r.id), status: r.shown_status as BackupStatus, startedAt: String(r.started_at), finishedAt: (r.finished_at as string | null) ?? null,
      size: r.size === null ? null : Number(r.size), durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
    };
  }

  /** The newest verification of any backup of a target. */
  newestVerification(target: string): { backupId: string; level: 'quick' | 'full'; finishedAt: string; ok: boolean } | undefined {
    const r = this.#rows(
      `select v.backup_id, v.level, v.finished_at, v.ok from verifications v join backup_list b on b.id = v.backup_id
       where b.target = ? order by v.finished_at desc, v.id desc limit 1`,
      [target],
    )[0];
    return r && { backupId: String(r.backup_id), level: r.level as 'quick' | 'full', finishedAt: String(r.finished_at), ok: Number(r.ok) === 1 };
  }

  /** Per storage: backups the catalog records there with a good copy, and those copies' bytes. */
  storedPerStorage(): Map<string, { backups: number; bytes: number }> {
    const rows = this.#rows("select storage, count(*) as n, sum(ifnull(size, 0)) as bytes from backup_locations where status = 'ok' group by storage", []);
    return new Map(rows.map((r) => [String(r.storage), { backups: Number(r.n), bytes: Number(r.bytes) }]));
  }

  /** Jobs running now, by kind. */
  runningJobCounts(): Map<string, number> {
    return new Map(this.#rows("select kind, count(*) as n from jobs where status = 'running' group by kind", []).map((r) => [String(r.kind), Number(r.n)]));
  }

  /** Deliveries given up on (every attempt failed), by channel. */
  failedDeliveryCounts(): Map<string, number> {
    return new Map(this.#rows("select channel, count(*) as n from deliveries where status = 'failed' group by channel", []).map((r) => [String(r.channel), Number(r.n)]));
  }

  /** One page of jobs, newest first, strictly after the job whose (started_at, id) is `after`. */
  jobPage(filter: JobFilter, after: [string, string] | undefined, limit: number): Row[] {
    const where: string[] = ['1 = 1'];
    const params: SQLInputValue[] = [];
    for (const [column, value] of [['status', filter.state], ['kind', filter.kind], ['target', filter.target]] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (after) {
      where.push('(started_at, id) < (?, ?)');
      params.push(...after);
    }
    params.push(limit);
    return this.#rows(`select * from jobs where ${where.join(' and ')} order by started_at desc, id desc limit ?`, params);
  }

  /** One job's record, or undefined. */
  jobRow(id: string): Row | undefined {
    return this.#rows('select * from jobs where id = ?', [id])[0];
  }
}

/**
 * `(c1, c2, ...) after (v1, v2, ...)` in the order's directions: a row value comparison when they
 * all agree (SQLite seeks the index with it), else the expanded OR form.
 */
function keysetAfter(order: SortColumn[], values: SQLInputValue[]): { sql: string; params: SQLInputValue[] } {
  const op = (c: SortColumn) => (c.desc ? '<' : '>');
  if (order.every((c) => c.desc === order[0]!.desc)) {
    return { sql: `(${order.map((c) => c.expr).join(', ')}) ${op(order[0]!)} (${order.map(() => '?').join(', ')})`, params: values };
  }
  const terms: string[] = [];
  const params: SQLInputValue[] = [];
  order.forEach((c, i) => {
    const equal = order.slice(0, i).map((p) => `${p.expr} = ?`);
    terms.push(`(${[...equal, `${c.expr} ${op(c)} ?`].join(' and ')})`);
    params.push(...values.slice(0, i), values[i]!);
  });
  return { sql: `(${terms.join(' or ')})`, params };
}
