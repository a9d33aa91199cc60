import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteQueue } from '../../src/util/byte-queue.ts';

test('a byte queue gives back what was pushed, in pieces that span chunks, joining no more than a piece needs', () => {
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
  const q = new ByteQueue();
  for (let i = 0; i < data.length; i += 7) q.push(data.subarray(i, i + 7));
  assert.equal(q.peekUInt32LE(5), data.readUInt32LE(5), 'a peek across two chunks');
  const got: Buffer[] = [];
  for (const n of [3, 4, 20, 1, 100, 500]) {
    const piece = q.take(n);
    assert.equal(piece.length, n);
    got.push(Buffer.from(piece));
  }
  assert.equal(q.length, 1000 - 628);
  assert.equal(q.peekUInt32LE(q.length - 4), data.readUInt32LE(996));
  assert.equal(q.peekUInt32LE(q.length - 3), undefined, 'not enough bytes yet');
  got.push(q.take(10_000));
  assert.equal(q.length, 0);
  assert.deepEqual(Buffer.concat(got), data);
  assert.equal(q.take(5).length, 0, 'an empty queue gives nothing');
});
