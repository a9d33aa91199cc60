import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { putError, storageContract } from './contract.ts';
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

  const attempt = (extra: Record<string, unknown>) => putError('remote', { ...options, retry: { attempts: 2, delayMs: 10 }, ...extra });

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

describe('s3: transient errors are retried', () => {
  let s3: TestS3;
  let proxy: Server;
  let failures = 0;
  let seen: string[] = [];
  before(async () => {
    s3 = await startTestS3();
    const target = new URL(s3.endpoint);
    // A proxy in front of the real server that answers 503 to the next `failures` requests.
    proxy = createServer((req, res) => {
      seen.push(`${req.method} ${failures > 0 ? 503 : 'ok'}`);
      if (failures > 0) {
        failures--;
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>busy</Message></Error>');
        return;
      }
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    proxy.close();
    await s3.stop();
  });

  it('a 503 on reads and listings is retried with backoff, then succeeds', async () => {
    const options = await s3.storage('lifeboat-flaky');
    const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const driver = await openStorage('flaky', storageSchema.parse({ ...options, endpoint, retry: { attempts: 3, delayMs: 50 } }));
    try {
      await driver.put('a/x.tar', Readable.from([Buffer.from('payload')]));
      failures = 2;
      seen = [];
      assert.equal((await driver.stat('a/x.tar'))?.size, 7);
      assert.deepEqual(seen, ['HEAD 503', 'HEAD 503', 'HEAD ok']);
      failures = 2;
      const listed: string[] = [];
      for await (const o of driver.list('a/')) listed.push(o.key);
      assert.deepEqual(listed, ['a/x.tar']);
      failures = 3;
      await assert.rejects(driver.stat('a/x.tar'), (err: LifeboatError) => {
        assert.equal(err.code, 'E_STORAGE_READ');
        assert.equal(err.message, 'storage "flaky": cannot read a/x.tar: HTTP 503');
        return true;
      }, 'gives up after the configured attempts');
    } finally {
      await driver.close();
    }
  });
});
