import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { LifeboatError } from '../errors.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { pidAlive } from '../util/pid.ts';
import { migrations } from './migrations.ts';

/**
 * `degraded` is not stored: it is an `ok` backup one of whose copies (a replica, or the primary
 * after a check) failed or went missing. It restores; `lifeboat replicate --pending` repairs it.
 * `deleted` is not stored either: the record of a backup retention or `delete` removed.
 */
export type BackupStatus = 'running' | 'ok' | 'degraded' | 'failed' | 'deleted';

/** True when a backup has a complete bundle somewhere: `ok`, or `degraded` with a copy left. */
export function restorable(b: BackupRecord): boolean {
  return (b.status === 'ok' || b.status === 'degraded') && b.locations.some((l) => l.status === 'ok');
}

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

export interface ScheduleRecord {
  id: number;
  target: string;
  /** As written: a cron expression or a preset such as "daily at 02:00". */
  spec: string;
  cron: string;
  timezone: string;
  paused: boolean;
  /** `config` when seeded from lifeboat.yaml (target#index), null when added by hand. */
  configKey: string | null;
  /** The time up to which the scheduler has handled this schedule's runs. */
  cursorAt: string | null;
}

export interface ScheduleRun {
  id: number;
  scheduleId: number | null;
  target: string;
  scheduledFor: string;
  startedAt: string | null;
  finishedAt: string | null;
  attempt: number;
  status: 'running' | 'succeeded' | 'failed' | 'skipped';
  reason: string | null;
  jobId: string | null;
  backupId: string | null;
}

export interface StorageUsage {
  storage: string;
  type: string;
  usedBytes: number;
  objects: number;
  freeBytes: number | null;
  totalBytes: number | null;
  checkedAt: string;
}

/** The catalog's record of one backup. */
export interface BackupRecord {
  id: string;
  target: string;
  status: BackupStatus;
  trigger: string;
  jobId: string | null;
  startedAt: string;
  finishedAt: string | null;
  size: number | null;
  compression: string | null;
  encrypted: boolean;
  sha256: string | null;
  bundleKey: string | null;
  error: string | null;
  verificationStatus: 'unverified' | 'passed' | 'failed';
  verifiedAt: string | null;
  /** How the last verification proved it: `quick` (checksums) or `full` (a test restore). */
  verificationLevel: 'quick' | 'full' | null;
  protected: boolean;
  protectedUntil: string | null;
  tags: string[];
  deletionStatus: 'none' | 'pending' | 'deleted';
  /** When a pending deletion happens. */
  deleteAfter: string | null;
  summary: BackupSummary | null;
  locations: LocationRecord[];
}

/** Figures shown in lists without reading the manifest. */
export interface BackupSummary {
  databases: number;
  tables: number;
  rows: number;
  files: number;
  appItems: number;
  durationMs: number;
  warnings: number;
}

export interface LocationRecord {
  storage: string;
  key: string;
  status: 'pending' | 'ok' | 'failed' | 'missing';
  size: number | null;
  sha256: string | null;
  error: string | null;
}

export interface RestoreRecord {
  id: string;
  backupId: string;
  requestedBy: string;
  startedAt: string;
  finishedAt: string | null;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  plan: unknown;
  report: unknown;
  safetyBackupId: string | null;
  error: string | null;
}

/** A resource a job created and has not cleaned up yet (jobs/resources.ts). */
export interface ResourceRecord {
  id: number;
  kind: string;
  location: string;
  server: string | null;
  detail: string | null;
  ownerPid: number;
  /** The owner's start mark (util/pid.ts), so a reused pid is not taken for the owner. */
  ownerMark: string | null;
  host: string;
  jobId: string | null;
  createdAt: string;
}

type Row = Record<string, SQLInputValue>;

const now = () => new Date().toISOString();

/**
 * Lifeboat's metadata: an index over what storage holds, in one SQLite file. Every read and
 * write of the catalog goes through this class, so moving it to PostgreSQL stays local.
 */
export class Catalog {
  readonly #db: DatabaseSync;
  readonly file: string;

  private constructor(db: DatabaseSync, file: string) {
    this.#db = db;
    this.file = file;
  }

