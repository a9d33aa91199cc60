import { setTimeout as sleep } from 'node:timers/promises';
import { Readable, Transform } from 'node:stream';
import { isAbort, LifeboatError } from '../errors.ts';
import type { StorageConfig } from '../config/schema.ts';
import { formatBytes, parseSize } from '../util/format.ts';
import { track } from '../util/resource-ledger.ts';

/** One stored object. */
export interface StorageObject {
  /** Slash-separated key relative to the storage root, e.g. `app/app-20261121T020000Z.tar.zst`. */
  key: string;
  size: number;
  modified: Date;
}

/**
 * Where bundles live. Keys are relative, slash-separated, and never contain `..`; a driver
 * refuses any other with E_USAGE. Errors are LifeboatErrors with the codes named below, the
 * driver's own error kept as `cause`.
 */
export interface StorageDriver {
  /** The storage's name in lifeboat.yaml. */
  readonly name: string;
  /** The driver type: local, s3, sftp, rclone. */
  readonly type: string;
  /**
   * Stores `body` under `key`, visible only once complete (temp name + rename, or a completed
   * multipart upload). On failure or abort nothing is left, under `key` or elsewhere. Refuses
   * to replace an existing object. Throws E_STORAGE_WRITE, E_NO_SPACE, E_ABORTED.
   */
  put(key: string, body: Readable, options?: { signal?: AbortSignal }): Promise<{ size: number }>;
  /**
   * Reads `key`, optionally bytes `start` to `end` inclusive. Throws E_STORAGE_NOT_FOUND when
   * the key does not exist, E_STORAGE_READ otherwise.
   */
  get(key: string, options?: { start?: number; end?: number; signal?: AbortSignal }): Promise<Readable>;
  /** The object's size and time, or undefined when it does not exist. */
  stat(key: string): Promise<StorageObject | undefined>;
  /** Every published object whose key starts with `prefix` (temporary objects excluded). */
  list(prefix: string): AsyncIterable<StorageObject>;
  /** Removes `key`; removing a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Free and total bytes where the backend can tell; undefined where it cannot (most object stores). */
  space(): Promise<{ free: number; total: number } | undefined>;
  /** Removes temporary objects left by writers that died (killed backups). Returns how many. */
  sweep(): Promise<number>;
  /** Closes connections; the driver reconnects if used again. */
  close(): Promise<void>;
}

/** Knobs tests turn to reach code paths real sizes would make slow (several list pages). */
export interface DriverTuning {
  listPageSize?: number;
}

/** The temp-name marker every driver uses for unpublished objects: `.name.lifeboat-tmp-<host>-<pid>-<rand>`. */
export const TMP_MARK = '.lifeboat-tmp-';

/** A temp key beside `key`, hidden (dot-prefixed) so `list` skips it and `sweep` can find its writer. */
export function tempKey(key: string, host: string): string {
  const slash = key.lastIndexOf('/');
  const rand = Math.random().toString(16).slice(2, 10);
  return `${key.slice(0, slash + 1)}.${key.slice(slash + 1)}${TMP_MARK}${host}-${process.pid}-${rand}`;
}

/** The writer of a temp key, or undefined for a published key. */
export function tempWriter(key: string): { host: string; pid: number } | undefined {
  const m = new RegExp(`${TMP_MARK.replaceAll('.', '\\.')}([A-Za-z0-9]*)-(\\d+)-[0-9a-f]+$`).exec(key);
  return m ? { host: m[1]!, pid: Number(m[2]) } : undefined;
}

/** True for a key `list` must not show: a temp object or anything in a dot folder. */
export function hiddenKey(key: string): boolean {
  return key.split('/').some((p) => p.startsWith('.'));
}

/** Refuses keys that could escape the storage root. */
export function checkKey(key: string): string {
  const parts = key.split('/');
  if (
    key.length === 0 ||
    key.startsWith('/') ||
    key.includes('\\') ||
    key.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new LifeboatError('E_USAGE', `refused storage key "${key}": keys are relative paths without "..", "." or empty parts`);
  }
  return key;
}

/** Loads a driver by type; each lives in its own module so unused SDKs are never loaded. */
export async function openStorage(name: string, config: StorageConfig, tuning: DriverTuning = {}): Promise<StorageDriver> {
  return withPolicy(await loadDriver(name, config, tuning), config);
}

async function loadDriver(name: string, config: StorageConfig, tuning: DriverTuning): Promise<StorageDriver> {
  switch (config.type) {
    case 'local':
      return (await import('./drivers/local.ts')).localDriver(name, config);
    case 's3':
      return (await import('./drivers/s3.ts')).s3Driver(name, config, tuning);
    case 'sftp':
      return (await import('./drivers/sftp.ts')).sftpDriver(name, config);
    case 'rclone':
      return (await import('./drivers/rclone.ts')).rcloneDriver(name, config);
  }
}

/** Bytes of published objects under `prefix`. */
export async function usedBytes(driver: StorageDriver, prefix = ''): Promise<number> {
  let used = 0;
  for await (const obj of driver.list(prefix)) used += obj.size;
  return used;
}

