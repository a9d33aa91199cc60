import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import type { PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import type { Job } from './job.ts';

type Block = NonNullable<DatabaseManifest['dumpIndex']>['tables'][number];

/**
 * Restores a database into a scratch database while its dump is still being extracted from the
 * bundle, instead of after: the schema as soon as the dump's table of contents is on disk, then
 * each table's rows, two tables at a time like `pg_restore -j2`, each fed to
 * `pg_restore --data-only` on its standard input from the dump file as it grows (the table of
 * contents, then the table's data block, whose place the manifest's dump index gives). What
 * needs the whole file waits for it: `finish` restores the rest of the data section (sequence
 * values, large objects), then indexes and constraints with `pg_restore -j2`.
 *
 * Nothing here is trusted before the bundle's checksums have passed: the caller renames the
 * scratch database into place only after `finish` and the row counts, and drops it on any
 * failure.
 */
export class StreamingRestore {
  readonly #tools: PgTools;
  readonly #scratch: PgEndpoint;
  readonly #m: DatabaseManifest;
  readonly #file: string;
  readonly #dir: string;
  readonly #job: Job;
  readonly #owner: string[];
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  #size = 0;
  #inputEnded = false;
  #driving: Promise<void> | undefined;

  /** `file` is where the extraction writes the dump; it may not exist yet. */
  constructor(tools: PgTools, scratch: PgEndpoint, m: DatabaseManifest, file: string, job: Job, noOwner: boolean) {
    this.#tools = tools;
    this.#scratch = scratch;
    this.#m = m;
    this.#file = file;
    this.#dir = path.dirname(file);
    this.#job = job;
    this.#owner = noOwner ? ['--no-owner', '--no-acl'] : [];
    this.#signal = AbortSignal.any([job.signal, this.#stop.signal]);
  }

  /** Whether the manifest says enough about the dump to restore it while it is extracted. */
  static possible(m: DatabaseManifest): boolean {
    return m.dumpIndex !== undefined && m.dumpIndex.tables.every((t) => Number.isInteger(t.dumpId));
  }

  /** Starts following the dump file. */
  start(): void {
    this.#driving = this.#drive();
    this.#driving.catch(() => undefined); // awaited by finish(); a failure before then must not go unhandled
  }

  /** After the whole dump is on disk and checked: the rest of the data section, then indexes and constraints. */
  async finish(): Promise<void> {
    this.#inputEnded = true; // the extraction has written (and checked) the whole dump
    await this.#driving;
    const loaded = new Set(this.#m.dumpIndex!.tables.map((b) => b.dumpId));
    const list = await this.#capture(['-l', this.#file]);
    const rest = list.split('\n').filter((line) => {
      const id = /^(\d+);/.exec(line)?.[1];
      return id !== undefined && !loaded.has(Number(id));
    });
    const listFile = path.join(this.#dir, `${encodeURIComponent(this.#m.name)}.rest.list`);
    await fs.writeFile(listFile, rest.join('\n') + '\n');
    await this.#restore(['--section=data', `--use-list=${listFile}`, this.#file], 'sequence values and large objects');
    await this.#restore(['--section=post-data', '--jobs=2', this.#file], 'indexes and constraints');
  }

  /** Stops every pg_restore this started. */
  abort(): void {
    this.#stop.abort();
  }

  async #drive(): Promise<void> {
    const index = this.#m.dumpIndex!;
    await this.#waitFor(index.tocLength);
    const toc = Buffer.alloc(index.tocLength);
    const fh = await fs.open(this.#file, 'r');
    try {
      await fh.read(toc, 0, toc.length, 0);
    } finally {
      await fh.close();
    }
    if (toc.toString('latin1', 0, 5) !== 'PGDMP') throw indexMismatch(this.#m.name, 'the dump does not start with a custom-format header');
    const tocFile = path.join(this.#dir, `${encodeURIComponent(this.#m.name)}.toc.dump`);
    await fs.writeFile(tocFile, toc);
    this.#job.log('info', `restoring the schema of ${this.#m.name}, then its tables' rows while the bundle is read`);
    await this.#restore(['--section=pre-data', tocFile], 'the schema');
    const queue = [...index.tables].sort((a, b) => a.offset - b.offset);
    const worker = async () => {
      for (let block = queue.shift(); block; block = queue.shift()) await this.#load(block, toc);
    };
    await Promise.all([worker(), worker()]);
  }

  /** One table's rows: the TOC and its data block, read from the dump file as it is written. */
  async #load(block: Block, toc: Buffer): Promise<void> {
    const fh = await fs.open(this.#file, 'r');
    try {
      // The block must start where the index says: its type (1, data) and its dump id.
      await this.#waitFor(block.offset + 6);
      const head = Buffer.alloc(6);
      await fh.read(head, 0, 6, block.offset);
      if (head[0] !== 1 || head[1] !== 0 || head.readUInt32LE(2) !== block.dumpId) throw indexMismatch(this.#m.name, `no data block for ${block.schema}.${block.name} where the index says`);
      await this.#feed(block, toc, fh);
    } finally {
      await fh.close();
    }
  }

  async #feed(block: Block, toc: Buffer, fh: fs.FileHandle): Promise<void> {
    const listFile = path.join(this.#dir, `${encodeURIComponent(this.#m.name)}.${block.dumpId}.list`);
    await fs.writeFile(listFile, `${block.dumpId};\n`);
    const run = runTool(this.#tools.pgRestore, ['--dbname', this.#scratch.url, '--data-only', '--exit-on-error', '--no-password', ...this.#owner, `--use-list=${listFile}`], this.#scratch, this.#signal, { input: true });
    run.stdout.resume();
    const failed = this.#failed(run.done, `the rows of ${block.schema}.${block.name}`);
    failed.catch(() => undefined);
    const write = async (data: Buffer) => {
      if (!run.stdin!.write(data)) await Promise.race([new Promise<void>((resolve) => run.stdin!.once('drain', () => resolve())), failed]);
    };
    await write(toc);
    const end = block.offset + block.length;
    for (let pos = block.offset; pos < end; ) {
      await this.#waitFor(pos + 1);
      const n = Math.min(end, this.#size, pos + (1 << 20)) - pos;
      const { bytesRead, buffer } = await fh.read(Buffer.allocUnsafe(n), 0, n, pos);
      await write(buffer.subarray(0, bytesRead));
      pos += bytesRead;
    }
    run.stdin!.end();
    await failed;
  }

  /** Waits until the dump file holds `n` bytes. */
  async #waitFor(n: number): Promise<void> {
    while (this.#size < n) {
      this.#signal.throwIfAborted();
      const ended = this.#inputEnded;
      this.#size = (await fs.stat(this.#file).catch(() => undefined))?.size ?? 0;
      if (this.#size >= n) return;
      if (ended) throw indexMismatch(this.#m.name, `the dump ends before byte ${n}, which the index points to`);
      await sleep(20, undefined, { signal: this.#signal }).catch(() => undefined);
    }
  }

  async #restore(args: string[], what: string): Promise<void> {
    const run = runTool(this.#tools.pgRestore, ['--dbname', this.#scratch.url, '--exit-on-error', '--no-password', ...this.#owner, ...args], this.#scratch, this.#signal);
    run.stdout.resume();
    await this.#failed(run.done, what);
  }

  async #capture(args: string[]): Promise<string> {
    const run = runTool(this.#tools.pgRestore, args, this.#scratch, this.#signal);
    const chunks: Buffer[] = [];
    for await (const c of run.stdout) chunks.push(c as Buffer);
    await run.done;
    return Buffer.concat(chunks).toString('utf8');
  }

  async #failed(done: Promise<void>, what: string): Promise<void> {
    await done.catch((err: unknown) => {
      throw pgRestoreFailed(err, `${this.#m.name} (${what})`);
    });
  }
}

/** A pg_restore failure as the restore reports it, with a hint when the objects' owners are missing. */
export function pgRestoreFailed(err: unknown, what: string): LifeboatError {
  const e = asLifeboatError(err);
  return new LifeboatError(e.code === 'E_ABORTED' ? 'E_ABORTED' : 'E_RESTORE_FAILED', `pg_restore of ${what} failed: ${e.message.replace(/^pg_restore failed on [^:]+: /, '')}`, {
    cause: err,
    hint: /role .* does not exist/.test(e.message) ? 'the roles that own the objects are missing on the target: restore roles first, or pass --no-owner' : undefined,
  });
}

/**
 * The dump index does not match the dump (a manifest from another dump, or an indexer bug): the
 * caller restores the plain way, into a fresh scratch database.
 */
function indexMismatch(database: string, why: string): LifeboatError {
  return new LifeboatError('E_DUMP_INDEX', `the dump index of ${database} does not match its dump: ${why}`);
}
