import { asLifeboatError } from '../errors.ts';
import type { JobListener, Progress } from '../jobs/job.ts';
import { problemOf, type Problem } from './problem.ts';

/** One thing a job said, numbered so a client that reconnects (Last-Event-ID) gets only what it missed. */
export interface JobEvent {
  seq: number;
  event: 'progress' | 'log' | 'done';
  data: unknown;
  /** The event as the SSE wire carries it, made once for every client. */
  text: string;
}

/** How a job the API started ended: its state and the operation's result, or the problem it failed with. */
export interface JobOutcome {
  state: 'succeeded' | 'failed' | 'cancelled';
  result?: unknown;
  error?: Problem;
}

/** Log lines kept per job for late clients; past it the oldest go (the catalog keeps them all). */
const MAX_LINES = 5000;
/** How long a finished job's events stay in memory for clients that come late. */
const KEEP_MS = 10 * 60_000;
/**
 * Progress goes to clients at most this often: a backup reports it for every chunk it writes,
 * hundreds of times a second, and a hundred clients each sent each of those would slow the
 * backup itself. The latest progress is always the one sent.
 */
const PROGRESS_EVERY_MS = 250;

class LiveJob {
  readonly id: string;
  readonly kind: string;
  readonly lines: JobEvent[] = [];
  progress: JobEvent | undefined;
  done: JobEvent | undefined;
  readonly subscribers = new Set<(e: JobEvent) => void>();
  readonly controller: AbortController;
  #seq = 0;
  #progressSentAt = 0;
  #progressTimer: NodeJS.Timeout | undefined;

  constructor(id: string, kind: string, controller: AbortController) {
    this.id = id;
    this.kind = kind;
    this.controller = controller;
  }

  push(event: JobEvent['event'], data: unknown): void {
    if (event === 'progress') return this.#progress(data);
    // The end comes after the last progress, which must not be held back behind it.
    if (event === 'done') this.#flushProgress();
    const e = this.#event(event, data);
    if (event === 'log') {
      this.lines.push(e);
      if (this.lines.length > MAX_LINES) this.lines.shift();
    } else this.done = e;
    this.#send(e);
  }

  #event(event: JobEvent['event'], data: unknown): JobEvent {
    const seq = ++this.#seq;
    return { seq, event, data, text: `id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n` };
  }

  #send(e: JobEvent): void {
    for (const s of this.subscribers) s(e);
  }

  /** Keeps the latest progress; sends it now, or when PROGRESS_EVERY_MS has passed since the last. */
  #pending: unknown;
  #progress(data: unknown): void {
    this.#pending = data;
    const wait = this.#progressSentAt + PROGRESS_EVERY_MS - Date.now();
    if (wait <= 0) return this.#flushProgress();
    this.#progressTimer ??= setTimeout(() => this.#flushProgress(), wait);
  }

  #flushProgress(): void {
    clearTimeout(this.#progressTimer);
    this.#progressTimer = undefined;
    if (this.#pending === undefined) return;
    this.progress = this.#event('progress', this.#pending);
    this.#pending = undefined;
    this.#progressSentAt = Date.now();
    this.#send(this.progress);
  }

  /** What a client joining now is sent first: every kept log line, the latest progress, the end. */
  replay(after = 0): JobEvent[] {
    const all = [...this.lines, ...(this.progress ? [this.progress] : []), ...(this.done ? [this.done] : [])];
    return all.filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq);
  }
}

/**
 * Operations the API started in this process: their ids, and their progress and log lines for
 * server-sent events. A client that disconnects never touches the job: the job runs on its own
 * signal, which only the server's shutdown (after its grace period) or a cancel request fires.
 */
export class JobHub {
  readonly #jobs = new Map<string, LiveJob>();
  readonly #running = new Set<Promise<unknown>>();

  /**
   * Starts an operation and answers once its first job record exists, with that job's id. An
   * operation that fails before it gets that far (an unknown target, a held lock) rejects here,
   * so the request is answered with that error instead of a job that failed at once.
   */
  start<T>(kind: string, run: (listener: JobListener, signal: AbortSignal) => Promise<T>, shape: (result: T) => unknown = (r) => r): Promise<{ jobId: string }> {
    const controller = new AbortController();
    let live: LiveJob | undefined;
    return new Promise((resolve, reject) => {
      const listener: JobListener = {
        onStart: (jobId, jobKind) => {
          if (live) {
            live.push('log', { level: 'info', message: `${jobKind} started (job ${jobId})`, at: new Date().toISOString() });
            return;
          }
          live = new LiveJob(jobId, kind, controller);
          this.#jobs.set(jobId, live);
          resolve({ jobId });
        },
        onLog: (level, message) => live?.push('log', { level, message, at: new Date().toISOString() }),
        onProgress: (p: Progress) => live?.push('progress', p),
      };
      const p = run(listener, controller.signal).then(
        (result) => this.#finish(live, { state: 'succeeded', result: shape(result) }),
        (err) => {
          const e = asLifeboatError(err);
          if (!live) return reject(e);
          this.#finish(live, { state: e.code === 'E_ABORTED' ? 'cancelled' : 'failed', error: problemOf(e) });
        },
      );
      this.#running.add(p);
      void p.finally(() => this.#running.delete(p));
    });
  }

  #finish(live: LiveJob | undefined, outcome: JobOutcome): void {
    if (!live) return;
    live.push('done', outcome);
    live.subscribers.clear();
    setTimeout(() => this.#jobs.delete(live.id), KEEP_MS).unref();
  }

  get(id: string): { kind: string; replay(after?: number): JobEvent[]; outcome: JobOutcome | undefined } | undefined {
    const live = this.#jobs.get(id);
    return live && { kind: live.kind, replay: (after) => live.replay(after), outcome: live.done?.data as JobOutcome | undefined };
  }

  /** Calls `fn` with every event of the job from now on; returns the unsubscribe. Undefined when the job is not live here. */
  subscribe(id: string, fn: (e: JobEvent) => void): (() => void) | undefined {
    const live = this.#jobs.get(id);
    if (!live || live.done) return undefined;
    live.subscribers.add(fn);
    return () => live.subscribers.delete(fn);
  }

  /** Asks a running job to stop; it cleans up and ends as cancelled. */
  cancel(id: string): boolean {
    const live = this.#jobs.get(id);
    if (!live || live.done) return false;
    live.controller.abort();
    return true;
  }

  get running(): number {
    return this.#running.size;
  }

  /** Shutdown: running operations get `graceMs` to finish, then are cancelled and awaited. */
  async stop(graceMs: number): Promise<void> {
    const all = Promise.allSettled([...this.#running]);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([all, timer])) === 'timeout') {
      for (const live of this.#jobs.values()) live.controller.abort();
      await all;
    }
  }
}
