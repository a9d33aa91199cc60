import fs from 'node:fs/promises';
import path from 'node:path';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, type PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import { readToc, SECTION, type TocEntry } from '../postgres/dump-index.ts';
import { ident } from '../postgres/introspect.ts';
import type { DumpProgress } from './dump-progress.ts';
import type { Job } from './job.ts';

/** How much of the dump file a loader reads at a time. */
const READ_SIZE = 1 << 20;

type Block = NonNullable<DatabaseManifest['dumpIndex']>['tables'][number];

/**
 * Restores a database into a scratch database while its dump is still being extracted from the
 * bundle, instead of after: the schema as soon as the dump's table of contents is on disk, then
 * each table's rows, two tables at a time like `pg_restore -j2`, each fed to
 * `pg_restore` on its standard input from the dump file as it grows (the table of contents, then
 * the table's data block, whose place the manifest's dump index gives). The same pg_restore then
 * builds what depends on that table alone (its indexes, primary key, triggers), as
 * `pg_restore -j2` does once a table's rows are in, so index builds overlap the other loads.
 * What needs the whole file or several tables waits for it: `finish` restores the rest of the
 * data section (sequence values, large objects), then the remaining post-data items (foreign
 * keys) with `pg_restore -j2`.
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
  readonly #progress: DumpProgress;
  /** Post-data entries restored with their table's rows. */
  readonly #done = new Set<number>();
  /**
   * Row counts of the tables loaded, `schema.name` to rows, each counted as soon as its rows
   * were in (while other tables still load) rather than all at the end. Valid once `finish`
   * has resolved.
   */
  readonly counted = new Map<string, number>();
  #driving: Promise<void> | undefined;

  /** `file` is where the extraction writes the dump (it may not exist yet), reporting to `progress`. */
  constructor(tools: PgTools, scratch: PgEndpoint, m: DatabaseManifest, file: string, progress: DumpProgress, job: Job, noOwner: boolean) {
    this.#progress = progress;
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
    await this.#driving;
    const done = new Set([...this.#m.dumpIndex!.tables.map((b) => b.dumpId), ...this.#done]);
    const list = await this.#capture(['-l', this.#file]);
    const rest = list.split('\n').filter((line) => {
      const id = /^(\d+);/.exec(line)?.[1];
      return id !== undefined && !done.has(Number(id));
    });
    const listFile = path.join(this.#dir, `${encodeURIComponent(this.#m.name)}.rest.list`);
    await fs.writeFile(listFile, rest.join('\n') + '\n');
    await this.#restore(['--section=data', `--use-list=${listFile}`, this.#file], 'sequence values and large objects');
    await this.#restore(['--section=post-data', `--use-list=${listFile}`, '--jobs=2', this.#file], 'indexes and constraints');
  }

  /** Stops every pg_restore this started. */
  abort(): void {
    this.#stop.abort();
  }

  async #drive(): Promise<void> {
    const index = this.#m.dumpIndex!;
    await this.#waitFor(0, index.tocLength);
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
    const withTable = postDataByBlock(readToc(toc) ?? [], index.tables);
    const queue = [...index.tables].sort((a, b) => a.offset - b.offset);
    // When one worker fails the other is stopped and awaited: none of its pg_restores may outlive
    // the restore (the caller may fall back to the whole dump and drop this scratch database).
    // The first failure is the one reported, not the other's stop.
    let first: { err: unknown } | undefined;
    const worker = async () => {
      try {
        for (let block = queue.shift(); block && !this.#signal.aborted; block = queue.shift()) await this.#load(block, toc, withTable.get(block.dumpId) ?? []);
      } catch (err) {
        first ??= { err };
        this.#stop.abort();
      }
    };
    await Promise.all([worker(), worker()]);
    if (first) throw first.err;
    this.#signal.throwIfAborted();
  }

  /** One table's rows (the TOC and its data block, read from the dump file as it is written), then `after`. */
  async #load(block: Block, toc: Buffer, after: number[]): Promise<void> {
    const fh = await fs.open(this.#file, 'r');
    try {
      // The block must start where the index says: its type (1, data) and its dump id.
      await this.#waitFor(block.offset, block.offset + 6);
      const head = Buffer.alloc(6);
      await fh.read(head, 0, 6, block.offset);
      if (head[0] !== 1 || head[1] !== 0 || head.readUInt32LE(2) !== block.dumpId) throw indexMismatch(this.#m.name, `no data block for ${block.schema}.${block.name} where the index says`);
      await this.#feed(block, toc, fh, after);
    } finally {
      await fh.close();
    }
    for (const id of after) this.#done.add(id);
    await this.#count(block);
  }

  async #count(block: Block): Promise<void> {
    const client = await connect(this.#scratch).catch(() => undefined);
    if (!client) return; // counted again by the caller
    try {
      const { rows } = await client.query<{ n: string }>(`select count(*) as n from only ${ident(block.schema)}.${ident(block.name)}`);
      this.counted.set(`${block.schema}.${block.name}`, Number(rows[0]!.n));
    } catch {
      // counted again by the caller
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async #feed(block: Block, toc: Buffer, fh: fs.FileHandle, after: number[]): Promise<void> {
    const listFile = path.join(this.#dir, `${encodeURIComponent(this.#m.name)}.${block.dumpId}.list`);
    await fs.writeFile(listFile, [block.dumpId, ...after].map((id) => `${id};\n`).join(''));
    const run = runTool(this.#tools.pgRestore, ['--dbname', this.#scratch.url, '--exit-on-error', '--no-password', ...this.#owner, `--use-list=${listFile}`], this.#scratch, this.#signal, { input: true });
    run.stdout.resume();
    const failed = this.#failed(run.done, `the rows of ${block.schema}.${block.name}`);
    failed.catch(() => undefined);
    // Two buffers in turn: one is read into while the other is written, and neither is
    // reallocated (a fresh buffer per read kept the garbage collector busy).
    const buffers = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
    const send = (data: Buffer) => new Promise<void>((resolve, reject) => run.stdin!.write(data, (err) => (err ? reject(err) : resolve())));
    // A write fails when pg_restore has exited: its own error says why.
    // If the loop below stops early (the restore is aborted), the write in flight may fail with
    // nobody awaiting it: mark each as handled; the loop awaits them in turn.
    const handled = (p: Promise<void>) => (p.catch(() => undefined), p);
    let writing = handled(send(toc).catch(() => failed));
    const end = block.offset + block.length;
    try {
      for (let pos = block.offset, k = 0; pos < end; k++) {
        await this.#waitFor(pos, pos + 1);
        const n = Math.min(end, this.#progress.writtenFrom(this.#file, pos), pos + READ_SIZE) - pos;
        const buffer = buffers[k % 2]!;
        const { bytesRead } = await fh.read(buffer, 0, n, pos);
        await writing;
        writing = handled(send(buffer.subarray(0, bytesRead)).catch(() => failed));
        pos += bytesRead;
      }
      await writing;
    } catch (err) {
      // pg_restore must not wait on for the rest of its input.
      run.stdin!.destroy();
      throw err;
    }
    run.stdin!.end();
    await failed;
  }

  /** Waits until the extraction has written bytes [start, end) of the dump file. */
  async #waitFor(start: number, end: number): Promise<void> {
    if (!(await this.#progress.until(this.#file, start, end, this.#signal))) throw indexMismatch(this.#m.name, `the dump ends before byte ${end}, which the index points to`);
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

/**
 * The post-data entries (indexes, primary keys, triggers) that need nothing but the schema and
 * one table's rows, by the dump id of that table's data block, in TOC order. What depends on two
 * tables (a foreign key) or on another post-data entry is left for `finish`.
 */
export function postDataByBlock(entries: TocEntry[], blocks: { dumpId: number }[]): Map<number, number[]> {
  const byId = new Map(entries.map((e) => [e.dumpId, e]));
  const blockOfTable = new Map<number, number>();
  for (const b of blocks) {
    for (const d of byId.get(b.dumpId)?.deps ?? []) if (byId.get(d)?.desc === 'TABLE') blockOfTable.set(d, b.dumpId);
  }
  const out = new Map<number, number[]>();
  for (const e of entries) {
    if (e.section !== SECTION.PostData) continue;
    let block: number | undefined;
    let alone = true;
    for (const d of e.deps) {
      const b = blockOfTable.get(d);
      if (b !== undefined) {
        alone &&= block === undefined || block === b;
        block = b;
      } else if (byId.get(d)?.section !== SECTION.PreData) {
        alone = false;
      }
    }
    if (alone && block !== undefined) out.set(block, [...(out.get(block) ?? []), e.dumpId]);
  }
  return out;
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
