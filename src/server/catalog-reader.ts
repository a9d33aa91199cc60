import { Worker } from 'node:worker_threads';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError, type ErrorCode } from '../errors.ts';
import { queryBackupsJson, type BackupQuery } from '../reports/backups.ts';
import { PageMemo } from '../reports/page-memo.ts';

/** A question to the reader thread. */
export interface ReaderAsk {
  id: number;
  query: BackupQuery;
}

/** Its answer: the page as UTF-8 JSON, or the error the same question raises in this thread. */
export type ReaderAnswer = { id: number; bytes: Uint8Array<ArrayBuffer> } | { id: number; error: { code: ErrorCode; message: string; hint: string | undefined } };

/** The thread's entry (it installs the loader, as bin/lifeboat.js does) and its module. */
const THREAD = new URL('../../bin/thread.js', import.meta.url);
const MODULE = new URL('./catalog-reader-worker.ts', import.meta.url).href;

/**
 * The reader thread's young generation. The process runs with a 2 MB one (bin/lifeboat.js, for
 * a streamed backup's RSS) and V8's flags reach every thread; a page's rows and text (~60 KB)
 * die young, and with 2 MB the thread collected every ~30 pages.
 */
const YOUNG_GENERATION_MB = 24;

/**
 * Pages of the backup list read by a worker thread with its own connection to the catalog,
 * while this thread serves HTTP: a listing is mostly SQLite's work, and under load the one
 * thread doing both was the limit (bench/README.md, "HTTP API", session 14). SQLite in WAL mode
 * lets the two connections read at once; a write committed here is seen by the reader's next
 * page, as another process's would be.
 *
 * The thread starts with the first page asked; until it is ready, and for good if it fails,
 * pages are read in this thread: a reader that cannot start costs speed, never an answer.
 */
export class CatalogReader {
  readonly #catalog: Catalog;
  readonly #log: (level: 'warn' | 'debug', message: string) => void;
  readonly #module: string;
  #worker: Worker | undefined;
  #exited: Promise<void> = Promise.resolve();
  #ready = false;
  /** Failed or closed: every page is read in this thread from now on. */
  #done = false;
  #next = 0;
  readonly #memo = new PageMemo<Uint8Array<ArrayBuffer>>();
  readonly #waiting = new Map<number, { query: BackupQuery; resolve: (page: Uint8Array<ArrayBuffer> | string) => void; reject: (err: Error) => void }>();

  /** `module`: the thread's module, for tests (one that fails to load). */
  constructor(catalog: Catalog, log: (level: 'warn' | 'debug', message: string) => void, options: { module?: string } = {}) {
    this.#catalog = catalog;
    this.#log = log;
    this.#module = options.module ?? MODULE;
  }

  /**
   * A page of `GET /api/v1/backups` as queryBackupsJson gives it (from the thread: UTF-8 bytes).
   * Pages of questions asked again are kept here, as queryBackupsJson keeps them, under this
   * connection's change mark read before the thread is asked: a write by anyone changes it.
   */
  backupsPage(query: BackupQuery): Promise<Uint8Array<ArrayBuffer> | string> | Uint8Array<ArrayBuffer> | string {
    if (!this.#done && !this.#worker) this.#start();
    if (!this.#ready) return queryBackupsJson(this.#catalog, query);
    const key = JSON.stringify(query);
    let read: string | undefined;
    const mark = () => (read ??= this.#catalog.changeMark());
    const hit = this.#memo.get(key, mark, query.now !== undefined);
    if (hit !== undefined) return hit;
    const at = this.#memo.seen(key) ? mark() : undefined;
    const id = this.#next++;
    return new Promise<Uint8Array<ArrayBuffer> | string>((resolve, reject) => {
      this.#waiting.set(id, { query, resolve, reject });
      this.#worker!.postMessage({ id, query } satisfies ReaderAsk);
    }).then((page) => {
      if (typeof page !== 'string') this.#memo.put(key, at, page);
      return page;
    });
  }

  /** Stops the thread (its connection closed first); pages still awaited are read in this one. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#stop();
    if (!worker) return;
    worker.postMessage('close');
    const late = setTimeout(() => void worker.terminate(), 2000);
    await this.#exited;
    clearTimeout(late);
  }

  #start(): void {
    const worker = new Worker(THREAD, {
      workerData: { module: this.#module, file: this.#catalog.file },
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    this.#worker = worker;
    this.#exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    // Never what keeps the process alive: serve's shutdown closes the reader, a test may not.
    worker.unref();
    worker.on('message', (m: ReaderAnswer | { ready: true }) => {
      if ('ready' in m) {
        this.#ready = !this.#done;
        this.#log('debug', 'the catalog reader thread is ready');
        return;
      }
      const waiting = this.#waiting.get(m.id);
      if (!waiting) return;
      this.#waiting.delete(m.id);
      if ('bytes' in m) waiting.resolve(m.bytes);
      else waiting.reject(new LifeboatError(m.error.code, m.error.message, { hint: m.error.hint }));
    });
    worker.on('error', (err) => this.#fail(`failed: ${err.message}`));
    worker.on('exit', (code) => this.#fail(`exited (${code})`));
  }

  #fail(what: string): void {
    if (this.#done) return;
    this.#log('warn', `the catalog reader thread ${what}; pages of the backup list are read in the main thread from now on`);
    this.#stop();
  }

  /** No more pages from the thread: those awaited are read here. */
  #stop(): void {
    this.#done = true;
    this.#ready = false;
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id);
      try {
        w.resolve(queryBackupsJson(this.#catalog, w.query));
      } catch (err) {
        w.reject(err as Error);
      }
    }
  }
}
