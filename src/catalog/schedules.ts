import { LifeboatError } from '../errors.ts';
import { now } from './store.ts';
import { EventQueries } from './events.ts';

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

/** The daemon's schedules and the record of each scheduled run. */
export class ScheduleQueries extends EventQueries {
  /**
   * Makes the catalog's schedules follow the config: a config entry is added once; when its
   * spec changes in the config, the config wins; an entry gone from the config is removed.
   * Schedules added by hand, and pause state, are kept.
   */
  syncSchedules(entries: { key: string; target: string; spec: string; cron: string; timezone: string }[]): void {
    this.tx(() => {
      for (const e of entries) {
        const row = this.one('select id, seeded_spec, timezone from schedules where config_key = ?', e.key);
        if (!row) {
          this.run('insert into schedules (target, spec, cron, timezone, config_key, seeded_spec, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)', e.target, e.spec, e.cron, e.timezone, e.key, e.spec, now(), now());
        } else if (row.seeded_spec !== e.spec) {
          this.run('update schedules set spec = ?, cron = ?, timezone = ?, seeded_spec = ?, updated_at = ? where id = ?', e.spec, e.cron, e.timezone, e.spec, now(), Number(row.id));
        }
      }
      const keys = new Set(entries.map((e) => e.key));
      for (const r of this.all('select id, config_key from schedules where config_key is not null')) {
        if (!keys.has(String(r.config_key))) this.run('delete from schedules where id = ?', Number(r.id));
      }
    });
  }

  listSchedules(): ScheduleRecord[] {
    return this.all('select * from schedules order by target, id').map((r) => ({
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
    this.run('insert into schedules (target, spec, cron, timezone, created_at, updated_at) values (?, ?, ?, ?, ?, ?)', s.target, s.spec, s.cron, s.timezone, now(), now());
    return Number(this.one('select last_insert_rowid() as id')!.id);
  }

  updateSchedule(id: number, s: { spec?: string; cron?: string; timezone?: string; paused?: boolean; cursorAt?: Date }): void {
    this.getSchedule(id);
    if (s.spec !== undefined) this.run('update schedules set spec = ?, cron = ?, updated_at = ? where id = ?', s.spec, s.cron!, now(), id);
    if (s.timezone !== undefined) this.run('update schedules set timezone = ?, updated_at = ? where id = ?', s.timezone, now(), id);
    if (s.paused !== undefined) this.run('update schedules set paused = ?, updated_at = ? where id = ?', s.paused ? 1 : 0, now(), id);
    if (s.cursorAt !== undefined) this.run('update schedules set cursor_at = ? where id = ?', s.cursorAt.toISOString(), id);
  }

  removeSchedule(id: number): void {
    this.getSchedule(id);
    this.run('delete from schedules where id = ?', id);
  }

  startScheduleRun(r: { scheduleId: number | null; target: string; scheduledFor: Date; startedAt: Date; attempt: number; status: 'running' | 'skipped'; reason?: string }): number {
    this.run(
      'insert into schedule_runs (schedule_id, target, scheduled_for, started_at, attempt, status, reason, finished_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      r.scheduleId, r.target, r.scheduledFor.toISOString(), r.startedAt.toISOString(), r.attempt, r.status, r.reason ?? null, r.status === 'skipped' ? r.startedAt.toISOString() : null,
    );
    return Number(this.one('select last_insert_rowid() as id')!.id);
  }

  finishScheduleRun(id: number, r: { status: 'succeeded' | 'failed' | 'skipped'; finishedAt: Date; reason?: string; jobId?: string; backupId?: string }): void {
    this.run('update schedule_runs set status = ?, finished_at = ?, reason = ?, job_id = ?, backup_id = ? where id = ?', r.status, r.finishedAt.toISOString(), r.reason ?? null, r.jobId ?? null, r.backupId ?? null, id);
  }

  /** Runs left `running` by a daemon that died: the new leader calls this before it starts any. */
  failRunningScheduleRuns(reason: string): number {
    const n = Number(this.one("select count(*) as n from schedule_runs where status = 'running'")!.n);
    this.run("update schedule_runs set status = 'failed', finished_at = ?, reason = ? where status = 'running'", now(), reason);
    return n;
  }

  listScheduleRuns(options: { target?: string; limit?: number } = {}): ScheduleRun[] {
    const rows = options.target
      ? this.all('select * from schedule_runs where target = ? order by id desc limit ?', options.target, options.limit ?? 50)
      : this.all('select * from schedule_runs order by id desc limit ?', options.limit ?? 50);
    return rows.map((r) => ({
      id: Number(r.id), scheduleId: r.schedule_id === null ? null : Number(r.schedule_id), target: String(r.target), scheduledFor: String(r.scheduled_for),
      startedAt: (r.started_at as string | null) ?? null, finishedAt: (r.finished_at as string | null) ?? null, attempt: Number(r.attempt),
      status: r.status as ScheduleRun['status'], reason: (r.reason as string | null) ?? null, jobId: (r.job_id as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null,
    }));
  }
}
