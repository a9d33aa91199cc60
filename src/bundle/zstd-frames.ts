import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { ByteQueue } from '../util/byte-queue.ts';
import { seekTrailer, type SeekIndex } from './seek.ts';

/**
 * zstd in independent frames, each preceded by a skippable frame holding its compressed size:
 * the layout of pzstd, which `zstd -d` reads as one stream (it skips skippable frames).
 *
 * Why not one zlib stream: Node's zstd stream compresses on one thread; two of them taking 4 MiB
 * blocks in turn use the second core (writing a 322 MB dump: 3.65 s down to 2.45 s;
 * bench/README.md). Why the size
 * frames: Node's own zstd decoder stops at the end of the first frame, so the reader must find
 * each frame itself.
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

/**
 * A Transform that compresses into size-prefixed zstd frames, `concurrency` blocks at a time.
 * Each worker is one long-lived zlib zstd stream that ends a frame per block (ZSTD_e_end), so
 * compression contexts are made once, not per block.
 */
export function zstdFrameCompressor(level: number, options: { blockSize?: number; concurrency?: number; seekIndex?: () => SeekIndex['members'] } = {}): Transform {
  const blockSize = options.blockSize ?? ZSTD_BLOCK_SIZE;
  // Where each frame starts in the output, for the seek index (seek.ts).
  const frameStarts: number[] = [];
  let written = 0;
  const push = (t: Transform, [size, frame]: Buffer[]) => {
    frameStarts.push(written);
    written += size!.length + frame!.length;
    t.push(size);
    t.push(frame);
  };
  const concurrency = options.concurrency ?? 2;
  const workers = Array.from({ length: concurrency }, () => {
    const z = zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: level }, chunkSize: blockSize >> 1 });
    const out: Buffer[] = [];
    z.on('data', (d: Buffer) => out.push(d));
    return { z, out };
  });
  const queue: Promise<Buffer[]>[] = [];
  // Blocks are reused once compressed: fresh 4 MiB buffers for every block kept the garbage
  // collector busy for a fifth of the run.
  const free: Buffer[] = [];
  let block: Buffer = Buffer.allocUnsafe(blockSize);
  let fill = 0;
  let frames = 0;

  const enqueue = (data: Buffer) => {
    // Round robin: with at most `concurrency` blocks in flight, a worker's previous block is done.
    const w = workers[frames++ % concurrency]!;
    const frame = new Promise<Buffer[]>((resolve, reject) => {
      w.z.once('error', reject);
      w.z.write(data);
      w.z.flush(zlib.constants.ZSTD_e_end, () => {
        w.z.off('error', reject);
        const f = w.out.length === 1 ? w.out[0]! : Buffer.concat(w.out);
        w.out.length = 0;
        if (data.length === blockSize) free.push(data);
        resolve([sizeFrame(f.length), f]);
      });
    });
    frame.catch(() => undefined); // awaited in order below; this only keeps an early failure from being unhandled
    queue.push(frame);
  };
  const closeWorkers = () => {
    for (const w of workers) w.z.close();
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const run = async () => {
        let off = 0;
        while (off < chunk.length) {
          const n = Math.min(chunk.length - off, blockSize - fill);
          chunk.copy(block, fill, off, off + n);
          fill += n;
          off += n;
          if (fill === blockSize) {
            enqueue(block);
            block = free.pop() ?? Buffer.allocUnsafe(blockSize);
            fill = 0;
            while (queue.length >= concurrency) push(this, await queue.shift()!);
          }
        }
      };
      run().then(() => cb(), cb);
    },
    flush(cb) {
      const run = async () => {
        // Empty input still gets one (empty) frame: zero bytes are not a zstd stream.
        if (fill > 0 || frames === 0) enqueue(block.subarray(0, fill));
        while (queue.length > 0) push(this, await queue.shift()!);
        if (options.seekIndex) this.push(seekTrailer({ v: 1, blockSize, frames: frameStarts, members: options.seekIndex() }));
      };
      run().then(
        () => {
          closeWorkers();
          cb();
        },
        cb,
      );
    },
    destroy(err, cb) {
      closeWorkers();
      cb(err);
    },
  });
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
