import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';

/** One file-system entry a restore writes. */
export interface PlannedFile {
  set: string;
  /** The original absolute path. */
  path: string;
  /** Where it is written: the original path, or under --to-dir. */
  destination: string;
  type: FileRecord['type'];
  /** `overwrite`: something is there now and is replaced (a safety copy is taken first). */
  action: 'create' | 'overwrite';
  size: number;
}

/**
 * The files a selector names: `set` (a whole file set), `set:/abs/path` or `/abs/path` (that
 * file, or everything under that directory). Unknown selectors are refused with close matches.
 */
export function selectFiles(files: FileRecord[], selectors: string[]): FileRecord[] {
  const chosen = new Set<FileRecord>();
  for (const selector of selectors) {
    const colon = selector.indexOf(':');
    const set = colon > 0 ? selector.slice(0, colon) : !selector.startsWith('/') ? selector : undefined;
    const p = colon > 0 ? selector.slice(colon + 1) : selector.startsWith('/') ? selector : undefined;
    const hits = files.filter((f) => (set === undefined || f.set === set) && (p === undefined || f.path === p || f.path.startsWith(p.replace(/\/$/, '') + '/')));
    if (hits.length === 0) {
      const want = p ?? selector;
      const base = path.basename(want);
      const stem = base.slice(0, Math.max(3, base.length - 2));
      const close = (f: FileRecord) => {
        const b = path.basename(f.path);
        return b.startsWith(stem) || base.includes(b) || b.includes(base) || path.dirname(f.path) === path.dirname(want);
      };
      const near = [...new Set(files.filter((f) => f.type === 'file' && close(f)).map((f) => `${f.set}:${f.path}`))].slice(0, 5);
      throw new LifeboatError('E_NOT_FOUND', `the backup has no file matching "${selector}"`, {
        hint: near.length ? `close matches: ${near.join(', ')}` : `file sets in it: ${[...new Set(files.map((f) => f.set))].join(', ') || 'none'}`,
      });
    }
    for (const h of hits) chosen.add(h);
  }
  return [...chosen];
}

/** Where a file goes; with a destination directory, refuses any path that would leave it. */
export function destinationOf(f: FileRecord, toDir: string | undefined): string {
  if (!toDir) return f.path;
  const root = path.resolve(toDir);
  const dest = path.resolve(root, '.' + f.path);
  if (dest !== root && !dest.startsWith(root + path.sep)) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `refused ${f.path}: it would be written outside ${root}`);
  }
  return dest;
}

export async function planFiles(files: FileRecord[], toDir: string | undefined): Promise<PlannedFile[]> {
  const planned: PlannedFile[] = [];
  for (const f of files) {
    const destination = destinationOf(f, toDir);
    const existing = await fs.lstat(destination).catch(() => undefined);
    const overwrite = existing !== undefined && !(f.type === 'directory' && existing.isDirectory());
    planned.push({ set: f.set, path: f.path, destination, type: f.type, action: overwrite ? 'overwrite' : 'create', size: f.size });
  }
  return planned;
}

/**
 * Refuses to write through a symlink between the destination directory and the file: a link
 * planted there (or in the backup) must not redirect a restore outside the directory.
 */
async function checkNoSymlinkParents(dest: string, root: string): Promise<void> {
  let dir = path.dirname(dest);
  while (dir.length >= root.length && dir !== path.dirname(dir)) {
    const s = await fs.lstat(dir).catch(() => undefined);
    if (s?.isSymbolicLink()) throw new LifeboatError('E_RESTORE_FAILED', `refused to write ${dest}: ${dir} is a symlink`);
    if (dir === root) break;
    dir = path.dirname(dir);
  }
}

/**
 * Puts one verified file from the staging area in place: written beside its destination under a
 * temporary name, with mode, mtime and (as root) owner, then renamed over it. Returns the sha256
 * read back from the destination.
 */
export async function placeFile(f: FileRecord, staged: string | undefined, destination: string, toDir: string | undefined): Promise<string | undefined> {
  if (toDir) await checkNoSymlinkParents(destination, path.resolve(toDir));
  const asRoot = process.getuid?.() === 0;
  if (f.type === 'directory') {
    await fs.mkdir(destination, { recursive: true });
    await fs.chmod(destination, f.mode);
    if (asRoot) await fs.chown(destination, f.uid, f.gid);
    return undefined;
  }
  await fs.mkdir(path.dirname(destination), { recursive: true });
  const tmp = path.join(path.dirname(destination), `.${path.basename(destination)}.lifeboat-restore-${randomBytes(4).toString('hex')}`);
  try {
    if (f.type === 'symlink') {
      await fs.symlink(f.linkTarget ?? '', tmp);
      if (asRoot) await fs.lchown(tmp, f.uid, f.gid);
      await fs.rename(tmp, destination);
      return undefined;
    }
    await fs.copyFile(staged!, tmp);
    await fs.chmod(tmp, f.mode);
    if (asRoot) await fs.chown(tmp, f.uid, f.gid);
    await fs.utimes(tmp, new Date(f.mtime), new Date(f.mtime));
    await fs.rename(tmp, destination);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new LifeboatError('E_RESTORE_FAILED', `cannot restore ${destination}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message}`, { cause: err });
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(destination)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
