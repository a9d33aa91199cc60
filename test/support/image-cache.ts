import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Where the Docker tests keep what is slow to make and the same from one run to the next (image
 * tarballs, a Debian root file system): one directory per machine, shared by every test file and
 * run. Delete it to start over; the harness makes what is missing.
 */
export function cacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lifeboat-test');
}

/** A short digest of what a cached file is made from: a new input gives a new file name. */
export function cacheKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** The path `name`-`key`.`ext` has (or will have) in the cache. */
export function cachePath(name: string, key: string, ext = 'tar'): string {
  return path.join(cacheDir(), `${name}-${key}.${ext}`);
}

/**
 * The cached file for `name` and `key`, made by `make(tmp)` when missing. Four test files run at
 * once: one makes it under a lock while the others wait, and the file appears whole (renamed from
 * `tmp`) or not at all. Older files of the same name (other keys) are removed.
 */
export async function cachedFile(name: string, key: string, make: (tmp: string) => Promise<void>, options: { ext?: string; waitMs?: number } = {}): Promise<{ file: string; made: boolean }> {
  const file = cachePath(name, key, options.ext);
  if (existsSync(file)) return { file, made: false };
  mkdirSync(cacheDir(), { recursive: true });
  const release = await lock(`${file}.lock`, options.waitMs ?? 20 * 60_000);
  try {
    if (existsSync(file)) return { file, made: false };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await make(tmp);
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const prefix = `${name}-`;
    for (const f of readdirSync(cacheDir())) {
      const other = path.join(cacheDir(), f);
      if (other !== file && f.startsWith(prefix) && /^[0-9a-f]{16}\.[a-z.]+$/.test(f.slice(prefix.length))) rmSync(other, { force: true });
    }
    return { file, made: true };
  } finally {
    release();
  }
}

/** An exclusive lock file holding its owner's pid; a lock whose owner died is taken over. */
async function lock(at: string, waitMs: number): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(at, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(at, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!ownerAlive(at)) {
      rmSync(at, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${at} is still held by pid ${readFileSync(at, 'utf8')} after ${Math.round(waitMs / 1000)} s`);
    await sleep(500);
  }
}

function ownerAlive(at: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(at, 'utf8'));
  } catch {
    return true; // just removed by its owner: try again
  }
  // Written between open and write: give the owner a moment.
  if (!pid) return Date.now() - statMs(at) < 5000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function statMs(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}
