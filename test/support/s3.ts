import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { waitForPort } from './net.ts';

export interface TestS3 {
  endpoint: string;
  /** Options for a `type: s3` storage on this server, in a new bucket. */
  storage(bucket: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A real S3 protocol server (s3rver) on loopback, in its own process, storing in a temp
 * directory. It runs with OpenSSL's legacy provider because it makes ListObjectsV2
 * continuation tokens with DES.
 */
export async function startTestS3(): Promise<TestS3> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-'));
  const port = await freePort();
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const child: ChildProcess = spawn(process.execPath, ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '-s'], { stdio: 'ignore' });
  await waitForPort(port, 's3rver');
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...CREDENTIALS } });
  return {
    endpoint,
    async storage(bucket) {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return { type: 's3', bucket, endpoint, pathStyle: true, region: 'us-east-1', ...CREDENTIALS, partSize: '5MiB' };
    },
    async stop() {
      client.destroy();
      child.kill();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
