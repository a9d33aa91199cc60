import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fillerFrom, PipeReader } from '../../src/util/pipe.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-pipe-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const full = randomBytes(3 * 1024 * 1024 + 12345);
const data = full;
const file = path.join(dir, 'data');
writeFileSync(file, data);
// Tiny buffers read a smaller file (a fill per byte is slow).
const small = data.subarray(0, 100_000);
const smallFile = path.join(dir, 'small');
writeFileSync(smallFile, small);

/** Starts `command` with its output on a new pipe. */
async function piped(command: string[]): Promise<{ pipe: PipeReader; exited: Promise<number | null> }> {
  const pipe = await PipeReader.open(dir);
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  pipe.closeWriteEnd();
  return { pipe, exited: new Promise((resolve) => child.on('close', resolve)) };
}

describe('reading a child process through a pipe into the caller\'s buffers', () => {
  for (const size of [1, 4096, 65536, 1024 * 1024 + 1]) {
    test(`buffers of ${size} bytes, reused from fill to fill, receive every byte in order`, async () => {
      const data = size < 4096 ? small : full;
      const { pipe, exited } = await piped(['cat', size < 4096 ? smallFile : file]);
      const buf = Buffer.alloc(size);
      const whole = createHash('sha256');
      const pieces = createHash('sha256');
      let total = 0;
      let short = 0;
      for (;;) {
        const n = await pipe.fill(buf, (piece) => pieces.update(piece));
        if (n === 0) break;
        if (n < size) short++;
        whole.update(buf.subarray(0, n));
        total += n;
      }
      pipe.destroy();
      assert.equal(total, data.length);
      assert.equal(whole.digest('hex'), createHash('sha256').update(data).digest('hex'));
      assert.equal(pieces.digest('hex'), createHash('sha256').update(data).digest('hex'), 'the pieces passed to onBytes are the bytes, in order');
      assert.ok(short <= 1, 'a fill is short only at the end');
      assert.equal(await exited, 0);
      assert.equal(await pipe.fill(buf), 0, 'after the end, fills are empty');
    });
  }

  test('a child that dies early ends the stream where it stopped', async () => {
    const { pipe, exited } = await piped(['sh', '-c', 'head -c 100000 "$0"; kill -9 $$', file]);
    const buf = Buffer.alloc(1024 * 1024);
    assert.equal(await pipe.fill(buf), 100000);
    assert.deepEqual(buf.subarray(0, 100000), data.subarray(0, 100000));
    assert.equal(await pipe.fill(buf), 0);
    pipe.destroy();
    assert.equal(await exited, null);
  });

  test('an error thrown by onBytes fails the fill; a second fill at once is refused', async () => {
    const { pipe } = await piped(['cat', file]);
    const buf = Buffer.alloc(1024 * 1024);
    const first = pipe.fill(buf);
    await assert.rejects(pipe.fill(Buffer.alloc(10)), /already in progress/);
    await first;
    await assert.rejects(pipe.fill(buf, () => {
      throw new Error('index broke');
    }), /index broke/);
    pipe.destroy();
  });

  test('the FIFO behind the pipe is gone once it is open', async () => {
    const { pipe } = await piped(['true']);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('lifeboat-pipe-')), []);
    pipe.destroy();
  });

  test('a temp directory that cannot hold the pipe is a clear error', async () => {
    await assert.rejects(PipeReader.open(path.join(dir, 'missing')), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'E_PG_TOOL');
      assert.match(err.message, /cannot make a pipe for pg_dump's output in .*missing: ENOENT/);
      assert.match(err.hint ?? '', /tempDir/);
      return true;
    });
  });

  test('fillerFrom copies chunks of any size into the buffers it is given', async () => {
    const chunks = [data.subarray(0, 7), data.subarray(7, 70000), data.subarray(70000)];
    const fill = fillerFrom((async function* () {
      yield* chunks;
    })());
    const buf = Buffer.alloc(50000);
    const out: Buffer[] = [];
    for (let n = await fill(buf); n > 0; n = await fill(buf)) out.push(Buffer.from(buf.subarray(0, n)));
    assert.deepEqual(Buffer.concat(out), data);
  });
});
