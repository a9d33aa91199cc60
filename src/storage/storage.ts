import { Readable } from 'node:stream';
import { LifeboatError } from '../errors.ts';
import type { StorageConfig } from '../config/schema.ts';

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
}

/** A driver factory: checks its options at creation, connects lazily. */
export type DriverFactory = (name: string, config: StorageConfig) => StorageDriver;

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
export async function openStorage(name: string, config: StorageConfig): Promise<StorageDriver> {
  switch (config.type) {
    case 'local': {
      const { localDriver } = await import('./drivers/local.ts');
      return localDriver(name, config);
    }
  }
}

/**
 * Proves a storage is writable: writes, reads back and deletes a small probe object.
 * Throws E_STORAGE_WRITE naming the storage.
 */
export async function probeWritable(driver: StorageDriver): Promise<void> {
  const key = `.lifeboat-probe-${process.pid}-${Date.now()}`;
  try {
    await driver.put(key, Readable.from([Buffer.from('lifeboat probe\n')]));
    await driver.delete(key);
  } catch (err) {
    const e = err instanceof LifeboatError ? err : undefined;
    throw new LifeboatError(e?.code === 'E_NO_SPACE' ? 'E_NO_SPACE' : 'E_STORAGE_WRITE', `storage "${driver.name}" is not writable: ${e?.message ?? (err as Error).message}`, {
      cause: err,
      hint: e?.hint ?? 'check the path or credentials and the permissions of the user running lifeboat',
    });
  }
}
