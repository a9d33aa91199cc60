import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Catalog, ScheduleRecord } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError } from '../errors.ts';
import { parseDuration } from '../retention/policy.ts';
import type { Trigger } from '../jobs/job.ts';
import { lastRunBefore, nextRun, parseInterval, periodMs, toCron, type CronSpec } from './schedule.ts';

/** Time as the scheduler sees it; tests pass a clock they move by hand. */
export interface Clock {
  now(): Date;
}

/** Starts one backup of a target (with its check and retention); resolves with its id. */
export type BackupRunner = (target: string, options: { trigger: Trigger; signal: AbortSignal; now: Date }) => Promise<{ backupId: string }>;
/** Routes and sends due notifications. */
export type NotifyRunner = (options: { signal: AbortSignal; now: Date }) => Promise<void>;
/** Applies retention to every target. */
export type PruneRunner = (options: { signal: AbortSignal; now: Date }) => Promise<void>;
/**
 * Runs the verifications that are due: those the targets' `every`/`percentage` policies name,
 * and a test restore of the newest unverified backup of each target in `cronTargets`.
 */
export type VerifyRunner = (options: { signal: AbortSignal; now: Date; cronTargets: string[] }) => Promise<void>;
/** Runs the bare-metal drills that `verification.drill` policies make due, and their overdue alerts. */
export type DrillRunner = (options: { signal: AbortSignal; now: Date }) => Promise<void>;

export interface SchedulerOptions {
  loaded: LoadedConfig;
  catalog: Catalog;
  runBackup: BackupRunner;
  runPrune: PruneRunner;
  runVerifications?: VerifyRunner;
  runDrills?: DrillRunner;
  notify?: NotifyRunner;
  clock?: Clock;
  /** Who holds the lease: host, pid and a random part, unless given. */
  holder?: string;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** How long a lease lasts without a heartbeat: a crashed daemon's lease expires after this. */
export const LEASE_TTL_MS = 5 * 60_000;
export const LEASE = 'scheduler';

interface Pending {
  scheduleId: number | null;
  target: string;
  scheduledFor: Date;
  attempt: number;
  notBefore: Date;
  trigger: Trigger;
}

interface Running {
  target: string;
  controller: AbortController;
  done: Promise<void>;
}

/** The config's schedules as catalog entries, keyed `target#index`. */
export function configSchedules(loaded: LoadedConfig): { key: string; target: string; spec: string; cron: string; timezone: string }[] {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return Object.entries(loaded.config.targets).flatMap(([target, t]) =>
    (t.schedule ?? []).map((s, i) => ({ key: `${target}#${i}`, target, spec: s.cron, cron: toCron(s.cron), timezone: s.timezone ?? t.retention?.timezone ?? zone })),
  );
}

/**
 * The daemon's scheduling engine, one `tick()` at a time: it holds the `scheduler` lease (so two
 * daemons on one catalog never both run schedules), starts due backups within the concurrency
 * limit, never two of one target (a due run finding its target busy is recorded as skipped),
 * retries failures after `daemon.retry.delay`, runs one catch-up per schedule on start when the
 * target's last success is older than the schedule's period, applies retention every
 * `daemon.pruneEvery` followed by the verifications the targets' policies make due (and a test
 * restore when a `verification.cron` fires), and raises `backup_missing` when a target's newest successful backup is
 * older than `alertIfNoBackupFor` (default twice its schedule's period).
 */
export class Scheduler {
  readonly holder: string;
  readonly #o: SchedulerOptions;
  readonly #clock: Clock;
  readonly #queue: Pending[] = [];
  readonly #running = new Map<number, Running>();
  #started = false;
  #stopping = false;
  #leader = false;
  #lastPrune: Date | undefined;
  #pruning: Promise<void> | undefined;
  #pruneController = new AbortController();
  #verifying: Promise<void> | undefined;
  #notifying: Promise<void> | undefined;
  #drilling: Promise<void> | undefined;
  readonly #verifyDue = new Set<string>();

