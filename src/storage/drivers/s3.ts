import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { asLifeboatError, isAbort, LifeboatError } from '../../errors.ts';
import type { StorageConfig } from '../../config/schema.ts';
import { parseSize } from '../../util/format.ts';
import { checkKey, hiddenKey, retrying, type DriverTuning, type StorageDriver, type StorageObject } from '../storage.ts';

type S3Config = Extract<StorageConfig, { type: 's3' }>;

/** Reads larger than one chunk go as this many ranged GETs in flight (memory: streams x chunk). */
const READ_STREAMS = 4;
const READ_CHUNK = 8 * 2 ** 20;

/** Multipart uploads older than this under our prefix belong to killed writers. */
const STALE_UPLOAD_MS = 24 * 3600 * 1000;

/**
 * Any S3-compatible service. A bundle is one multipart upload of unknown length (lib-storage
 * buffers `partSize` x 2 at most); it is visible only once completed, and aborted on failure,
 * so no partial object is ever listed. Small objects go up in one PutObject, atomic too.
 */
export function s3Driver(name: string, config: StorageConfig, tuning: DriverTuning = {}): StorageDriver {
  if (config.type !== 's3') throw new LifeboatError('E_CONFIG', `storage "${name}" is not an s3 storage`);
  if ((config.accessKeyId === undefined) !== (config.secretAccessKey === undefined)) {
    throw new LifeboatError('E_CONFIG', `storage "${name}": accessKeyId and secretAccessKey go together`, {
      hint: 'set both, or neither to use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the instance role',
    });
  }
  const s3: S3Config = config;
  const partSize = parseSize(config.partSize);
  if (partSize < 5 * 2 ** 20) throw new LifeboatError('E_CONFIG', `storage "${name}": partSize must be at least 5MiB (S3's minimum part size)`);
  const root = config.prefix === '' || config.prefix.endsWith('/') ? config.prefix : `${config.prefix}/`;
  const objectKey = (key: string) => root + checkKey(key);
  const bucket = config.bucket;

  let clients: { upload: S3Client; single: S3Client } | undefined;
  /** Two clients: uploads let the SDK retry each part; single calls are retried by the storage policy. */
  function client(kind: 'upload' | 'single'): S3Client {
    if (!clients) {
      const base: S3ClientConfig = {
        region: s3.region,
        endpoint: s3.endpoint,
        forcePathStyle: s3.pathStyle,
        credentials: s3.accessKeyId && s3.secretAccessKey
          ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, sessionToken: s3.sessionToken }
          : undefined,
        // S3-compatible services differ in their support of the newer default checksums.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
      };
      clients = { upload: new S3Client({ ...base, maxAttempts: s3.retry.attempts }), single: new S3Client({ ...base, maxAttempts: 1 }) };
    }
    return clients[kind];
  }

  async function put(key: string, body: Readable, options: { signal?: AbortSignal } = {}) {
    const Key = objectKey(key);
    try {
      options.signal?.throwIfAborted();
      if (await retrying(() => stat(key), s3.retry, { signal: options.signal })) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" already holds ${key}; refusing to replace it`);
      const upload = new Upload({
        client: client('upload'),
        params: {
          Bucket: bucket, Key, Body: body,
          StorageClass: s3.storageClass as never,
          ServerSideEncryption: s3.serverSideEncryption,
          SSEKMSKeyId: s3.kmsKeyId,
        },
        partSize,
        queueSize: 2,
        leavePartsOnError: false,
      });
      const onAbort = () => void upload.abort().catch(() => {});
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // A failing body must fail the upload, not leave it waiting for data that never comes.
      const failed = new Promise<never>((_, reject) => body.once('error', reject));
      failed.catch(() => {});
      try {
        await Promise.race([upload.done(), failed]);
      } catch (err) {
        await upload.abort().catch(() => {});
        throw err;
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
      const done = await stat(key);
      if (!done) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}": ${key} is missing after its upload completed`);
      return { size: done.size };
    } catch (err) {
      body.destroy();
      if (options.signal?.aborted) throw asLifeboatError(options.signal.reason ?? err);
      throw s3Error(err, name, bucket, key, 'write');
    }
  }

  async function getRange(key: string, range: string | undefined, signal?: AbortSignal): Promise<Readable> {
    try {
      const res = await client('single').send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key), Range: range }), { abortSignal: signal });
      return res.Body as Readable;
    } catch (err) {
      throw s3Error(err, name, bucket, key, 'read');
    }
  }

  /**
   * Large reads go as READ_STREAMS ranged GETs of READ_CHUNK bytes in flight, emitted in order:
   * one S3 stream rarely fills a link, and a reset costs one chunk (retried), not the download.
   */
  async function get(key: string, options: { start?: number; end?: number; signal?: AbortSignal } = {}) {
    const found = await stat(key);
    if (!found) throw new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${name}" has no ${key}`);
    const start = options.start ?? 0;
    const end = Math.min(options.end ?? found.size - 1, found.size - 1);
    if (end + 1 - start <= READ_CHUNK) {
      const stream = await getRange(key, options.start !== undefined || options.end !== undefined ? `bytes=${start}-${end}` : undefined, options.signal);
      options.signal?.addEventListener('abort', () => stream.destroy(options.signal!.reason as Error), { once: true });
      return stream;
    }
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort(options.signal!.reason), { once: true });
    let next = start;
    const inflight: Promise<Buffer[]>[] = [];
    const fetchChunk = () => {
      const from = next;
      const to = Math.min(from + READ_CHUNK - 1, end);
      next = to + 1;
      // Kept as the chunks the socket gave (no concatenated copy), pushed one by one.
      const p = retrying(async () => {
        const parts: Buffer[] = [];
        let got = 0;
        for await (const c of await getRange(key, `bytes=${from}-${to}`, controller.signal)) {
          parts.push(c as Buffer);
          got += (c as Buffer).length;
        }
        if (got !== to - from + 1) throw Object.assign(new Error(`short read of ${key} at ${from}: ${got} bytes`), { transient: true });
        return parts;
      }, s3.retry, { signal: controller.signal });
      p.catch(() => {});
      inflight.push(p);
    };
    return new Readable({
      highWaterMark: READ_CHUNK,
      read() {
        while (inflight.length < READ_STREAMS && next <= end) fetchChunk();
        const head = inflight.shift();
        if (!head) return void this.push(null);
        head.then(
          (parts) => {
            for (const part of parts) this.push(part);
          },
          (err: unknown) => this.destroy(s3Error(err, name, bucket, key, 'read')),
        );
      },
      destroy(err, cb) {
        controller.abort();
        cb(err);
      },
    });
  }

  async function stat(key: string): Promise<StorageObject | undefined> {
    try {
      const res = await client('single').send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0) };
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 && (err as Error).name !== 'NoSuchBucket') return undefined;
      throw s3Error(err, name, bucket, key, 'read');
    }
  }

  async function* list(prefix: string): AsyncIterable<StorageObject> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await client('single').send(new ListObjectsV2Command({ Bucket: bucket, Prefix: root + prefix, ContinuationToken: token, MaxKeys: tuning.listPageSize }));
      } catch (err) {
        throw s3Error(err, name, bucket, prefix, 'read');
      }
      for (const o of page.Contents ?? []) {
        const key = o.Key!.slice(root.length);
        if (!hiddenKey(key)) yield { key, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function remove(key: string) {
    try {
      await client('single').send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
    } catch (err) {
      throw s3Error(err, name, bucket, key, 'write');
    }
  }

  /** Aborts multipart uploads under our prefix that a killed writer left (they cost storage, unseen). */
  async function sweep() {
    let removed = 0;
    try {
      const res = await client('single').send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: root }));
      for (const u of res.Uploads ?? []) {
        if (!u.Initiated || Date.now() - u.Initiated.getTime() < STALE_UPLOAD_MS) continue;
        await client('single').send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
        removed++;
      }
    } catch {
      // Some S3-compatible servers do not list multipart uploads; their lifecycle rules clean up.
    }
    return removed;
  }

  async function close() {
    clients?.upload.destroy();
    clients?.single.destroy();
    clients = undefined;
  }

  return { name, type: 's3', put, get, stat, list, delete: remove, space: async () => undefined, sweep, close };
}

