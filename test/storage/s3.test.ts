import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { storageContract } from './contract.ts';
import { startTestS3, type TestS3 } from '../support/s3.ts';
import { openStorage } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';
import type { LifeboatError } from '../../src/errors.ts';
import { freePort } from '../../src/postgres/scratch-cluster.ts';

storageContract('s3 (s3rver)', async () => {
  const s3: TestS3 = await startTestS3();
  const options = await s3.storage('lifeboat-contract');
  return {
    open: (extra = {}, tuning = {}) => openStorage('s3test', storageSchema.parse({ ...options, prefix: 'backups/', ...extra }), tuning),
    // Uploads are invisible until completed; s3rver cannot list open multipart uploads, so
    // what is left to check is that no object appeared anywhere in the bucket.
    residue: async () => [],
    reportsSpace: false,
    multipartOver: 5 * 2 ** 20,
    stop: () => s3.stop(),
  };
});

describe('s3: bad input gets a clear error', () => {
  let s3: TestS3;
  let options: Record<string, unknown>;
  before(async () => {
    s3 = await startTestS3();
    options = await s3.storage('lifeboat-bad');
  });
  after(() => s3.stop());

  const attempt = async (extra: Record<string, unknown>) => {
    const driver = await openStorage('remote', storageSchema.parse({ ...options, retry: { attempts: 2, delayMs: 10 }, ...extra }));
    try {
      await driver.put('probe/x.tar', Readable.from([Buffer.from('x')]));
      return undefined;
    } catch (err) {
      return err as LifeboatError;
    } finally {
      await driver.close();
    }
  };

  it('names wrong credentials', async () => {
    const err = await attempt({ accessKeyId: 'NOT-A-KEY' });
    assert.equal(err?.code, 'E_STORAGE_AUTH', err?.message);
    assert.match(err.message, /storage "remote": access to bucket "lifeboat-bad" was denied/);
    assert.match(err.hint ?? '', /accessKeyId/);
  });

  it('names a bucket that does not exist, as a config error', async () => {
    const err = await attempt({ bucket: 'no-such-bucket' });
    assert.equal(err?.code, 'E_CONFIG', err?.message);
    assert.match(err.message, /bucket "no-such-bucket" does not exist/);
    assert.equal(err.exitCode, 2);
  });

  it('names an unreachable endpoint after retrying', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await attempt({ endpoint: `http://127.0.0.1:${port}`, retry: { attempts: 3, delayMs: 100 } });
    assert.equal(err?.code, 'E_STORAGE_UNREACHABLE', err?.message);
    assert.match(err.message, /cannot reach the S3 endpoint \(ECONNREFUSED\)/);
    assert.ok(Date.now() - started >= 300, 'retried with backoff (100 ms, then 200 ms)');
  });

  it('refuses a part size below S3 minimum at open', async () => {
    await assert.rejects(openStorage('remote', storageSchema.parse({ ...options, partSize: '1MB' })), /partSize must be at least 5MiB/);
  });
});
