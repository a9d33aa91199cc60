import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { LifeboatError } from '../../src/errors.ts';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { plantTempIn, storageContract } from './contract.ts';
import { openStorage } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';

storageContract('local', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-local-'));
  return {
    open: (extra = {}) => openStorage('disk', storageSchema.parse({ type: 'local', path: dir, ...extra })),
    residue: async () => readdirSync(dir, { recursive: true }).map(String).filter((f) => path.basename(f).startsWith('.')),
    plantTemp: plantTempIn(dir),
    reportsSpace: true,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('local: bad input', () => {
  it('names a path it may not write', async () => {
    // sysfs refuses new entries even to root, so this holds whoever runs the tests.
    const driver = await openStorage('disk', storageSchema.parse({ type: 'local', path: '/sys/lifeboat-test' }));
    await assert.rejects(driver.put('app/x.tar', Readable.from([Buffer.from('x')])), (err: LifeboatError) => {
      assert.equal(err.code, 'E_STORAGE_WRITE');
      assert.match(err.message, /storage "disk": permission denied writing app\/x\.tar \((EPERM|EACCES)\)/);
      assert.match(err.hint ?? '', /write access/);
      return true;
    });
  });
});

describe('local: large objects', () => {
  it('an object past several write-behind syncs (64 MiB each) arrives whole', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-local-big-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const driver = await openStorage('disk', storageSchema.parse({ type: 'local', path: dir }));
    const chunk = randomBytes(1024 * 1024);
    const count = 150;
    const body = Readable.from((function* () {
      for (let i = 0; i < count; i++) yield Buffer.concat([Buffer.from(String(i).padStart(8, '0')), chunk]);
    })());
    const { size } = await driver.put('app/big.tar', body);
    assert.equal(size, count * (chunk.length + 8));
    const expected = createHash('sha256');
    for (let i = 0; i < count; i++) expected.update(Buffer.concat([Buffer.from(String(i).padStart(8, '0')), chunk]));
    const got = createHash('sha256');
    for await (const c of await driver.get('app/big.tar')) got.update(c as Buffer);
    assert.equal(got.digest('hex'), expected.digest('hex'));
  });
});
