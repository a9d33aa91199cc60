import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ByteQueue } from '../util/byte-queue.ts';

/**
 * zstd in independent frames, each preceded by a skippable frame holding its compressed size:
 * the layout of pzstd, which `zstd -d` reads as one stream (it skips skippable frames).
 *
 * Why not one zstd stream: one stream compresses on one thread; independent blocks compressed
 * two at a time use the second core (writing a 322 MB dump: 3.65 s down to 2.45 s;
 * bench/README.md). Why the size frames: Node's own zstd decoder stops at the end of the first
 * frame, so the reader must find each frame itself.
 */

const SKIPPABLE_MAGIC = 0x184d2a50;
const ZSTD_MAGIC = 0xfd2fb528;
const decompress = promisify(zlib.zstdDecompress);

export const ZSTD_BLOCK_SIZE = 4 * 1024 * 1024;

function sizeFrame(length: number): Buffer {
  const b = Buffer.allocUnsafe(12);
  b.writeUInt32LE(SKIPPABLE_MAGIC, 0);
  b.writeUInt32LE(4, 4);
  b.writeUInt32LE(length, 8);
  return b;
}

/** zstd's worst case for `n` bytes (ZSTD_COMPRESSBOUND), with room to spare. */
function compressBound(n: number): number {
  return n + (n >> 8) + 64 * 1024;
}

/**
 * Compresses into size-prefixed zstd frames, `concurrency` blocks at a time. Each worker is one
 * long-lived zlib zstd stream, so compression contexts are made once, not per block. `write`
 * copies its input into the current block, so the caller may reuse its buffer as soon as the call
 * resolves; frames go to `emit` in order, each as one buffer of its own.
 *
 * Each block goes to zstd whole, ending its frame (ZSTD_e_end), with room for the whole frame:
 * zstd then compresses straight from the block in one pass. Fed in pieces, or with less room,
 * it copies the block through its ring buffer first; the 1 GB bench dump took 7.3 CPU-seconds
 * that way and 6.2 this way (bench/README.md).
 */
export class FrameCompressor {
  readonly blockSize: number;
  /** Where each frame starts in the output, for the seek index (seek.ts). */
  readonly frameStarts: number[] = [];
  readonly #emit: (data: Buffer) => Promise<void>;
  readonly #concurrency: number;
  readonly #workers: { z: zlib.ZstdCompress; out: Buffer[] }[];
  readonly #queue: Promise<Buffer>[] = [];
  // Blocks are reused once compressed: fresh 4 MiB buffers for every block kept the garbage
  // collector busy for a fifth of the run.
  readonly #free: Buffer[] = [];
  #block: Buffer;
  #fill = 0;
  #frames = 0;
  #written = 0;