/** Error codes of the network stack that a later attempt may not see. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'ERR_SSH_TIMEOUT']);

/** True when the error, or one it wraps, is a reset, timeout, refusal, HTTP 5xx or 429. */
export function isTransient(err: unknown): boolean {
  for (let e: unknown = err; e !== null && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if (e instanceof LifeboatError && PERMANENT.has(e.code)) return false;
    const o = e as { code?: unknown; transient?: boolean; $metadata?: { httpStatusCode?: number } };
    if (o.transient === true) return true;
    if (typeof o.code === 'string' && TRANSIENT_CODES.has(o.code)) return true;
    const status = o.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
  }
  return false;
}

const PERMANENT = new Set(['E_STORAGE_AUTH', 'E_STORAGE_NOT_FOUND', 'E_NO_SPACE', 'E_ABORTED', 'E_USAGE', 'E_CONFIG']);

/**
 * Runs `fn`, again after `delayMs`, 2x, 4x... while it fails with a transient error, at most
 * `attempts` times in all. `onRetry` hears about each retry (jobs log it).
 */
export async function retrying<T>(
  fn: () => Promise<T>,
  retry: { attempts: number; delayMs: number },
  options: { signal?: AbortSignal; onRetry?: (err: unknown, attempt: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= retry.attempts || !isTransient(err) || isAbort(err) || options.signal?.aborted) throw err;
      options.onRetry?.(err, attempt);
      await sleep(retry.delayMs * 2 ** (attempt - 1), undefined, { signal: options.signal });
    }
  }
}

/**
 * What every driver gets on top of its own code: retries of the calls that can be repeated
 * (put streams its body once, so it is not retried here; the S3 SDK retries each part), and the
 * configured quota, enforced while writing so an upload that would exceed it stops and leaves
 * nothing behind.
 */
function withPolicy(driver: StorageDriver, config: StorageConfig): StorageDriver {
  const retry = config.retry;
  const quota = config.quota === undefined ? undefined : parseSize(config.quota);
  const again = <T>(fn: () => Promise<T>) => retrying(fn, retry);
  const policy: StorageDriver = {
    ...driver,
    get: (key, options) => retrying(() => driver.get(key, options), retry, { signal: options?.signal }),
    stat: (key) => again(() => driver.stat(key)),
    delete: (key) => again(() => driver.delete(key)),
    sweep: () => again(() => driver.sweep()),
    async *list(prefix) {
      yield* await again(async () => {
        const all: StorageObject[] = [];
        for await (const obj of driver.list(prefix)) all.push(obj);
        return all;
      });
    },
    async space() {
      const backend = await again(() => driver.space());
      if (quota === undefined) return backend;
      const free = Math.max(0, quota - (await usedBytes(this)));
      return { free: backend ? Math.min(backend.free, free) : free, total: backend ? Math.min(backend.total, quota) : quota };
    },
    async put(key, body, options) {
      if (quota === undefined) return driver.put(key, body, options);
      const room = quota - (await usedBytes(this));
      let written = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          if (written > room) {
            done(new LifeboatError('E_NO_SPACE', `storage "${driver.name}" reached its quota of ${formatBytes(quota)} writing ${key}`, { hint: 'raise quota in lifeboat.yaml or prune old backups' }));
          } else done(null, chunk);
        },
      });
      body.on('error', (err) => meter.destroy(err));
      meter.on('error', () => body.destroy());
      return driver.put(key, body.pipe(meter), options);
    },
  };
  return {
    ...policy,
    async put(key, body, options) {
      // Staged under a temp name until published: recorded, so what a kill leaves is swept at the next start.
      const record = track({ kind: 'upload', location: key, server: driver.name });
      try {
        return await policy.put(key, body, options);
      } finally {
        record.release();
      }
    },
  };
}

/**
 * Proves a storage is writable and reads back what it stores: writes a small probe object, reads
 * it, compares, deletes it. Throws E_STORAGE_WRITE (or E_NO_SPACE, E_STORAGE_AUTH...) naming the storage.
 */
export async function probeWritable(driver: StorageDriver): Promise<void> {
  const key = `.lifeboat-probe-${process.pid}-${Date.now()}`;
  const content = `lifeboat probe ${new Date().toISOString()}\n`;
  try {
    await driver.put(key, Readable.from([Buffer.from(content)]));
    try {
      const chunks: Buffer[] = [];
      for await (const c of await driver.get(key)) chunks.push(c as Buffer);
      if (Buffer.concat(chunks).toString('utf8') !== content) throw new LifeboatError('E_STORAGE_READ', 'the probe object read back different bytes');
    } finally {
      await driver.delete(key);
    }
  } catch (err) {
    const e = err instanceof LifeboatError ? err : undefined;
    const code = e && ['E_NO_SPACE', 'E_STORAGE_AUTH', 'E_STORAGE_UNREACHABLE', 'E_CONFIG', 'E_ABORTED'].includes(e.code) ? e.code : 'E_STORAGE_WRITE';
    const reason = (e?.message ?? (err as Error).message).replace(`storage "${driver.name}": `, '');
    throw new LifeboatError(code, `storage "${driver.name}" is not writable: ${reason}`, {
      cause: err,
      hint: e?.hint ?? 'check the path or credentials and the permissions of the user running lifeboat',
    });
  }
}
