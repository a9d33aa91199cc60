import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import { asLifeboatError } from '../errors.ts';
import { runWithLedger } from '../util/resource-ledger.ts';
import { catalogLedger } from './resources.ts';

/** Progress of a long operation; `total` is an estimate where the end is not known. */
export interface Progress {
  phase: string;
  /** What is being worked on now, e.g. `databases/app.dump`. */
  current?: string;
  done: number;
  total?: number;
  unit: 'bytes' | 'items';
}

/** How a job tells whoever started it what happens: the CLI prints, the API streams (SSE). */
export interface JobListener {
  /** A job record exists: the API answers 202 with this id. An operation may run several jobs (a backup, then its check). */
  onStart?(jobId: string, kind: string): void;
  onLog?(level: 'info' | 'warn' | 'error', message: string): void;
  onProgress?(progress: Progress): void;
}

/** How a job was started. */
export type Trigger = 'manual' | 'schedule' | 'api' | 'pre-restore';

/**
 * One run of an operation, recorded in the catalog with its log lines and progress.
 * `signal` aborts it; operations check it between steps and pass it to every stream.
 */
export class Job {
  readonly id = randomUUID();
  readonly signal: AbortSignal;
  readonly #catalog: Catalog;
  readonly #listener: JobListener;
  #lastSaved = 0;

  constructor(catalog: Catalog, listener: JobListener, signal: AbortSignal) {
    this.#catalog = catalog;
    this.#listener = listener;
    this.signal = signal;
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.#catalog.appendJobLog(this.id, level, message);
    this.#listener.onLog?.(level, message);
  }

  /** Writes a line to the job's log in the catalog only: for what the caller shows itself (a plan's checks). */
  record(level: 'info' | 'warn' | 'error', message: string): void {
    this.#catalog.appendJobLog(this.id, level, message);
  }

  /** Reports progress; the catalog copy is written at most once a second. */
  progress(p: Progress): void {
    this.#listener.onProgress?.(p);
    const t = Date.now();
    if (t - this.#lastSaved >= 1000) {
      this.#lastSaved = t;
      this.#catalog.setJobProgress(this.id, p);
    }
  }

  /**
   * Creates the job record, runs `fn`, and records the outcome. Errors are rethrown as
   * LifeboatErrors after they are logged.
   */
  static async run<T>(
    catalog: Catalog,
    spec: { kind: string; target?: string; backupId?: string; trigger: Trigger },
    listener: JobListener,
    signal: AbortSignal,
    fn: (job: Job) => Promise<T>,
  ): Promise<T> {
    const job = new Job(catalog, listener, signal);
    catalog.createJob({ id: job.id, ...spec });
    listener.onStart?.(job.id, spec.kind);
    try {
      // Whatever the run creates (scratch databases, temp files, tool processes) is recorded
      // in the catalog with this process as its owner (jobs/resources.ts).
      const result = await runWithLedger(catalogLedger(catalog, job.id), () => fn(job));
      catalog.finishJob(job.id, 'succeeded');
      return result;
    } catch (err) {
      const e = asLifeboatError(err);
      job.log('error', e.message);
      catalog.finishJob(job.id, e.code === 'E_ABORTED' ? 'cancelled' : 'failed', e.message);
      throw e;
    }
  }
}
