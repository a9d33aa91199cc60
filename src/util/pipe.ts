import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../errors.ts';
import { track, type TrackedResource } from './resource-ledger.ts';

/**
 * Fills the start of `into` with the next bytes of a source, calling `onBytes` with each piece
 * as it lands (while it is still in the CPU's cache); resolves with the count, which is short
 * only where the source ended.
 */
export type Filler = (into: Buffer, onBytes?: (piece: Buffer) => void) => Promise<number>;

/** A Filler over chunks of any size: each is copied, so the source may reuse its buffers. */
export function fillerFrom(source: AsyncIterable<Buffer>): Filler {
  const chunks = source[Symbol.asyncIterator]();
  let rest: Buffer | undefined;
  return async (into, onBytes) => {
    let n = 0;
    while (n < into.length) {
      if (!rest?.length) {
        const next = await chunks.next();
        if (next.done) break;
        rest = next.value;
        continue;
      }
      const k = rest.copy(into, n);
      onBytes?.(into.subarray(n, n + k));
      n += k;
      rest = rest.subarray(k);
    }
    return n;
  };
}

/**
 * An anonymous pipe for a child's output, read into buffers the caller owns.
 *
 * Why: a child process's stdout stream hands over every read (64 KiB) in a freshly allocated
 * buffer. A 1 GB dump made 16,000 of them, and V8 counts such outside memory towards its
 * old-generation limit: with a 14 MB heap that started a full garbage collection every 8-12 MB
 * (70-85 per backup, 2.2 CPU-seconds on V8's threads and 1.6 on the main one). A socket with
 * `onread` reads straight into the caller's buffer instead. Node makes no anonymous pipes, so
 * this one is a FIFO opened at both ends and unlinked at once: only the two descriptors remain.
 */
export class PipeReader {
  /** The write end, for the child's stdio; close it (`closeWriteEnd`) once the child has it. */
  readonly writeFd: number;
  readonly #socket: net.Socket;
  #target: Buffer | undefined;
  #got = 0;
  #onBytes: ((piece: Buffer) => void) | undefined;
  #settle: ((err?: Error) => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  /** Where a read lands when it was set up before the caller's buffer was known. */
  readonly #spare = Buffer.allocUnsafe(64 * 1024);
  #writeClosed = false;
  /** Bytes of the spare not yet given to a fill. */
  #held: Buffer | undefined;

