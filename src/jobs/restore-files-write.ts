// Putting restored entries in place without ever following a link: the plan has refused what
// lies outside its root (restore-files-check.ts); this re-checks each directory on the way just
// before writing, because a link the same restore created earlier must not redirect a later write.
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';
import { between, shown } from './restore-files-check.ts';
import type { PlannedFile } from './restore-files.ts';

const NOFOLLOW = constants.O_NOFOLLOW;

/**
 * Puts one verified entry from the staging area in place. Every directory between the trusted
 * directory and the destination is checked with lstat (created when missing) and must be a real
 * directory; a file is written beside its destination under a temporary name created with
 * O_EXCL (which never follows a link), given its mode, mtime and (as root) owner through a
 * descriptor opened with O_NOFOLLOW, then renamed over the destination, which replaces a link
 * there rather than writing through it. Returns the sha256 read back from the destination.
 */
export async function placeFile(f: FileRecord, staged: string | undefined, planned: PlannedFile | undefined): Promise<string | undefined> {
  if (!planned) throw new LifeboatError('E_RESTORE_FAILED', `refused ${shown(f.path)}: the plan did not accept it`);
  const { destination, trusted } = planned;
  await fs.mkdir(trusted, { recursive: true });
  await directoriesTo(trusted, destination);
  const asRoot = process.getuid?.() === 0;
  if (f.type === 'directory') {
    await placeDirectory(f, destination, asRoot);
    return undefined;
  }
  const tmp = path.join(path.dirname(destination), `.${path.basename(destination)}.lifeboat-restore-${randomBytes(4).toString('hex')}`);
  try {
    if (f.type === 'symlink') {
      await fs.symlink(f.linkTarget ?? '', tmp);
      if (asRoot) await fs.lchown(tmp, f.uid, f.gid);
    } else if (f.type === 'file') {
      // COPYFILE_EXCL creates the copy with O_CREAT|O_EXCL: it fails on a link instead of following it.
      await fs.copyFile(staged!, tmp, constants.COPYFILE_EXCL);
      const fh = await fs.open(tmp, constants.O_RDWR | NOFOLLOW);
      try {
        await fh.chmod(f.mode & 0o7777);
        if (asRoot) await fh.chown(f.uid, f.gid);
        await fh.utimes(new Date(f.mtime), new Date(f.mtime));
      } finally {
        await fh.close();
      }
    } else {
      throw new LifeboatError('E_RESTORE_FAILED', `refused ${shown(f.path)}: a ${shown(f.type)} entry is never created`);
    }
    await fs.rename(tmp, destination);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw failed(destination, err);
  }
  if (f.type === 'symlink') return undefined;
  const fh = await fs.open(destination, constants.O_RDONLY | NOFOLLOW);
  const hash = createHash('sha256');
  try {
    for await (const chunk of fh.createReadStream({ autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/**
 * Makes sure every directory strictly between `trusted` and `destination` is a real directory,
 * creating the missing ones; a link or a file on the way stops the restore.
 */
async function directoriesTo(trusted: string, destination: string): Promise<void> {
  for (const dir of between(trusted, destination)) {
    let s = await fs.lstat(dir).catch(() => undefined);
    if (!s) {
      await fs.mkdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw failed(destination, err);
      });
      s = await fs.lstat(dir);
    }
    if (s.isSymbolicLink()) throw new LifeboatError('E_RESTORE_FAILED', `refused to write ${shown(destination)}: ${shown(dir)} is a symlink, and a restore never writes through a link`);
    if (!s.isDirectory()) throw new LifeboatError('E_RESTORE_FAILED', `refused to write ${shown(destination)}: ${shown(dir)} is not a directory`);
  }
}

/** A directory entry: whatever stands there and is not a directory (a link, a file) is replaced. */
async function placeDirectory(f: FileRecord, destination: string, asRoot: boolean): Promise<void> {
  try {
    const s = await fs.lstat(destination).catch(() => undefined);
    if (s && !s.isDirectory()) await fs.unlink(destination);
    if (!s || !s.isDirectory()) await fs.mkdir(destination);
    const fh = await fs.open(destination, constants.O_RDONLY | constants.O_DIRECTORY | NOFOLLOW);
    try {
      await fh.chmod(f.mode & 0o7777);
      if (asRoot) await fh.chown(f.uid, f.gid);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw failed(destination, err);
  }
}

function failed(destination: string, err: unknown): LifeboatError {
  if (err instanceof LifeboatError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ELOOP' ? 'it is a symlink now' : (err as Error).message;
  return new LifeboatError('E_RESTORE_FAILED', `cannot restore ${shown(destination)}: ${why}`, { cause: err });
}
