import assert from 'node:assert/strict';
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
