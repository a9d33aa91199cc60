import { createReadStream, createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asLifeboatError, isAbort, LifeboatError } from '../../errors.ts';
import type { StorageConfig } from '../../config/schema.ts';
import { pidAlive } from '../../util/pid.ts';
import { checkKey, hiddenKey, tempKey, tempWriter, type StorageDriver, type StorageObject } from '../storage.ts';

/**
 * Any mounted directory: a local disk, NFS or SMB. Publishing is write to a hidden temp file
 * in the same directory, fsync, then link(2) to the final name, which fails rather than
 * replacing an existing bundle, and works on NFS where O_EXCL rename tricks do not.
 */
export function localDriver(name: string, config: StorageConfig): StorageDriver {
  if (config.type !== 'local' || !path.isAbsolute(config.path)) {
    throw new LifeboatError('E_CONFIG', `storage "${name}": local storage needs an absolute path`);
  }
  const root = config.path;
  const host = hostname().replace(/[^A-Za-z0-9]/g, '');
  const full = (key: string) => path.join(root, ...checkKey(key).split('/'));

  async function put(key: string, body: Readable, options: { signal?: AbortSignal } = {}) {
    const dest = full(key);
    const tmp = full(tempKey(key, host));
    try {
      // Bundles hold database contents and .env files: owner only, whatever the umask.
      await fs.mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
      const out = createWriteStream(tmp, { flags: 'wx', flush: true, mode: 0o600 });
      await pipeline(body, writeBehind(out), out, { signal: options.signal });
      await fs.link(tmp, dest);
      await fs.unlink(tmp);
      await fsyncDir(path.dirname(dest));
      return { size: (await fs.stat(dest)).size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      body.destroy();
      throw writeError(err, name, key);
    }
  }

  async function get(key: string, options: { start?: number; end?: number; signal?: AbortSignal } = {}) {
    const file = full(key);
    try {
      // Open first, so a missing key fails here and not on the first read.
      const handle = await fs.open(file, 'r');
      return createReadStream('', { fd: handle, start: options.start, end: options.end, signal: options.signal, highWaterMark: 1 << 20 });
    } catch (err) {
      throw readError(err, name, key);
    }
  }

  async function stat(key: string): Promise<StorageObject | undefined> {
    try {
      const s = await fs.stat(full(key));
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw readError(err, name, key);
    }
  }

  async function* list(prefix: string): AsyncIterable<StorageObject> {
    let entries: string[];
    try {
      entries = await fs.readdir(root, { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw readError(err, name, prefix);
    }
    for (const rel of entries.sort()) {
      const key = rel.split(path.sep).join('/');
      if (!key.startsWith(prefix) || hiddenKey(key)) continue;
      const s = await fs.stat(path.join(root, rel)).catch(() => undefined);
      if (s?.isFile()) yield { key, size: s.size, modified: s.mtime };
    }
  }

  async function remove(key: string) {
    try {
      await fs.rm(full(key), { force: true });
    } catch (err) {
      throw writeError(err, name, key);
    }
  }

  async function space() {
    try {
      const s = await fs.statfs(root);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      return undefined;
    }
  }

  /** Temp files of this host whose writing process is gone. */
  async function sweep() {
    let removed = 0;
    const entries = await fs.readdir(root, { recursive: true }).catch(() => [] as string[]);
    for (const rel of entries) {
      const writer = tempWriter(path.basename(rel));
      if (!writer || writer.host !== host || pidAlive(writer.pid)) continue;
      await fs.rm(path.join(root, rel), { force: true });
      removed++;
    }
    return removed;
  }

  return { name, type: 'local', put, get, stat, list, delete: remove, space, sweep, close: async () => {} };
}

async function fsyncDir(dir: string) {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } catch {
    // Some network filesystems refuse fsync on directories; the file itself was flushed.
  } finally {
    await handle.close();
  }
}

function writeError(err: unknown, storage: string, key: string): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if (isAbort(err)) return asLifeboatError(err);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LifeboatError('E_NO_SPACE', `storage "${storage}" ran out of space writing ${key}`, { cause: err, hint: 'free space or prune old backups' });
  }
  if (code === 'EEXIST') return new LifeboatError('E_STORAGE_WRITE', `storage "${storage}" already holds ${key}; refusing to replace it`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new LifeboatError('E_STORAGE_WRITE', `storage "${storage}": permission denied writing ${key} (${code})`, { cause: err, hint: 'give the user running lifeboat write access to the storage path' });
  }
  return new LifeboatError('E_STORAGE_WRITE', `storage "${storage}": cannot write ${key}: ${(err as Error).message}`, { cause: err });
}

function readError(err: unknown, storage: string, key: string): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
    return new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${storage}" has no ${key}`, { cause: err });
  }
  return new LifeboatError('E_STORAGE_READ', `storage "${storage}": cannot read ${key}: ${(err as Error).message}`, { cause: err });
}

/** Bytes written between two write-behind syncs. */
const WRITE_BEHIND = 64 * 1024 * 1024;

/**
 * Passes bytes on to `out` and, every 64 MiB, has the kernel write back what `out` has written
 * so far (fdatasync, on libuv's threads, while writing goes on), so the fsync that publishing
 * needs at the end has little left to do: for a 310 MB bundle it took 0.2 s after the last byte
 * otherwise. The final fsync still decides (and reports errors): these are only early starts.
 */
function writeBehind(out: WriteStream): Transform {
  let since = 0;
  let syncing: Promise<void> | undefined;
  let fd: number | undefined;
  out.once('open', (opened: number) => (fd = opened));
  out.once('close', () => (fd = undefined));
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      since += chunk.length;
      if (since >= WRITE_BEHIND && !syncing && fd !== undefined) {
        since = 0;
        const open = fd;
        syncing = new Promise<void>((resolve) => fdatasync(open, () => resolve())).then(() => {
          syncing = undefined;
        });
      }
      cb(null, chunk);
    },
    // The file stays open until a sync in flight is done.
    flush(cb) {
      void (syncing ?? Promise.resolve()).then(() => cb());
    },
  });
}