  constructor(options: SchedulerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  get leader(): boolean {
    return this.#leader;
  }

  /** Targets with a backup running in this daemon. */
  get busy(): string[] {
    return [...this.#running.values()].map((r) => r.target);
  }

  #log(level: 'info' | 'warn' | 'error', message: string) {
    this.#o.log?.(level, message);
  }

  /** One step of the loop: lease, due runs, queue, retention, dead-man's switch. */
  async tick(): Promise<void> {
    if (this.#stopping) return;
    const { catalog, loaded } = this.#o;
    const now = this.#clock.now();
    const wasLeader = this.#leader;
    this.#leader = catalog.acquireLease(LEASE, this.holder, now, LEASE_TTL_MS);
    if (!this.#leader) {
      if (wasLeader || !this.#started) this.#log('warn', `another daemon holds the scheduler lease (${catalog.getLease(LEASE)?.holder}); standing by`);
      this.#started = true;
      return;
    }
    const first = !this.#started || !wasLeader;
    this.#started = true;
    if (first) {
      catalog.syncSchedules(configSchedules(loaded));
      // Only the leader runs schedules: runs still marked running belong to a daemon that died.
      if (this.#running.size === 0) {
        const n = catalog.failRunningScheduleRuns('the daemon running it stopped');
        if (n) this.#log('warn', `${n} scheduled run(s) of a daemon that stopped are recorded as failed`);
      }
    }

    const mode = loaded.config.daemon.schedulerMode;
    if (mode !== 'external') {
      for (const s of catalog.listSchedules()) this.#due(s, now, first);
    }
    this.#startQueued(now);
    const pruned = this.#maybePrune(now);
    if (mode !== 'external') this.#verificationCrons(now);
    this.#maybeVerify(now, pruned);
    this.#deadMan(now);
    if (mode !== 'external') this.#maybeDrill(now);
    this.#maybeNotify(now);
  }

  /** One drill pass at a time, beside everything else: a drill takes as long as a restore. */
  #maybeDrill(now: Date): void {
    if (!this.#o.runDrills || this.#drilling || this.#stopping) return;
    this.#drilling = this.#o.runDrills({ signal: this.#pruneController.signal, now })
      .catch((err: unknown) => this.#log('warn', `drills failed to run: ${asLifeboatError(err).message}`))
      .finally(() => {
        this.#drilling = undefined;
      });
  }

  /** Sends due notifications, one flush at a time, beside everything else. */
  #maybeNotify(now: Date): void {
    if (!this.#o.notify || this.#notifying) return;
    this.#notifying = this.#o.notify({ signal: this.#pruneController.signal, now })
      .catch((err: unknown) => this.#log('warn', `notifications failed: ${asLifeboatError(err).message}`))
      .finally(() => {
        this.#notifying = undefined;
      });
  }

  /** Targets whose `verification.cron` came due since the last tick (cursor in the catalog's settings). */
  #verificationCrons(now: Date): void {
    const { catalog, loaded } = this.#o;
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    for (const [name, t] of Object.entries(loaded.config.targets)) {
      const policy = t.verification;
      if (!policy || policy === 'manual' || !policy.cron) continue;
      const key = `verify-cursor:${name}`;
      const cursor = catalog.getSetting<string>(key);
      catalog.setSetting(key, now.toISOString());
      if (!cursor) continue;
      const spec = { cron: toCron(policy.cron), timezone: t.retention?.timezone ?? t.schedule?.[0]?.timezone ?? zone };
      if (lastRunBefore(spec, now, new Date(cursor))) this.#verifyDue.add(name);
    }
  }

  /** One verification pass at a time, beside the backups: after each retention cycle, and when a cron fires. */
  #maybeVerify(now: Date, cycle: boolean): void {
    const runner = this.#o.runVerifications;
    if (!runner || this.#verifying || this.#stopping || (!cycle && this.#verifyDue.size === 0)) return;
    const cronTargets = [...this.#verifyDue];
    this.#verifyDue.clear();
    this.#verifying = runner({ signal: this.#pruneController.signal, now, cronTargets })
      .catch((err: unknown) => this.#log('warn', `verification failed to run: ${asLifeboatError(err).message}`))
      .finally(() => {
        this.#verifying = undefined;
      });
  }

  /** Queues a run now from outside the schedules (external trigger mode, the API). */
  trigger(target: string, trigger: Trigger = 'api'): void {
    const now = this.#clock.now();
    this.#queue.push({ scheduleId: null, target, scheduledFor: now, attempt: 1, notBefore: now, trigger });
    this.#startQueued(now);
  }

  #due(s: ScheduleRecord, now: Date, first: boolean): void {
    const { catalog } = this.#o;
    const spec: CronSpec = { cron: s.cron, timezone: s.timezone };
    if (!s.cursorAt) {
      catalog.updateSchedule(s.id, { cursorAt: now });
      return;
    }
    const cursor = new Date(s.cursorAt);
    if (s.paused) {
      catalog.updateSchedule(s.id, { cursorAt: now });
      return;
    }
    const last = lastRunBefore(spec, now, cursor);
    catalog.updateSchedule(s.id, { cursorAt: now });
    if (!last) return;
    if (first) {
      // Missed while no daemon ran: at most one catch-up, and only when it is needed.
      const policy = this.#o.loaded.config.daemon.catchUp;
      const success = this.#lastSuccess(s.target);
      const stale = !success || now.getTime() - success.getTime() > periodMs(spec, last);
      if (policy === 'none' || !stale) {
        catalog.startScheduleRun({ scheduleId: s.id, target: s.target, scheduledFor: last, startedAt: now, attempt: 1, status: 'skipped',
          reason: policy === 'none' ? 'missed while the daemon was down (catchUp: none)' : 'missed while the daemon was down; the last success is recent' });
        return;
      }
      this.#log('info', `catching up on ${s.target}: its run of ${last.toISOString()} was missed`);
    }
    this.#queue.push({ scheduleId: s.id, target: s.target, scheduledFor: last, attempt: 1, notBefore: now, trigger: 'schedule' });
  }

  #startQueued(now: Date): void {
    const { catalog, loaded } = this.#o;
    const limit = loaded.config.daemon.concurrency;
    for (let i = 0; i < this.#queue.length && !this.#stopping; ) {
      const p = this.#queue[i]!;
      if (p.notBefore > now) {
        i++;
        continue;
      }
      if (this.busy.includes(p.target)) {
        this.#queue.splice(i, 1);
        catalog.startScheduleRun({ scheduleId: p.scheduleId, target: p.target, scheduledFor: p.scheduledFor, startedAt: now, attempt: p.attempt, status: 'skipped', reason: `a backup of target "${p.target}" is already running` });
        this.#log('warn', `skipped the ${p.scheduledFor.toISOString()} run of ${p.target}: a backup of it is already running`);
        continue;
      }
      if (this.#running.size >= limit) break;
      this.#queue.splice(i, 1);
      this.#start(p, now);
    }
  }

  #start(p: Pending, now: Date): void {
    const { catalog, loaded } = this.#o;
    const runId = catalog.startScheduleRun({ scheduleId: p.scheduleId, target: p.target, scheduledFor: p.scheduledFor, startedAt: now, attempt: p.attempt, status: 'running' });
    const controller = new AbortController();
    this.#log('info', `starting a backup of ${p.target} (${p.trigger}${p.attempt > 1 ? `, attempt ${p.attempt}` : ''})`);
    const done = this.#o.runBackup(p.target, { trigger: p.trigger, signal: controller.signal, now }).then(
      (r) => {
        catalog.finishScheduleRun(runId, { status: 'succeeded', finishedAt: this.#clock.now(), backupId: r.backupId });
        this.#log('info', `backup ${r.backupId} of ${p.target} succeeded`);
      },
      (err: unknown) => {
        const e = asLifeboatError(err);
        if (e.code === 'E_LOCKED') {
          catalog.finishScheduleRun(runId, { status: 'skipped', finishedAt: this.#clock.now(), reason: e.message });
          this.#log('warn', `skipped ${p.target}: ${e.message}`);
          return;
        }
        catalog.finishScheduleRun(runId, { status: 'failed', finishedAt: this.#clock.now(), reason: e.message });
        const retry = loaded.config.daemon.retry;
        if (e.code !== 'E_ABORTED' && !this.#stopping && p.attempt <= retry.attempts) {
          const at = new Date(this.#clock.now().getTime() + parseInterval(retry.delay));
          this.#queue.push({ ...p, attempt: p.attempt + 1, notBefore: at });
          this.#log('warn', `backup of ${p.target} failed (${e.message}); retrying at ${at.toISOString()}`);
        } else {
          this.#log('error', `backup of ${p.target} failed: ${e.message}`);
        }
      },
    ).finally(() => {
      this.#running.delete(runId);
      if (!this.#stopping) this.#startQueued(this.#clock.now());
    });
    this.#running.set(runId, { target: p.target, controller, done });
  }

  /** Starts a retention cycle when one is due; true when it did. */
  #maybePrune(now: Date): boolean {
    const every = parseInterval(this.#o.loaded.config.daemon.pruneEvery);
    if (this.#pruning || (this.#lastPrune && now.getTime() - this.#lastPrune.getTime() < every)) return false;
    this.#lastPrune = now;
    this.#pruning = this.#o.runPrune({ signal: this.#pruneController.signal, now })
      .catch((err: unknown) => this.#log('warn', `retention failed: ${asLifeboatError(err).message}`))
      .finally(() => {
        this.#pruning = undefined;
      });
    return true;
  }

  #lastSuccess(target: string): Date | undefined {
    const b = this.#o.catalog.newestGoodBackup(target);
    return b ? new Date(b.startedAt) : undefined;
  }

  /** Raises backup_missing once per threshold while a scheduled target has no recent success. */
  #deadMan(now: Date): void {
    const { catalog, loaded } = this.#o;
    const schedules = catalog.listSchedules();
    for (const [name, target] of Object.entries(loaded.config.targets)) {
      const own = schedules.filter((s) => s.target === name && !s.paused);
      if (!own.length && !target.alertIfNoBackupFor) continue;
      const threshold = target.alertIfNoBackupFor
        ? parseDuration(target.alertIfNoBackupFor)
        : 2 * Math.min(...own.map((s) => periodMs({ cron: s.cron, timezone: s.timezone }, now)));
      const key = `deadman:${name}`;
      const state = catalog.getSetting<{ since: string; alertedAt?: string }>(key) ?? { since: now.toISOString() };
      if (!catalog.getSetting(key)) catalog.setSetting(key, state);
      const last = this.#lastSuccess(name) ?? new Date(state.since);
      const age = now.getTime() - last.getTime();
      if (age <= threshold) continue;
      if (state.alertedAt && now.getTime() - new Date(state.alertedAt).getTime() < threshold) continue;
      const hours = Math.round(age / 3_600_000);
      catalog.recordEvent({
        kind: 'backup_missing', severity: 'error', target: name,
        message: `target ${name} has no successful backup for ${hours} hour(s) (alert after ${Math.round(threshold / 3_600_000)} h)`,
        data: { lastSuccess: this.#lastSuccess(name)?.toISOString() ?? null, thresholdMs: threshold },
      });
      catalog.setSetting(key, { ...state, alertedAt: now.toISOString() });
      this.#log('error', `backup_missing: ${name} has no successful backup for ${hours} hour(s)`);
    }
  }

  /** The next run of every schedule, for `lifeboat status`. */
  static upcoming(catalog: Catalog, now: Date): { schedule: ScheduleRecord; next: Date | null }[] {
    return catalog.listSchedules().map((s) => ({ schedule: s, next: s.paused ? null : nextRun({ cron: s.cron, timezone: s.timezone }, now) }));
  }

  /** Waits for everything running (backups, retention); for tests and shutdown. */
  async settle(): Promise<void> {
    while (this.#running.size || this.#pruning || this.#verifying || this.#notifying || this.#drilling) {
      await Promise.all([...[...this.#running.values()].map((r) => r.done), this.#pruning, this.#verifying, this.#notifying, this.#drilling]);
    }
  }

  /**
   * Graceful stop: no new runs; running backups get `graceMs` to finish, then are cancelled
   * (their own abort path leaves no half bundle); the lease is released.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#queue.length = 0;
    const all = Promise.all([...this.#running.values()].map((r) => r.done));
    const wait = new AbortController();
    const timer = sleep(graceMs, 'timeout' as const, { signal: wait.signal }).catch(() => 'done' as const);
    const outcome = await Promise.race([all.then(() => 'done' as const), timer]);
    wait.abort();
    if (outcome === 'timeout') {
      this.#log('warn', `cancelling ${this.#running.size} running backup(s) after ${Math.round(graceMs / 1000)} s`);
      for (const r of this.#running.values()) r.controller.abort();
      await all;
    }
    this.#pruneController.abort();
    await Promise.all([this.#pruning, this.#verifying, this.#notifying, this.#drilling]);
    this.#o.catalog.releaseLease(LEASE, this.holder);
  }
}
