import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { Transform } from 'node:stream';
import { readTarPieces, readTarRanges, type SeekIndex } from '../../src/bundle/seek.ts';
import { decodeFrames, FrameCompressor, FrameDecoder, zstdFrameDecompressor } from '../../src/bundle/zstd-frames.ts';

async function through(t: Transform, input: Buffer, chunk = 1000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts).pipe(t)) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Compresses `input`, written in pieces of `chunk` bytes, into frames of `blockSize`. */
async function compress(input: Buffer, blockSize: number, chunk = 1000): Promise<Buffer> {
  const out: Buffer[] = [];
  const frames = new FrameCompressor(3, { blockSize }, async (d) => {
    out.push(d);
  });
  for (let i = 0; i < input.length; i += chunk) await frames.write(input.subarray(i, i + chunk));
  await frames.end();
  return Buffer.concat(out);
}

/** Half text, half random: compressible, but not trivially. */
function sample(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 2 ? 97 + (i % 7) : 0;
  randomBytes(Math.floor(n / 4)).copy(b, Math.floor(n / 2));
  return b;
}

describe('zstd in size-prefixed frames', () => {
  const block = 4096;
  for (const size of [0, 1, block - 1, block, block + 1, block * 5 + 17]) {
    test(`${size} bytes: Lifeboat and the zstd CLI both decode it`, async () => {
      const input = sample(size);
      const compressed = await compress(input, block);
      assert.deepEqual(await through(zstdFrameDecompressor(), compressed, 777), input);
      const cli = execFileSync('zstd', ['-dc'], { input: compressed, maxBuffer: 1 << 26 });
      assert.deepEqual(cli, input);
    });
  }

  test('incompressible blocks (frames larger than their block) and a compressible one after them decode intact', async () => {
    const size = 256 * 1024;
    const input = Buffer.concat([randomBytes(size * 3), Buffer.alloc(size, 'lifeboat '), randomBytes(1000)]);
    const compressed = await compress(input, size, 100_000);
    assert.ok(compressed.readUInt32LE(8) > size, 'the first frame (random bytes) is larger than its block');
    assert.deepEqual(await through(zstdFrameDecompressor(), compressed, 65_536), input);
    assert.deepEqual(execFileSync('zstd', ['-dc'], { input: compressed, maxBuffer: 1 << 26 }), input);
  });

  test('a plain zstd stream (one frame, from the zstd CLI) is decoded too', async () => {
    const input = sample(100_000);
    const plain = execFileSync('zstd', ['-3', '-c'], { input });
    assert.deepEqual(await through(zstdFrameDecompressor(), plain, 333), input);
  });

  test('a truncated stream is an error, not short output', async () => {
    const compressed = await compress(sample(block * 3), block);
    await assert.rejects(through(zstdFrameDecompressor(), compressed.subarray(0, compressed.length - 10)), /truncated/);
  });

  test('bytes that are not zstd are refused', async () => {
    await assert.rejects(through(zstdFrameDecompressor(), Buffer.from('definitely not zstd data')), /not a zstd stream/);
  });
});

/** Splits a buffer into chunks of `size` (the last one shorter). */
function chunked(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

describe('decoding frames into a kept buffer', () => {
  const block = 4096;

  test('gives the same bytes as Node\'s public decoder, fed in pieces of any size, the buffer reused', async () => {
    const decoder = FrameDecoder.create(block + 1024);
    assert.ok(decoder, 'this Node\'s zlib handle can be driven directly');
    try {
      const input = sample(block * 6 + 300);
      const compressed = await compress(input, block);
      for (const piece of [1, 7, 1000, 1 << 20]) {
        const blocks: Buffer[] = [];
        const seen = new Set<ArrayBufferLike>();
        for await (const b of decodeFrames(Readable.from(chunked(compressed, piece)), decoder)) {
          seen.add(b.buffer);
          blocks.push(Buffer.from(b)); // a copy: the decoder's buffer is overwritten by the next frame
        }
        assert.equal(blocks.length, 7);
        assert.deepEqual(blocks.map((b) => b.length), [block, block, block, block, block, block, 300]);
        assert.deepEqual(Buffer.concat(blocks), input, `pieces of ${piece}`);
        assert.equal(seen.size, 1, 'every frame lands in the same buffer');
      }
    } finally {
      decoder.close();
    }
  });

  test('a frame that decodes to more than the buffer holds, or a damaged one, is an error', async () => {
    const compressed = await compress(sample(block), block);
    const small = FrameDecoder.create(block - 1)!;
    await assert.rejects(async () => {
      for await (const b of decodeFrames(Readable.from([compressed]), small)) void b;
    }, /decodes to more than 4095 bytes/);
    small.close();
    // zstd's own checks (the frame checksum is off: members carry sha256) catch a damaged frame header.
    const damaged = Buffer.from(compressed);
    damaged[12]! ^= 0xff;
    const decoder = FrameDecoder.create(block + 1024)!;
    await assert.rejects(async () => {
      for await (const b of decodeFrames(Readable.from([damaged]), decoder)) void b;
    }, /Unknown frame descriptor|unknown|prefix/i);
    decoder.close();
    const cut = FrameDecoder.create(block + 1024)!;
    await assert.rejects(async () => {
      for await (const b of decodeFrames(Readable.from([compressed.subarray(0, compressed.length - 5)]), cut)) void b;
    }, /ends inside a zstd frame/);
    cut.close();
  });

  test('ranges of a tar stream read through the seek index are the same whichever decoder reads them', async () => {
    const input = sample(block * 9 + 123);
    const compressed = await compress(input, block);
    // The frames' offsets, as the writer's seek index records them.
    const frames: number[] = [];
    for (let at = 0; at < compressed.length; at += 12 + compressed.readUInt32LE(at + 8)) frames.push(at);
    const index: SeekIndex = { v: 1, blockSize: block, frames, members: {}, end: compressed.length };
    const bundle = { size: compressed.length, read: async (start: number, end: number) => Readable.from(chunked(compressed.subarray(start, end), 999)) };
    const ranges = [{ start: 10, end: 20 }, { start: block - 5, end: block * 3 + 7 }, { start: block * 8, end: input.length }];
    const want = ranges.map((r) => input.subarray(r.start, r.end));
    for (const publicDecoding of [false, true]) {
      const got: Buffer[] = ranges.map(() => Buffer.alloc(0));
      for await (const p of readTarPieces(bundle, index, ranges, { publicDecoding })) got[p.range] = Buffer.concat([got[p.range]!, p.data]);
      assert.deepEqual(got, want, publicDecoding ? 'public decoder' : 'kept buffer');
      // Whole ranges, each spanning frames, kept while later ones are read.
      const whole: Buffer[] = [];
      for await (const r of readTarRanges(bundle, index, ranges, { publicDecoding })) whole.push(r);
      assert.deepEqual(whole, want, `whole ranges, ${publicDecoding ? 'public decoder' : 'kept buffer'}`);
    }
  });
});