  constructor(level: number, options: { blockSize?: number; concurrency?: number }, emit: (data: Buffer) => Promise<void>) {
    this.blockSize = options.blockSize ?? ZSTD_BLOCK_SIZE;
    this.#concurrency = options.concurrency ?? 2;
    this.#emit = emit;
    this.#block = Buffer.allocUnsafe(this.blockSize);
    this.#workers = Array.from({ length: this.#concurrency }, () => {
      const z = zlib.createZstdCompress({
        params: { [zlib.constants.ZSTD_c_compressionLevel]: level },
        chunkSize: compressBound(this.blockSize),
        flush: zlib.constants.ZSTD_e_end,
      });
      // Copied out at once: the next frame is written over the same output buffer.
      const out: Buffer[] = [];
      z.on('data', (piece: Buffer) => out.push(Buffer.from(piece)));
      return { z, out };
    });
  }

  /** Takes `data` in (copied); resolves once no more than `concurrency` blocks are in flight. */
  async write(data: Buffer): Promise<void> {
    let off = 0;
    while (off < data.length) {
      const n = data.copy(this.#block, this.#fill, off);
      this.#fill += n;
      off += n;
      if (this.#fill === this.blockSize) {
        this.#enqueue(this.#block);
        this.#block = this.#free.pop() ?? Buffer.allocUnsafe(this.blockSize);
        this.#fill = 0;
        while (this.#queue.length >= this.#concurrency) await this.#emitNext();
      }
    }
  }

  /** Compresses what is left (empty input still gets one empty frame: zero bytes are not a zstd stream) and emits every frame. */
  async end(): Promise<void> {
    if (this.#fill > 0 || this.#frames === 0) this.#enqueue(this.#block.subarray(0, this.#fill));
    this.#fill = 0;
    while (this.#queue.length > 0) await this.#emitNext();
    this.close();
  }

  close(): void {
    for (const w of this.#workers) w.z.close();
  }

  #enqueue(data: Buffer): void {
    // Round robin: with at most `concurrency` blocks in flight, a worker's previous block is done.
    const { z, out } = this.#workers[this.#frames++ % this.#concurrency]!;
    const frame = new Promise<Buffer>((resolve, reject) => {
      // zlib writes into its output buffer from where the last frame ended; starting over from
      // its beginning gives this frame the whole room (the last frame was copied out).
      (z as unknown as { _outOffset: number })._outOffset = 0;
      z.once('error', reject);
      z.write(data, () => {
        z.off('error', reject);
        if (data.length === this.blockSize) this.#free.push(data);
        const pieces = out.splice(0);
        resolve(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
      });
    });
    frame.catch(() => undefined); // awaited in order; this only keeps an early failure from being unhandled
    this.#queue.push(frame);
  }

  async #emitNext(): Promise<void> {
    const frame = await this.#queue.shift()!;
    this.frameStarts.push(this.#written);
    this.#written += 12 + frame.length;
    await this.#emit(sizeFrame(frame.length));
    await this.#emit(frame);
  }
}

/**
 * Decompresses size-prefixed frames (two at a time), and, for a plain zstd stream without them,
 * falls back to Node's streaming decoder.
 */
export function zstdFrameDecompressor(options: { concurrency?: number } = {}): Transform {
  const concurrency = options.concurrency ?? 2;
  const queue: Promise<Buffer>[] = [];
  const pending = new ByteQueue();
  let plain: zlib.ZstdDecompress | undefined;
  // A plain zstd stream starts as one; after size frames, a frame without one is damage (a
  // changed size-frame magic reads as another tool's frame, and the streaming decoder, which
  // stops after one frame, would then wait for ever).
  let framed = false;

  const transform = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (plain) {
        plain.write(chunk, cb);
        return;
      }
      pending.push(chunk);
      const run = async () => {
        for (;;) {
          const magic = pending.peekUInt32LE(0);
          if (magic === undefined) return;
          if (magic === ZSTD_MAGIC && framed) throw new Error('a zstd frame without its size frame: the stream is damaged');
          if (magic === ZSTD_MAGIC && queue.length === 0) {
            // A plain stream: hand it, and everything after, to the streaming decoder.
            plain = zlib.createZstdDecompress({ chunkSize: 1024 * 1024 });
            plain.on('data', (d: Buffer) => this.push(d));
            plain.on('error', (err) => this.destroy(err));
            const rest = pending.take(pending.length);
            await new Promise<void>((resolve, reject) => plain!.write(rest, (err) => (err ? reject(err) : resolve())));
            return;
          }
          if ((magic & 0xfffffff0) !== SKIPPABLE_MAGIC) throw new Error('not a zstd stream (unknown frame magic)');
          const skipLength = pending.peekUInt32LE(4);
          if (skipLength === undefined || pending.length < 8 + skipLength) return;
          framed = true;
          if (magic !== SKIPPABLE_MAGIC || skipLength !== 4) {
            pending.take(8 + skipLength); // another tool's skippable frame: nothing for us
            continue;
          }
          const frameLength = pending.peekUInt32LE(8)!;
          if (pending.length < 12 + frameLength) return;
          pending.take(12);
          // Room for a whole block and then some: the block lands in one buffer, which is handed
          // on as it is (a full buffer makes zlib allocate another and join the two).
          const frame = decompress(pending.take(frameLength), { chunkSize: ZSTD_BLOCK_SIZE + 64 * 1024 });
          frame.catch(() => undefined);
          queue.push(frame);
          while (queue.length >= concurrency) this.push(await queue.shift()!);
        }
      };
      run().then(() => cb(), cb);
    },
    flush(cb) {
      const run = async () => {
        if (plain) {
          const p = plain;
          await new Promise<void>((resolve, reject) => {
            p.once('end', resolve);
            p.once('error', reject);
            p.end();
          });
          return;
        }
        while (queue.length > 0) this.push(await queue.shift()!);
        if (pending.length > 0) throw new Error(`zstd stream truncated: ${pending.length} bytes of an incomplete frame at the end`);
      };
      run().then(() => cb(), cb);
    },
  });
  return transform;
}

/** The part of a zlib handle the decoder below drives (Node's own, under `_handle`). */
interface ZlibHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, output: Buffer, outOff: number, outLen: number): void;
  reset(): void;
}

/**
 * Decodes one frame at a time, synchronously, into one buffer it keeps: what a frame decodes to
 * is valid until the next frame begins. Node's public zstd calls allocate a fresh output buffer
 * and decoder context per frame; decoding the 1 GB bench dump that way took 2.7-3.0 CPU-seconds
 * and 16 full garbage collections (the fresh 4 MiB buffers count as external memory), and into
 * a kept buffer through the zlib handle 1.4 s and one. That handle is Node's internal
 * (`_handle.writeSync`, as its own `zstdDecompressSync` drives it): `create` returns undefined
 * where it is not there, and callers use the public calls instead.
 */