  /** Opens (creating if needed) the catalog under `home` and applies pending migrations. */
  static open(home: string): Catalog {
    let db: DatabaseSync;
    const file = path.join(home, 'catalog.sqlite');
    try {
      mkdirSync(home, { recursive: true });
      db = new DatabaseSync(file);
    } catch (err) {
      throw new LifeboatError('E_CONFIG', `cannot open the catalog at ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: 'set LIFEBOAT_HOME (or home: in lifeboat.yaml) to a writable directory',
      });
    }
    db.exec('pragma journal_mode = wal; pragma busy_timeout = 10000; pragma foreign_keys = on; pragma synchronous = normal');
    const catalog = new Catalog(db, file);
    catalog.#migrate();
    return catalog;
  }

  close(): void {
    this.#db.close();
  }

  #migrate(): void {
    const current = Number((this.#db.prepare('pragma user_version').get() as { user_version: number }).user_version);
    if (current > migrations.length) {
      throw new LifeboatError('E_CONFIG', `the catalog ${this.file} was written by a newer Lifeboat (schema ${current}, this one knows ${migrations.length})`);
    }
    for (let v = current; v < migrations.length; v++) {
      this.#tx(() => {
        this.#db.exec(migrations[v]!);
        this.#db.exec(`pragma user_version = ${v + 1}`);
      });
    }
  }

  #tx<T>(fn: () => T): T {
    this.#db.exec('begin immediate');
    try {
      const result = fn();
      this.#db.exec('commit');
      return result;
    } catch (err) {
      this.#db.exec('rollback');
      throw err;
    }
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#db.prepare(sql).all(...params) as Row[];
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#db.prepare(sql).get(...params) as Row | undefined;
  }

  #run(sql: string, ...params: SQLInputValue[]): void {
    this.#db.prepare(sql).run(...params);
  }

  // ---- targets ----

  /** Records a target as configured; `config` must already be free of secrets. */
  saveTarget(name: string, config: unknown): void {
    const t = now();
    this.#run(
      `insert into targets (name, config_json, created_at, updated_at) values (?, ?, ?, ?)
       on conflict (name) do update set config_json = excluded.config_json, updated_at = excluded.updated_at`,
      name, JSON.stringify(config), t, t,
    );
  }

  // ---- locks ----

  /**
   * Takes a named lock for a job, or throws E_LOCKED naming the job that holds it. A lock whose
   * process on this host is gone is taken over.
   */
  acquireLock(name: string, jobId: string, what: string): void {
    this.#tx(() => {
      const held = this.#get('select job_id, pid, host, acquired_at from locks where name = ?', name);
      if (held) {
        const stale = held.host === hostname() && !pidAlive(Number(held.pid));
        if (!stale) {
          // Name the holder by its job: the lock may be shared by different operations (retention: prune, delete, restore).
          const kind = this.#get('select kind from jobs where id = ?', String(held.job_id))?.kind;
          const holder = kind ? `a ${String(kind).replace(/-/g, ' ')} job` : 'another job';
          throw new LifeboatError('E_LOCKED', `cannot start ${what}: ${holder} holds the ${name} lock (job ${String(held.job_id)}, pid ${String(held.pid)} on ${String(held.host)}, since ${String(held.acquired_at)})`, {
            hint: 'wait for it to finish; operations on the same target that would conflict never overlap',
          });
        }
        this.#run('delete from locks where name = ?', name);
      }
      this.#run('insert into locks (name, job_id, pid, host, acquired_at) values (?, ?, ?, ?, ?)', name, jobId, process.pid, hostname(), now());
    });
  }

  releaseLock(name: string, jobId: string): void {
    this.#run('delete from locks where name = ? and job_id = ?', name, jobId);
  }

  // ---- jobs ----

  createJob(job: { id: string; kind: string; target?: string; backupId?: string; trigger: string }): void {
    this.#run(
      'insert into jobs (id, kind, target, backup_id, trigger, status, pid, started_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      job.id, job.kind, job.target ?? null, job.backupId ?? null, job.trigger, 'running', process.pid, now(),
    );
  }

  setJobProgress(id: string, progress: unknown): void {
    this.#run('update jobs set progress_json = ? where id = ?', JSON.stringify(progress), id);
  }

  appendJobLog(id: string, level: string, message: string): void {
    this.#run(
      `insert into job_logs (job_id, seq, at, level, message)
       values (?, coalesce((select max(seq) + 1 from job_logs where job_id = ?), 1), ?, ?, ?)`,
      id, id, now(), level, message,
    );
  }

  finishJob(id: string, status: 'succeeded' | 'failed' | 'cancelled', error?: string): void {
    this.#run('update jobs set status = ?, finished_at = ?, error = ? where id = ?', status, now(), error ?? null, id);
  }

  /**
   * Marks jobs and backups whose process on this host died (killed, power cut) as failed and
   * frees their locks: a killed backup never stays "running".
   */
  recoverInterrupted(): number {
    const orphans = this.#all("select id, pid from jobs where status = 'running'").filter((j) => !pidAlive(Number(j.pid)));
    for (const { id } of orphans) {
      const j = { id: id as string };
      this.#tx(() => {
        this.#run("update jobs set status = 'failed', finished_at = ?, error = ? where id = ?", now(), 'interrupted: the process running it ended', j.id);
        this.#run(
          "update backups set status = 'failed', finished_at = coalesce(finished_at, ?), error = ? where job_id = ? and status = 'running'",
          now(), 'interrupted: the process running it ended before the bundle was complete', j.id,
        );
        this.#run("update restores set status = 'failed', finished_at = ?, error = ? where id = ? and status = 'running'", now(), 'interrupted: the process running it ended', j.id);
        this.#run('delete from locks where job_id = ?', j.id);
      });
    }
    return orphans.length;
  }

  // ---- restores ----

  startRestore(r: { id: string; backupId: string; requestedBy: string; plan: unknown }): void {
    this.#run(
      "insert into restores (id, backup_id, requested_by, started_at, status, plan_json) values (?, ?, ?, ?, 'running', ?)",
      r.id, r.backupId, r.requestedBy, now(), JSON.stringify(r.plan),
    );
  }

  finishRestore(id: string, r: { status: 'succeeded' | 'failed' | 'cancelled'; report: unknown; safetyBackupId?: string; error?: string }): void {
    this.#run(
      'update restores set status = ?, finished_at = ?, report_json = ?, safety_backup_id = coalesce(?, safety_backup_id), error = ? where id = ?',
      r.status, now(), JSON.stringify(r.report), r.safetyBackupId ?? null, r.error ?? null, id,
    );
  }

  listRestores(limit = 50): RestoreRecord[] {
    return this.#all('select * from restores order by started_at desc limit ?', limit).map((r) => ({
      id: String(r.id),
      backupId: String(r.backup_id),
      requestedBy: String(r.requested_by),
      startedAt: String(r.started_at),
      finishedAt: (r.finished_at as string | null) ?? null,
      status: r.status as RestoreRecord['status'],
      plan: JSON.parse(String(r.plan_json)) as unknown,
      report: r.report_json ? (JSON.parse(String(r.report_json)) as unknown) : null,
      safetyBackupId: (r.safety_backup_id as string | null) ?? null,
      error: (r.error as string | null) ?? null,
    }));
  }

  /** Protects a backup from retention until `until`, and tags it (e.g. `pre-restore`). */

  // ---- verifications ----

  /** Stores a verification report and sets the backup's verification status from it. */
  recordVerification(v: { id: string; backupId: string; level: 'quick' | 'full'; startedAt: string; ok: boolean; report: unknown }): void {
    this.#tx(() => {
      const finished = now();
      this.#run(
        'insert into verifications (id, backup_id, level, started_at, finished_at, ok, report_json) values (?, ?, ?, ?, ?, ?, ?)',
        v.id, v.backupId, v.level, v.startedAt, finished, v.ok ? 1 : 0, JSON.stringify(v.report),
      );
      this.#run('update backups set verification_status = ?, verified_at = ?, verification_level = ? where id = ?', v.ok ? 'passed' : 'failed', finished, v.level, v.backupId);
    });
  }

  // ---- backups ----

  /** Whether an id is taken (backups are never reused, even failed ones). */
  backupExists(id: string): boolean {
    return this.#get('select 1 from backups where id = ?', id) !== undefined;
  }

  startBackup(b: { id: string; target: string; trigger: string; jobId: string; startedAt: Date; compression: string; encrypted: boolean; bundleKey: string }): void {
    this.#run(
      'insert into backups (id, target, status, trigger, job_id, started_at, compression, encrypted, bundle_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      b.id, b.target, 'running', b.trigger, b.jobId, b.startedAt.toISOString(), b.compression, b.encrypted ? 1 : 0, b.bundleKey,
    );
  }

  /** Records a complete backup: its manifest, checksum and first location, in one transaction. */
  completeBackup(id: string, r: { size: number; sha256: string; manifest: Manifest; summary: BackupSummary; location: Omit<LocationRecord, 'error'> }): void {
    this.#tx(() => {
      this.#run(
        "update backups set status = 'ok', finished_at = ?, size = ?, sha256 = ?, manifest_json = ?, summary_json = ?, error = null where id = ?",
        r.manifest.finishedAt, r.size, r.sha256, JSON.stringify(r.manifest), JSON.stringify(r.summary), id,
      );
      this.#setLocation(id, { ...r.location, error: null });
    });
  }

  failBackup(id: string, error: string): void {
    this.#run("update backups set status = 'failed', finished_at = ?, error = ? where id = ?", now(), error, id);
  }

  /** Records where a copy of a backup is, or was meant to be, and in what state. */
  setLocation(id: string, l: LocationRecord): void {
    this.#setLocation(id, l);
  }

  #setLocation(id: string, l: LocationRecord): void {
    this.#run(
      `insert into backup_locations (backup_id, storage, key, status, size, sha256, error, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (backup_id, storage) do update set key = excluded.key, status = excluded.status, size = excluded.size,
         sha256 = excluded.sha256, error = excluded.error, updated_at = excluded.updated_at`,
      id, l.storage, l.key, l.status, l.size, l.sha256, l.error, now(),
    );
  }

  /** Newest first; all targets unless one is named; deleted ones (kept for history) only when asked. */
  listBackups(target?: string, options: { includeDeleted?: boolean } = {}): BackupRecord[] {
    const deleted = options.includeDeleted ? '' : " and deletion_status != 'deleted'";
    const rows = target
      ? this.#all(`select * from backups where target = ?${deleted} order by started_at desc, id desc`, target)
      : this.#all(`select * from backups where 1 = 1${deleted} order by started_at desc, id desc`);
    return rows.map((r) => this.#toBackup(r));
  }

  // ---- deletion and protection ----

  /** Announces an automatic deletion: the backup goes at `at` unless kept, protected or cancelled before. */
  scheduleDeletion(id: string, at: Date): void {
    this.#run("update backups set deletion_status = 'pending', delete_after = ? where id = ? and deletion_status = 'none'", at.toISOString(), id);
  }

  cancelDeletion(id: string): void {
    this.#run("update backups set deletion_status = 'none', delete_after = null where id = ? and deletion_status = 'pending'", id);
  }

  /** The bundle is gone from every storage: the record stays, for history, without locations. */
  markDeleted(id: string): void {
    this.#tx(() => {
      this.#run("update backups set deletion_status = 'deleted', delete_after = null, protected = 0, protected_until = null where id = ?", id);
      this.#run('delete from backup_locations where backup_id = ?', id);
    });
  }

  /** Protects until `until`, or for good when null; a pending deletion is cancelled. */
  setProtection(id: string, until: Date | null, tags?: string[]): void {
    this.#tx(() => {
      this.#run('update backups set protected = 1, protected_until = ? where id = ?', until?.toISOString() ?? null, id);
      if (tags) this.#run('update backups set tags = ? where id = ?', JSON.stringify(tags), id);
      this.cancelDeletion(id);
    });
  }

  unprotect(id: string): void {
    this.#run('update backups set protected = 0, protected_until = null where id = ?', id);
  }

  getBackup(id: string): BackupRecord | undefined {
    const r = this.#get('select * from backups where id = ?', id);
    return r && this.#toBackup(r);
  }

  getManifest(id: string): Manifest | undefined {
    const r = this.#get('select manifest_json from backups where id = ?', id);
    return r?.manifest_json ? (JSON.parse(String(r.manifest_json)) as Manifest) : undefined;
  }

  /** The backup a unique id prefix names; E_NOT_FOUND or E_AMBIGUOUS otherwise. */
  resolveBackup(prefix: string): BackupRecord {
    const exact = this.getBackup(prefix);
    if (exact) return exact;
    const rows = this.#all("select id from backups where substr(id, 1, length(?)) = ? order by id limit 6", prefix, prefix);
    if (rows.length === 1) return this.getBackup(String(rows[0]!.id))!;
    if (rows.length === 0) {
      throw new LifeboatError('E_NOT_FOUND', `no backup matches "${prefix}"`, { hint: 'run `lifeboat list` to see backup ids' });
    }
    const shown = rows.slice(0, 5).map((r) => String(r.id)).join(', ');
    throw new LifeboatError('E_AMBIGUOUS', `"${prefix}" matches several backups: ${shown}${rows.length > 5 ? ', ...' : ''}`, {
      hint: 'give more of the id',
    });
  }

  /**
   * Records a backup found in storage (catalog rebuild): inserted if unknown, its location
   * added if known. Verification and protection already recorded are kept.
   */
  importBackup(m: Manifest, r: { storage: string; key: string; size: number; sha256: string | null; summary: BackupSummary }): 'added' | 'updated' {
    return this.#tx(() => {
      const known = this.#get('select status from backups where id = ?', m.id);
      if (!known) {
        this.#run(
          `insert into backups (id, target, status, trigger, started_at, finished_at, size, compression, encrypted, sha256, bundle_key, manifest_json, summary_json)
           values (?, ?, 'ok', 'rebuild', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          m.id, m.target, m.startedAt, m.finishedAt, r.size, m.compression.algorithm, m.encryption.kind === 'none' ? 0 : 1,
          r.sha256, r.key, JSON.stringify(m), JSON.stringify(r.summary),
        );
      } else {
        this.#run(
          "update backups set status = 'ok', error = null, deletion_status = 'none', delete_after = null, finished_at = ?, size = ?, manifest_json = ?, summary_json = ?, sha256 = coalesce(?, sha256) where id = ?",
          m.finishedAt, r.size, JSON.stringify(m), JSON.stringify(r.summary), r.sha256, m.id,
        );
      }
      this.#setLocation(m.id, { storage: r.storage, key: r.key, status: 'ok', size: r.size, sha256: r.sha256, error: null });
      return known ? 'updated' : 'added';
    });
  }

  /** Marks every location of a storage missing; rebuild then marks what it finds as ok. */
  markStorageMissing(storage: string): void {
    this.#run("update backup_locations set status = 'missing', updated_at = ? where storage = ? and status = 'ok'", now(), storage);
  }

  recordEvent(e: { kind: string; severity: EventSeverity; message: string; target?: string; backupId?: string; jobId?: string; data?: unknown }): void {
    this.#run(
      'insert into events (at, kind, severity, target, backup_id, job_id, message, data_json) values (?, ?, ?, ?, ?, ?, ?, ?)',
      now(), e.kind, e.severity, e.target ?? null, e.backupId ?? null, e.jobId ?? null, e.message, e.data === undefined ? null : JSON.stringify(e.data),
    );
  }

  /** Newest first. */
  listEvents(options: { kind?: string; limit?: number; unread?: boolean } = {}): EventRecord[] {
    const unread = options.unread ? ' and read_at is null' : '';
    const rows = options.kind
      ? this.#all(`select * from events where kind = ?${unread} order by id desc limit ?`, options.kind, options.limit ?? 100)
      : this.#all(`select * from events where 1 = 1${unread} order by id desc limit ?`, options.limit ?? 100);
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
      const n = Number(this.#get('select count(*) as n from events where read_at is null')!.n);
      this.#run('update events set read_at = ? where read_at is null', at);
      return n;
    }
    for (const id of ids) this.#run('update events set read_at = coalesce(read_at, ?) where id = ?', at, id);
    return ids.length;
  }

  // ---- notification deliveries ----

  /** Events not yet routed to channels, oldest first; `route` decides, then they are marked routed. */
  routeEvents(route: (e: EventRecord) => { channel: string; maxAttempts: number }[], at: Date): number {
    return this.#tx(() => {
      const events = this.#all('select * from events where routed_at is null order by id').map((r) => this.#toEvent(r));
      for (const e of events) {
        for (const d of route(e)) {
          this.#run(
            'insert or ignore into deliveries (event_id, channel, status, max_attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)',
            e.id, d.channel, 'pending', d.maxAttempts, at.toISOString(), now(), now(),
          );
        }
        this.#run('update events set routed_at = ? where id = ?', now(), e.id);
      }
      return events.length;
    });
  }

  /** Records an event and one delivery of it to `channel`, routed already (`notify test`). */
  recordDirectEvent(e: { kind: string; severity: EventSeverity; message: string }, channel: string, maxAttempts: number): { eventId: number } {
    return this.#tx(() => {
      this.#run('insert into events (at, kind, severity, message, routed_at) values (?, ?, ?, ?, ?)', now(), e.kind, e.severity, e.message, now());
      const eventId = Number(this.#get('select last_insert_rowid() as id')!.id);
      this.#run('insert into deliveries (event_id, channel, status, max_attempts, next_attempt_at, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?)', eventId, channel, 'pending', maxAttempts, now(), now(), now());
      return { eventId };
    });
  }

  dueDeliveries(at: Date, only?: { eventId: number }): { id: number; eventId: number; channel: string; attempts: number; maxAttempts: number }[] {
    const rows = only
      ? this.#all("select * from deliveries where status = 'pending' and event_id = ? order by id", only.eventId)
      : this.#all("select * from deliveries where status = 'pending' and next_attempt_at <= ? order by id", at.toISOString());
    return rows.map((r) => ({ id: Number(r.id), eventId: Number(r.event_id), channel: String(r.channel), attempts: Number(r.attempts), maxAttempts: Number(r.max_attempts) }));
  }

  getEvent(id: number): EventRecord | undefined {
    const r = this.#get('select * from events where id = ?', id);
    return r && this.#toEvent(r);
  }

  /** One attempt's outcome: sent, or failed with the next attempt at `retryAt` (none: given up). */
  recordDeliveryAttempt(id: number, a: { at: Date; ok: boolean; statusCode?: number; error?: string; retryAt?: Date }): void {
    this.#tx(() => {
      this.#run('insert into delivery_attempts (delivery_id, at, ok, status_code, error) values (?, ?, ?, ?, ?)', id, a.at.toISOString(), a.ok ? 1 : 0, a.statusCode ?? null, a.error ?? null);
      const status = a.ok ? 'sent' : a.retryAt ? 'pending' : 'failed';
      this.#run(
        'update deliveries set status = ?, attempts = attempts + 1, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), updated_at = ? where id = ?',
        status, a.ok ? null : (a.error ?? null), a.retryAt?.toISOString() ?? null, now(), id,
      );
      if (a.ok) this.#run('update events set delivered_at = coalesce(delivered_at, ?) where id = (select event_id from deliveries where id = ?)', a.at.toISOString(), id);
    });
  }

  listDeliveries(options: { eventId?: number } = {}): { id: number; eventId: number; channel: string; status: string; attempts: number; lastError: string | null; tries: { at: string; ok: boolean; statusCode: number | null; error: string | null }[] }[] {
    const rows = options.eventId !== undefined ? this.#all('select * from deliveries where event_id = ? order by id', options.eventId) : this.#all('select * from deliveries order by id desc limit 200');
    return rows.map((r) => ({
      id: Number(r.id), eventId: Number(r.event_id), channel: String(r.channel), status: String(r.status), attempts: Number(r.attempts), lastError: (r.last_error as string | null) ?? null,
      tries: this.#all('select * from delivery_attempts where delivery_id = ? order by id', Number(r.id)).map((t) => ({
        at: String(t.at), ok: Number(t.ok) === 1, statusCode: t.status_code === null ? null : Number(t.status_code), error: (t.error as string | null) ?? null,
      })),
    }));
  }

  saveStorageUsage(u: Omit<StorageUsage, 'checkedAt'>): void {
    this.#run(
      `insert into storage_usage (storage, type, used_bytes, objects, free_bytes, total_bytes, checked_at) values (?, ?, ?, ?, ?, ?, ?)
       on conflict (storage) do update set type = excluded.type, used_bytes = excluded.used_bytes, objects = excluded.objects,
         free_bytes = excluded.free_bytes, total_bytes = excluded.total_bytes, checked_at = excluded.checked_at`,
      u.storage, u.type, u.usedBytes, u.objects, u.freeBytes, u.totalBytes, now(),
    );
  }

  storageUsage(): StorageUsage[] {
    return this.#all('select * from storage_usage order by storage').map((r) => ({
      storage: String(r.storage), type: String(r.type), usedBytes: Number(r.used_bytes), objects: Number(r.objects),
      freeBytes: r.free_bytes === null ? null : Number(r.free_bytes), totalBytes: r.total_bytes === null ? null : Number(r.total_bytes), checkedAt: String(r.checked_at),
    }));
  }

  /** Jobs running now (after recoverInterrupted, only those of live processes), newest first. */
  runningJobs(): { id: string; kind: string; target: string | null; backupId: string | null; trigger: string; startedAt: string; progress: unknown }[] {
    return this.#all("select * from jobs where status = 'running' order by started_at desc").map((r) => ({
      id: String(r.id), kind: String(r.kind), target: (r.target as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null,
      trigger: String(r.trigger), startedAt: String(r.started_at), progress: r.progress_json ? JSON.parse(String(r.progress_json)) : null,
    }));
  }

  // ---- schedules ----

  /**
   * Makes the catalog's schedules follow the config: a config entry is added once; when its
   * spec changes in the config, the config wins; an entry gone from the config is removed.
   * Schedules added by hand, and pause state, are kept.
   */
  syncSchedules(entries: { key: string; target: string; spec: string; cron: string; timezone: string }[]): void {
    this.#tx(() => {
      for (const e of entries) {
        const row = this.#get('select id, seeded_spec, timezone from schedules where config_key = ?', e.key);
        if (!row) {
          this.#run('insert into schedules (target, spec, cron, timezone, config_key, seeded_spec, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)', e.target, e.spec, e.cron, e.timezone, e.key, e.spec, now(), now());
        } else if (row.seeded_spec !== e.spec) {
          this.#run('update schedules set spec = ?, cron = ?, timezone = ?, seeded_spec = ?, updated_at = ? where id = ?', e.spec, e.cron, e.timezone, e.spec, now(), Number(row.id));
        }
      }
      const keys = new Set(entries.map((e) => e.key));
      for (const r of this.#all('select id, config_key from schedules where config_key is not null')) {
        if (!keys.has(String(r.config_key))) this.#run('delete from schedules where id = ?', Number(r.id));
      }
    });
  }

  listSchedules(): ScheduleRecord[] {
    return this.#all('select * from schedules order by target, id').map((r) => ({
      id: Number(r.id), target: String(r.target), spec: String(r.spec), cron: String(r.cron), timezone: String(r.timezone), paused: Number(r.paused) === 1,
      configKey: (r.config_key as string | null) ?? null, cursorAt: (r.cursor_at as string | null) ?? null,
    }));
  }

  getSchedule(id: number): ScheduleRecord {
    const found = this.listSchedules().find((x) => x.id === id);
    if (!found) throw new LifeboatError('E_NOT_FOUND', `no schedule ${id}`, { hint: 'run `lifeboat schedule list`' });
    return found;
  }

  addSchedule(s: { target: string; spec: string; cron: string; timezone: string }): number {
    this.#run('insert into schedules (target, spec, cron, timezone, created_at, updated_at) values (?, ?, ?, ?, ?, ?)', s.target, s.spec, s.cron, s.timezone, now(), now());
    return Number(this.#get('select last_insert_rowid() as id')!.id);
  }

  updateSchedule(id: number, s: { spec?: string; cron?: string; timezone?: string; paused?: boolean; cursorAt?: Date }): void {
    this.getSchedule(id);
    if (s.spec !== undefined) this.#run('update schedules set spec = ?, cron = ?, updated_at = ? where id = ?', s.spec, s.cron!, now(), id);
    if (s.timezone !== undefined) this.#run('update schedules set timezone = ?, updated_at = ? where id = ?', s.timezone, now(), id);
    if (s.paused !== undefined) this.#run('update schedules set paused = ?, updated_at = ? where id = ?', s.paused ? 1 : 0, now(), id);
    if (s.cursorAt !== undefined) this.#run('update schedules set cursor_at = ? where id = ?', s.cursorAt.toISOString(), id);
  }

  removeSchedule(id: number): void {
    this.getSchedule(id);
    this.#run('delete from schedules where id = ?', id);
  }

  startScheduleRun(r: { scheduleId: number | null; target: string; scheduledFor: Date; startedAt: Date; attempt: number; status: 'running' | 'skipped'; reason?: string }): number {
    this.#run(
      'insert into schedule_runs (schedule_id, target, scheduled_for, started_at, attempt, status, reason, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      r.scheduleId, r.target, r.scheduledFor.toISOString(), r.startedAt.toISOString(), r.attempt, r.status, r.reason ?? null, r.status === 'skipped' ? r.startedAt.toISOString() : null,
    );
    return Number(this.#get('select last_insert_rowid() as id')!.id);
  }

  finishScheduleRun(id: number, r: { status: 'succeeded' | 'failed' | 'skipped'; finishedAt: Date; reason?: string; jobId?: string; backupId?: string }): void {
    this.#run('update schedule_runs set status = ?, finished_at = ?, reason = ?, job_id = ?, backup_id = ? where id = ?', r.status, r.finishedAt.toISOString(), r.reason ?? null, r.jobId ?? null, r.backupId ?? null, id);
  }

  /** Runs left `running` by a daemon that died: the new leader calls this before it starts any. */
  failRunningScheduleRuns(reason: string): number {
    const n = Number(this.#get("select count(*) as n from schedule_runs where status = 'running'")!.n);
    this.#run("update schedule_runs set status = 'failed', finished_at = ?, reason = ? where status = 'running'", now(), reason);
    return n;
  }

  listScheduleRuns(options: { target?: string; limit?: number } = {}): ScheduleRun[] {
    const rows = options.target
      ? this.#all('select * from schedule_runs where target = ? order by id desc limit ?', options.target, options.limit ?? 50)
      : this.#all('select * from schedule_runs order by id desc limit ?', options.limit ?? 50);
    return rows.map((r) => ({
      id: Number(r.id), scheduleId: r.schedule_id === null ? null : Number(r.schedule_id), target: String(r.target), scheduledFor: String(r.scheduled_for),
      startedAt: (r.started_at as string | null) ?? null, finishedAt: (r.finished_at as string | null) ?? null, attempt: Number(r.attempt),
      status: r.status as ScheduleRun['status'], reason: (r.reason as string | null) ?? null, jobId: (r.job_id as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null,
    }));
  }

  // ---- leases: one holder at a time across processes, expiring without manual unlock ----

  /**
   * Takes or renews the lease `name` for `holder` until `now + ttlMs`. Returns false when another
   * holder's lease has not expired. Atomic: SQLite serialises the write transaction.
   */
  acquireLease(name: string, holder: string, at: Date, ttlMs: number): boolean {
    return this.#tx(() => {
      const row = this.#get('select holder, expires_at from leases where name = ?', name);
      if (row && row.holder !== holder && new Date(String(row.expires_at)) > at) return false;
      this.#run(
        `insert into leases (name, holder, heartbeat_at, expires_at) values (?, ?, ?, ?)
         on conflict (name) do update set holder = excluded.holder, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
        name, holder, at.toISOString(), new Date(at.getTime() + ttlMs).toISOString(),
      );
      return true;
    });
  }

  releaseLease(name: string, holder: string): void {
    this.#run('delete from leases where name = ? and holder = ?', name, holder);
  }

  getLease(name: string): { holder: string; heartbeatAt: string; expiresAt: string } | undefined {
    const r = this.#get('select * from leases where name = ?', name);
    return r && { holder: String(r.holder), heartbeatAt: String(r.heartbeat_at), expiresAt: String(r.expires_at) };
  }

  // ---- settings ----

  getSetting<T>(key: string): T | undefined {
    const r = this.#get('select value_json from settings where key = ?', key);
    return r ? (JSON.parse(String(r.value_json)) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.#run('insert into settings (key, value_json, updated_at) values (?, ?, ?) on conflict (key) do update set value_json = excluded.value_json, updated_at = excluded.updated_at', key, JSON.stringify(value), now());
  }

  #toBackup(r: Row): BackupRecord {
    const locations = this.#all('select storage, key, status, size, sha256, error from backup_locations where backup_id = ? order by storage', r.id as string).map(
      (l) => ({
        storage: String(l.storage),
        key: String(l.key),
        status: l.status as LocationRecord['status'],
        size: l.size === null ? null : Number(l.size),
        sha256: (l.sha256 as string | null) ?? null,
        error: (l.error as string | null) ?? null,
      }),
    );
    return {
      id: String(r.id),
      target: String(r.target),
      status: r.deletion_status === 'deleted' ? 'deleted' : r.status === 'ok' && locations.some((l) => l.status !== 'ok') ? 'degraded' : (r.status as BackupStatus),
      trigger: String(r.trigger),
      jobId: (r.job_id as string | null) ?? null,
      startedAt: String(r.started_at),
      finishedAt: (r.finished_at as string | null) ?? null,
      size: r.size === null ? null : Number(r.size),
      compression: (r.compression as string | null) ?? null,
      encrypted: Number(r.encrypted) === 1,
      sha256: (r.sha256 as string | null) ?? null,
      bundleKey: (r.bundle_key as string | null) ?? null,
      error: (r.error as string | null) ?? null,
      verificationStatus: r.verification_status as BackupRecord['verificationStatus'],
      verifiedAt: (r.verified_at as string | null) ?? null,
      verificationLevel: (r.verification_level as BackupRecord['verificationLevel']) ?? null,
      protected: Number(r.protected) === 1,
      protectedUntil: (r.protected_until as string | null) ?? null,
      tags: JSON.parse(String(r.tags)) as string[],
      deletionStatus: r.deletion_status as BackupRecord['deletionStatus'],
      deleteAfter: (r.delete_after as string | null) ?? null,
      summary: r.summary_json ? (JSON.parse(String(r.summary_json)) as BackupSummary) : null,
      locations,
    };
  }

  // ---- resources ----

  /** Records a resource a job is about to create, owned by this process (jobs/resources.ts). */
  addResource(r: { kind: string; location: string; server?: string; detail?: string; ownerPid: number; ownerMark?: string; jobId?: string }): number {
    const row = this.#get(
      'insert into resources (kind, location, server, detail, owner_pid, owner_mark, host, job_id, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id',
      r.kind, r.location, r.server ?? null, r.detail ?? null, r.ownerPid, r.ownerMark ?? null, hostname(), r.jobId ?? null, now(),
    );
    return Number(row!.id);
  }

  updateResource(id: number, r: { location: string; detail?: string }): void {
    this.#run('update resources set location = ?, detail = ? where id = ?', r.location, r.detail ?? null, id);
  }

  removeResource(id: number): void {
    this.#run('delete from resources where id = ?', id);
  }

  /** Every recorded resource, oldest first; `host` limits them to one machine's. */
  listResources(host?: string): ResourceRecord[] {
    return this.#all(`select * from resources ${host === undefined ? '' : 'where host = ?'} order by id`, ...(host === undefined ? [] : [host])).map((r) => ({
      id: Number(r.id),
      kind: String(r.kind),
      location: String(r.location),
      server: (r.server as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
      ownerPid: Number(r.owner_pid),
      ownerMark: (r.owner_mark as string | null) ?? null,
      host: String(r.host),
      jobId: (r.job_id as string | null) ?? null,
      createdAt: String(r.created_at),
    }));
  }
}