/** S3's errors as LifeboatErrors that say what to check. */
function s3Error(err: unknown, storage: string, bucket: string, key: string, op: 'read' | 'write'): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if (isAbort(err)) return asLifeboatError(err);
  const e = err as Error & { Code?: string; code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  // A HEAD request's error has no body to name it: fall back to the HTTP status.
  const named = [e.name, e.Code].find((n) => n && n !== 'Unknown' && n !== 'Error');
  const code = named ?? (status ? `HTTP ${status}` : '');
  if (code === 'NoSuchBucket') {
    return new LifeboatError('E_CONFIG', `storage "${storage}": bucket "${bucket}" does not exist`, { cause: err, hint: 'create the bucket, or fix bucket: (and endpoint:, region:) in lifeboat.yaml' });
  }
  if (code === 'NoSuchKey' || (status === 404 && op === 'read')) {
    return new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${storage}" has no ${key}`, { cause: err });
  }
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError'].includes(code) || status === 403) {
    return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": access to bucket "${bucket}" was denied (${code})`, {
      cause: err, hint: 'check accessKeyId/secretAccessKey (or the instance role) and the bucket policy',
    });
  }
  if (['QuotaExceeded', 'EntityTooLarge', 'StorageQuotaExceeded'].includes(code)) {
    return new LifeboatError('E_NO_SPACE', `storage "${storage}" refused ${key}: ${code}`, { cause: err, hint: 'raise the bucket quota or prune old backups' });
  }
  const net = e.code ?? (e.cause as { code?: string } | undefined)?.code;
  if (net && ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH'].includes(net)) {
    return new LifeboatError('E_STORAGE_UNREACHABLE', `storage "${storage}": cannot reach the S3 endpoint (${net})`, { cause: err, hint: 'check endpoint: and region: in lifeboat.yaml and the network' });
  }
  const detail = [code, e.message && e.message !== 'UnknownError' && e.message !== code ? e.message : ''].filter(Boolean).join(': ');
  return new LifeboatError(op === 'read' ? 'E_STORAGE_READ' : 'E_STORAGE_WRITE', `storage "${storage}": cannot ${op} ${key}: ${detail || 'unknown error'}`, { cause: err });
}
