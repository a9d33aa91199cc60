import { now, type Row } from './store.ts';
import { BackupQueries } from './backups.ts';

export type EventSeverity = 'info' | 'warning' | 'error' | 'critical';

/** Something a user may want to hear about; the notifications deliver them. */
export interface EventRecord {
  id: number;
  at: string;
  kind: string;
  severity: EventSeverity;
  target: string | null;
  backupId: string | null;
  jobId: string | null;
  message: string;
  data: unknown;
  deliveredAt: string | null;
  /** When a user read it in the UI or `lifeboat events --mark-read`. */
  readAt: string | null;
}

/** The event log notifications are sent from, and each delivery's attempts. */
export class EventQueries extends BackupQueries {
  recordEvent(e: { kind: string; severity: EventSeverity; message: string; target?: string; backupId?: string; jobId?: string; data?: unknown }): void {
    this.run(
      'insert into events (at, kind, severity, target, backup_id, job_id, message, data_json) values (?, ?, ?, ?, ?, ?, ?, ?)',
      now(), e.kind, e.severity, e.target ?? null, e.backupId ?? null, e.jobId ?? null, e.message, e.data === undefined ? null : JSON.stringify(e.data),
    );
  }

  /** Newest first. */
  listEvents(options: { kind?: string; limit?: number; unread?: boolean } = {}): EventRecord[] {
    const unread = options.unread ? ' and read_at is null' : '';
    const rows = options.kind
      ? this.all(`select * from events where kind = ?${unread} order by id desc limit ?`, options.kind, options.limit ?? 100)
      : this.all(`select * from events where 1 = 1${unread} order by id desc limit ?`, options.limit ?? 100);
    return rows.map((r) => this.#toEvent(r));
  }

  #toEvent(r: Row): EventRecord {
    return {
      id: Number(r.id), at: String(r.at), kind: String(r.kind), severity: r.severity as EventSeverity,
      target: (r.target as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null, jobId: (r.job_id as string | null) ?? null,
      message: String(r.message), data: r.data_json ? JSON.parse(String(r.data_json)) : null, deliveredAt: (r.delivered_at as string | null) ?? null,
      readAt: (r.read_at as string | null) ?? null,
    };
  }

  markEventsRead(ids?: number[]): number {
    const at = now();
    if (!ids) {
      const n = Number(this.one('select count(*) as n from events where read_at is null')!.n);
      this.run('update events set read_at = ? where read_at is null', at);
      return n;
    }
    for (const id of ids) this.run('update events set read_at = coalesce(read_at, ?) where id = ?', at, id);
    return ids.length;
  }

  /**
   * One page of events, newest first, with ids below `beforeId` (the cursor); `unread` only those
   * not read yet.
   */
  eventPage(options: { unread?: boolean; kind?: string; severity?: EventSeverity; target?: string; beforeId?: number; limit: number }): EventRecord[] {
    const where = ['1 = 1'];
    const params: (string | number)[] = [];
    if (options.unread) where.push('read_at is null');
    for (const [column, value] of [['kind', options.kind], ['severity', options.severity], ['target', options.target]] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    if (options.beforeId !== undefined) {
      where.push('id < ?');
      params.push(options.beforeId);
    }
    return this.all(`select * from events where ${where.join(' and ')} order by id desc limit ?`, ...params, options.limit).map((r) => this.#toEvent(r));
  }

  /** Events no one has read yet (the UI's badge). */
  unreadEventCount(): number {
    return Number(this.one('select count(*) as n from events where read_at is null')!.n);
  }

  /**
   * Marks read every event up to and including `maxId`: what a user saw on a page, and not an
   * event that arrived after it was drawn. Returns how many changed.
   */
  markEventsReadUpTo(maxId: number): number {
    return Number(this.db.prepare('update events set read_at = ? where read_at is null and id <= ?').run(now(), maxId).changes);
  }

  /** Events not yet routed to channels, oldest first; `route` decides, then they are marked routed. */
  routeEvents(route: (e: EventRecord) => { channel: string; maxAttempts: number }[], at: Date): number {
    return this.tx(() => {
      const events = this.all('select * from events where routed_at is null order by id').map((r) => this.#toEvent(r));
      for (const e of events) {
        for (const d of route(e)) {
          this.run(
            'insert or ignore into deliveries (event_id, channel, status, max_attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)',
            e.id, d.channel, 'pending', d.maxAttempts, at.toISOString(), now(), now(),
          );
        }
        this.run('update events set routed_at = ? where id = ?', now(), e.id);
      }
      return events.length;
    });
  }

  /** Records an event and one delivery of it to `channel`, routed already (`notify test`). */
  recordDirectEvent(e: { kind: string; severity: EventSeverity; message: string }, channel: string, maxAttempts: number): { eventId: number } {
    return this.tx(() => {
      this.run('insert into events (at, kind, severity, message, routed_at) values (?, ?, ?, ?, ?)', now(), e.kind, e.severity, e.message, now());
      const eventId = Number(this.one('select last_insert_rowid() as id')!.id);
      this.run('insert into deliveries (event_id, channel, status, max_attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)', eventId, channel, 'pending', maxAttempts, now(), now(), now());
      return { eventId };
    });
  }

  dueDeliveries(at: Date, only?: { eventId: number }): { id: number; eventId: number; channel: string; attempts: number; maxAttempts: number }[] {
    const rows = only
      ? this.all("select * from deliveries where status = 'pending' and event_id = ? order by id", only.eventId)
      : this.all("select * from deliveries where status = 'pending' and next_attempt_at <= ? order by id", at.toISOString());
    return rows.map((r) => ({ id: Number(r.id), eventId: Number(r.event_id), channel: String(r.channel), attempts: Number(r.attempts), maxAttempts: Number(r.max_attempts) }));
  }

  getEvent(id: number): EventRecord | undefined {
    const r = this.one('select * from events where id = ?', id);
    return r && this.#toEvent(r);
  }

  /** One attempt's outcome: sent, or failed with the next attempt at `retryAt` (none: given up). */
  recordDeliveryAttempt(id: number, a: { at: Date; ok: boolean; statusCode?: number; error?: string; retryAt?: Date }): void {
    this.tx(() => {
      this.run('insert into delivery_attempts (delivery_id, at, ok, status_code, error) values (?, ?, ?, ?, ?)', id, a.at.toISOString(), a.ok ? 1 : 0, a.statusCode ?? null, a.error ?? null);
      const status = a.ok ? 'sent' : a.retryAt ? 'pending' : 'failed';
      this.run(
        'update deliveries set status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), updated_at = ? where id = ?',
        status, a.ok ? null : (a.error ?? null), a.retryAt?.toISOString() ?? null, now(), id,
      );
      if (a.ok) this.run('update events set delivered_at = coalesce(delivered_at, ?) where id = (select event_id from deliveries where id = ?)', a.at.toISOString(), id);
    });
  }

  listDeliveries(options: { eventId?: number } = {}): { id: number; eventId: number; channel: string; status: string; attempts: number; lastError: string | null; tries: { at: string; ok: boolean; statusCode: number | null; error: string | null }[] }[] {
    const rows = options.eventId !== undefined ? this.all('select * from deliveries where event_id = ? order by id', options.eventId) : this.all('select * from deliveries order by id desc limit 200');
    return rows.map((r) => ({
      id: Number(r.id), eventId: Number(r.event_id), channel: String(r.channel), status: String(r.status), attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null,
      tries: this.all('select * from delivery_attempts where delivery_id = ? order by id', Number(r.id)).map((t) => ({
        at: String(t.at), ok: Number(t.ok) === 1, statusCode: t.status_code === null ? null : Number(t.status_code), error: (t.error as string | null) ?? null,
      })),
    }));
  }
}