  private constructor(readFd: number, writeFd: number) {
    this.writeFd = writeFd;
    this.#socket = new net.Socket({
      fd: readFd,
      readable: true,
      writable: false,
      // @ts-expect-error not in the typings: stop the reading the constructor would start
      pauseOnCreate: true,
      onread: { buffer: () => this.#window(), callback: (n: number, buf: Uint8Array) => this.#landed(n, buf) },
    });
    this.#socket.on('end', () => {
      this.#ended = true;
      this.#settle?.();
    });
    this.#socket.on('error', (err) => {
      this.#error = err;
      this.#settle?.(err);
    });
  }

  /** Opens the pipe (in `dir`, default the system temp dir, for the instant the FIFO has a name). */
  static async open(dir = os.tmpdir()): Promise<PipeReader> {
    let scratch: string | undefined;
    // Recorded before it exists: a kill between mkdir and rm leaves a directory the next start removes.
    let record: TrackedResource | undefined;
    try {
      scratch = path.join(dir, `lifeboat-pipe-${randomBytes(6).toString('hex')}`);
      record = track({ kind: 'fifo', location: scratch });
      await fs.mkdir(scratch, { mode: 0o700 });
      const fifo = path.join(scratch, 'fifo');
      const made = spawnSync('mkfifo', ['-m', '600', fifo], { encoding: 'utf8' });
      if (made.status !== 0) throw new Error(`mkfifo: ${made.error?.message ?? made.stderr.trim()}`);
      // The read end without blocking (no writer yet), then the write end, which a reader lets open at once.
      const read = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      let write: number;
      try {
        write = openSync(fifo, constants.O_WRONLY);
      } catch (err) {
        closeSync(read);
        throw err;
      }
      return new PipeReader(read, write);
    } catch (err) {
      throw new LifeboatError('E_PG_TOOL', `cannot make a pipe for pg_dump's output in ${dir}: ${(err as Error).message}`, {
        cause: err,
        hint: 'the temp directory (tempDir in lifeboat.yaml, else the system one) must exist, be writable and allow named pipes (mkfifo, from coreutils)',
      });
    } finally {
      if (scratch) await fs.rm(scratch, { recursive: true, force: true });
      record?.release();
    }
  }

  /**
   * A reader over a FIFO opened elsewhere: its read end (non-blocking) and a write end this
   * process holds so the writer's open never waits (docker/proc-pipe.ts, a FIFO in a container).
   */
  static adopt(readFd: number, writeFd: number): PipeReader {
    return new PipeReader(readFd, writeFd);
  }

  /** Closes this process's copy of the write end, so the read end sees the end when the child exits. */
  closeWriteEnd(): void {
    // Once only: a second close could hit another file that got the same number meanwhile.
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    closeSync(this.writeFd);
  }

  /** A Filler over the pipe. */
  readonly fill: Filler = (into, onBytes) => {
    if (this.#target) return Promise.reject(new Error('a read of the pipe is already in progress'));
    if (this.#error) return Promise.reject(this.#error);
    if ((this.#ended && !this.#held) || into.length === 0) return Promise.resolve(0);
    this.#target = into;
    this.#got = 0;
    this.#onBytes = onBytes;
    return new Promise<number>((resolve, reject) => {
      this.#settle = (err) => {
        const got = this.#got;
        this.#target = undefined;
        this.#onBytes = undefined;
        this.#settle = undefined;
        if (err) reject(err);
        else resolve(got);
      };
      if (this.#held) {
        // Bytes left from a read that overran the last fill: these first.
        this.#deliver();
        if (this.#got === into.length || !this.#settle) return this.#settle?.();
      }
      if (this.#ended) return this.#settle();
      this.#socket.resume();
    });
  };

  /** Stops reading and closes the read end; a fill waiting meanwhile ends with what it got. */
  destroy(): void {
    this.#socket.destroy();
    this.closeWriteEnd();
    this.#ended = true;
    this.#settle?.();
  }

  /** Copies held bytes into the target, as far as they fit. */
  #deliver(): void {
    const held = this.#held!;
    const target = this.#target!;
    const k = held.copy(target, this.#got);
    const piece = target.subarray(this.#got, this.#got + k);
    this.#got += k;
    this.#held = k < held.length ? held.subarray(k) : undefined;
    try {
      this.#onBytes?.(piece);
    } catch (err) {
      this.#settle?.(err as Error);
    }
  }

  #window(): Buffer {
    // Asked for after each read, for the next one: after the last read of a fill the caller's
    // next buffer is not known yet, and that next read lands in the spare (see #landed), which
    // is empty by then (reading resumes only once held bytes are delivered).
    return this.#target && this.#got < this.#target.length ? this.#target.subarray(this.#got) : this.#spare;
  }

  #landed(n: number, buf: Uint8Array): boolean {
    const target = this.#target;
    const inSpare = buf.buffer === this.#spare.buffer && buf.byteOffset === this.#spare.byteOffset;
    if (!target) {
      // Not expected (reading stops whenever no fill waits), but bytes are never dropped.
      if (inSpare) this.#held = this.#spare.subarray(0, n);
      return false;
    }
    if (inSpare) {
      // The read was set up before this fill's buffer was known: what does not fit waits in the
      // spare for the next fill, and reading stops until then.
      this.#held = this.#spare.subarray(0, n);
      this.#deliver();
      if (!this.#settle) return false; // onBytes failed
      if (this.#held === undefined && this.#got < target.length) return true;
      this.#settle();
      return false;
    }
    const piece = target.subarray(this.#got, this.#got + n);
    this.#got += n;
    try {
      this.#onBytes?.(piece);
    } catch (err) {
      this.#settle?.(err as Error);
      return false;
    }
    if (this.#got < target.length) return true;
    this.#settle?.();
    return false;
  }
}
