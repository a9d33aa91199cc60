import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { Transform } from 'node:stream';
import { zstdFrameCompressor, zstdFrameDecompressor } from '../../src/bundle/zstd-frames.ts';

async function through(t: Transform, input: Buffer, chunk = 1000): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts).pipe(t)) out.push(c as Buffer);
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
      const compressed = await through(zstdFrameCompressor(3, { blockSize: block }), input);
      assert.deepEqual(await through(zstdFrameDecompressor(), compressed, 777), input);
      const cli = execFileSync('zstd', ['-dc'], { input: compressed, maxBuffer: 1 << 26 });
      assert.deepEqual(cli, input);
    });
  }

  test('a plain zstd stream (one frame, from the zstd CLI) is decoded too', async () => {
    const input = sample(100_000);
    const plain = execFileSync('zstd', ['-3', '-c'], { input });
    assert.deepEqual(await through(zstdFrameDecompressor(), plain, 333), input);
  });

  test('a truncated stream is an error, not short output', async () => {
    const compressed = await through(zstdFrameCompressor(3, { blockSize: block }), sample(block * 3));
    await assert.rejects(through(zstdFrameDecompressor(), compressed.subarray(0, compressed.length - 10)), /truncated/);
  });

  test('bytes that are not zstd are refused', async () => {
    await assert.rejects(through(zstdFrameDecompressor(), Buffer.from('definitely not zstd data')), /not a zstd stream/);
  });
});
