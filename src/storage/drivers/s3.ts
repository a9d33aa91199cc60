import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { asLifeboatError, isAbort, LifeboatError } from '../../errors.ts';
import type { StorageConfig } from '../../config/schema.ts';
import { parseSize } from '../../util/format.ts';
import { checkKey, hiddenKey, retrying, type DriverTuning, type StorageDriver, type StorageObject } from '../storage.ts';

type S3Config = Extract<StorageConfig, { type: 's3' }>;

/** Reads larger than one chunk go as this many ranged GETs in flight (memory: streams x chunk). */
const READ_STREAMS = 4;
const READ_CHUNK = 8 * 2 ** 20;

/** Parts uploaded at once; with the one being filled, memory is (UPLOAD_QUEUE + 1) x partSize. */
const UPLOAD_QUEUE = 2;

/**
 * The part buffers of one upload, reused: a part is copied into a free buffer (no concatenation,
 * no new buffer per part) and handed to `upload`; a buffer comes back when its upload is done.
 * The first failure is rethrown by the next `free` or `drain`.
 */
class PartPool {
  readonly #size: number;
  readonly #max: number;
  readonly #free: Buffer[] = [];
  readonly #running = new Set<Promise<void>>();
  #made = 0;
  #failure: { err: unknown } | undefined;

  constructor(size: number, queue: number) {
    this.#size = size;
    this.#max = queue + 1;
  }

  take(): Buffer {
    const b = this.#free.pop();
    if (b) return b;
    this.#made++;
    return Buffer.allocUnsafe(this.#size);
  }

  upload(buffer: Buffer, fn: () => Promise<void>): void {
    const run: Promise<void> = fn().then(
      () => {
        this.#free.push(buffer);
      },
      (err: unknown) => {
        this.#failure ??= { err };
      },
    ).finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** A buffer to fill next: a free one, a new one while under the limit, or the next to come back. */
  async free(): Promise<Buffer> {
    while (this.#free.length === 0 && this.#made >= this.#max) {
      if (this.#failure) throw this.#failure.err;
      await Promise.race(this.#running);
    }
    if (this.#failure) throw this.#failure.err;
    return this.take();
  }

  async drain(): Promise<void> {
    await Promise.all(this.#running);
    if (this.#failure) throw this.#failure.err;
  }
}

/** Multipart uploads older than this under our prefix belong to killed writers. */
const STALE_UPLOAD_MS = 24 * 3600 * 1000;

/**
 * Any S3-compatible service. A bundle is one multipart upload of unknown length, two parts in
 * flight from three reused part buffers (lib-storage concatenates a new buffer per part and
 * keeps the previous alive through the remainder: ~60 MB more at 16 MB parts); it is visible
 * only once completed, and aborted on failure, so no partial object is ever listed. Small
 * objects go up in one PutObject, atomic too.
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
    let uploadId: string | undefined;
    // A body waiting for data would not notice the abort: end it, so the loop below throws.
    // Before the body is read (a stat, a connection first), nothing listens for its error, which
    // would then be thrown at the process: the abort is reported by the catch below instead.
    const onAbort = () => {
      body.on('error', () => {});
      body.destroy(options.signal!.reason as Error);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      options.signal?.throwIfAborted();
      if (await retrying(() => stat(key), s3.retry, { signal: options.signal })) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" already holds ${key}; refusing to replace it`);
      const target = { Bucket: bucket, Key, StorageClass: s3.storageClass as never, ServerSideEncryption: s3.serverSideEncryption, SSEKMSKeyId: s3.kmsKeyId };
      const send = client('upload');
      const parts: { PartNumber: number; ETag: string }[] = [];
      const pool = new PartPool(partSize, UPLOAD_QUEUE);
      let size = 0;
      let partCount = 0;
      let part = pool.take();
      let filled = 0;
      const flush = async () => {
        uploadId ??= (await send.send(new CreateMultipartUploadCommand(target), { abortSignal: options.signal })).UploadId!;
        const PartNumber = ++partCount;
        const buffer = part;
        const length = filled;
        pool.upload(buffer, async () => {
          const res = await send.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId: uploadId, PartNumber, Body: buffer.subarray(0, length), ContentLength: length }), { abortSignal: options.signal });
          parts.push({ PartNumber, ETag: res.ETag! });
        });
        part = await pool.free();
        filled = 0;
      };
      for await (const chunk of body as AsyncIterable<Buffer>) {
        size += chunk.length;
        for (let off = 0; off < chunk.length; ) {
          const n = Math.min(chunk.length - off, partSize - filled);
          chunk.copy(part, filled, off, off + n);
          filled += n;
          off += n;
          if (filled === partSize) await flush();
        }
      }
      if (uploadId === undefined) {
        // Smaller than one part: a single PutObject, atomic too.
        await send.send(new PutObjectCommand({ ...target, Body: part.subarray(0, filled), ContentLength: filled }), { abortSignal: options.signal });
      } else {
        if (filled > 0) await flush();
        await pool.drain();
        parts.sort((x, y) => x.PartNumber - y.PartNumber);
        await send.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal: options.signal });
        uploadId = undefined;
      }
      const done = await stat(key);
      if (!done || done.size !== size) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" holds ${done?.size ?? 0} bytes of ${key} after ${size} were sent`);
      return { size };
    } catch (err) {
      body.destroy();
      if (uploadId !== undefined) {
        const id = uploadId;
        await client('single').send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId: id })).catch(() => {});
      }
      if (options.signal?.aborted) throw asLifeboatError(options.signal.reason ?? err);
      throw s3Error(err, name, bucket, key, 'write');
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
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
      // As put's body: the abort must not reach the process before the caller listens.
      options.signal?.addEventListener('abort', () => stream.on('error', () => {}).destroy(options.signal!.reason as Error), { once: true });
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