export class FrameDecoder {
  readonly #z: zlib.ZstdDecompress;
  readonly #handle: ZlibHandle;
  readonly #state: Uint32Array;
  readonly #out: Buffer;
  #length = 0;

  private constructor(z: zlib.ZstdDecompress, handle: ZlibHandle, state: Uint32Array, capacity: number) {
    this.#z = z;
    this.#handle = handle;
    this.#state = state;
    this.#out = Buffer.allocUnsafe(capacity);
  }

  /** A decoder whose frames decode to at most `capacity` bytes, or undefined without the handle. */
  static create(capacity: number): FrameDecoder | undefined {
    const z = zlib.createZstdDecompress();
    z.on('error', () => undefined); // reported by feed() through `errored`
    const internals = z as unknown as { _handle?: Partial<ZlibHandle>; _writeState?: unknown };
    const handle = internals._handle;
    if (typeof handle?.writeSync !== 'function' || typeof handle.reset !== 'function' || !(internals._writeState instanceof Uint32Array)) {
      z.close();
      return undefined;
    }
    return new FrameDecoder(z, handle as ZlibHandle, internals._writeState, capacity);
  }

  /** Starts a new frame; the previous one's bytes are overwritten from here on. */
  begin(): void {
    this.#handle.reset();
    this.#length = 0;
  }

  /** Decodes the next piece of the current frame's compressed bytes. */
  feed(input: Buffer): void {
    let used = 0;
    do {
      const room = this.#out.length - this.#length;
      const left = input.length - used;
      this.#handle.writeSync(zlib.constants.ZSTD_e_continue, input, used, left, this.#out, this.#length, room);
      if (this.#z.destroyed) throw this.#z.errored ?? new Error('zstd decoding failed');
      const [availOut, availIn] = this.#state as unknown as [number, number];
      const produced = room - availOut;
      this.#length += produced;
      used += left - availIn;
      if (availOut === 0 && (availIn > 0 || produced > 0)) {
        // Full: either more input waits, or the decoder holds more output than fits.
        if (availIn > 0 || this.#drains()) throw new Error(`a zstd frame decodes to more than ${this.#out.length} bytes`);
        return;
      }
      if (produced === 0 && availIn === left && left > 0) throw new Error('zstd decoding made no progress');
    } while (used < input.length);
  }

  /** The current frame's bytes so far: a view of the kept buffer. */
  get data(): Buffer {
    return this.#out.subarray(0, this.#length);
  }

  close(): void {
    this.#z.close();
  }

  /** Whether the decoder still holds output with the buffer full (asked with a byte of room). */
  #drains(): boolean {
    const probe = Buffer.allocUnsafe(1);
    this.#handle.writeSync(zlib.constants.ZSTD_e_continue, Buffer.alloc(0), 0, 0, probe, 0, 1);
    return (this.#state[0] ?? 1) === 0;
  }
}

/** Compressed bytes decoded between two turns of the event loop (~0.3 ms of work). */
const DECODE_SLICE = 64 * 1024;

/**
 * The frames of a run of size-prefixed zstd frames (as the seek index addresses them), each
 * decoded by `decoder` as its compressed bytes arrive; compressed pieces are not joined. Each
 * yielded buffer is the decoder's own, valid until the next one is asked for.
 */
export async function* decodeFrames(source: AsyncIterable<Buffer>, decoder: FrameDecoder): AsyncGenerator<Buffer> {
  const header = Buffer.alloc(12);
  let have = 0;
  let remaining = -1; // compressed bytes of the current frame still to come; -1 while reading its size frame
  let sliced = 0;
  for await (const chunk of source) {
    let at = 0;
    while (at < chunk.length) {
      if (remaining < 0) {
        const n = Math.min(12 - have, chunk.length - at);
        chunk.copy(header, have, at, at + n);
        have += n;
        at += n;
        if (have < 12) break;
        if (header.readUInt32LE(0) !== SKIPPABLE_MAGIC || header.readUInt32LE(4) !== 4) throw new Error('no zstd frame where the seek index points');
        remaining = header.readUInt32LE(8);
        have = 0;
        decoder.begin();
        continue;
      }
      // A slice at a time, letting other I/O run between slices: this decodes on the event
      // loop's thread, which also feeds the pipes of the restores loading meanwhile.
      const n = Math.min(remaining, chunk.length - at, DECODE_SLICE);
      if (sliced++ > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      decoder.feed(chunk.subarray(at, at + n));
      at += n;
      remaining -= n;
      if (remaining === 0) {
        remaining = -1;
        yield decoder.data;
      }
    }
  }
  if (remaining >= 0 || have > 0) throw new Error('the bundle ends inside a zstd frame');
}
