import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../errors.ts';
import type { Config } from './schema.ts';
import { getIn, isUnresolved, type Where } from './secrets.ts';

/**
 * Kernel file systems: reading them never ends (a home under /proc spun at 100% CPU) or means
 * nothing as a backup. /dev/shm is an ordinary tmpfs, so it stays allowed.
 */
const KERNEL_ROOTS = ['/proc', '/sys', '/dev'];
const ALLOWED_UNDER_KERNEL = ['/dev/shm'];

/**
 * Makes every path in the config absolute and refuses the ones Lifeboat must not use: file
 * sets, key files and the home are resolved against the config file's directory (so a config
 * means the same from any working directory); the home, temp directory, local storages and
 * file sets may not lie under /proc, /sys or /dev; key files (age identity, SSH key, known_hosts)
 * must be readable files now, not at 2 a.m. when the first backup needs them. Returns one note
 * per relative path resolved, for `lifeboat config check`.
 */
export function checkPaths(config: Config, c: { dir: string; home: string; where: Where; env: NodeJS.ProcessEnv; raw: unknown }): string[] {
  const notes: string[] = [];
  const { dir, where } = c;
  const absolute = (p: string, keyPath: PropertyKey[]) => {
    if (path.isAbsolute(p)) return p;
    const resolved = path.resolve(dir, p);
    notes.push(`${where(keyPath)}: "${p}" is relative: read as ${resolved} (relative paths are resolved against the config file's directory)`);
    return resolved;
  };

  refuseKernelPath(c.home, c.env.LIFEBOAT_HOME === undefined ? where(['home']) : 'LIFEBOAT_HOME', 'the home');
  if (config.tempDir) refuseKernelPath(config.tempDir, where(['tempDir']), 'the temp directory');
  for (const [name, s] of Object.entries(config.storages)) {
    if (s.type === 'local') refuseKernelPath(s.path, where(['storages', name, 'path']), 'a storage');
    if (s.type === 'sftp') {
      for (const key of ['privateKey', 'knownHosts'] as const) {
        if (isUnresolved(s, key) || s[key] === undefined) continue;
        s[key] = absolute(s[key], ['storages', name, key]);
        requireReadableFile(s[key], where(['storages', name, key]), key === 'privateKey' ? 'the SSH private key' : 'the known_hosts file');
      }
    }
  }
  for (const [name, t] of Object.entries(config.targets)) {
    for (const [set, fileSet] of Object.entries(t.files)) {
      fileSet.paths = fileSet.paths.map((p, i) => {
        // As written: `set: [paths]` or `set: { paths: [paths] }`.
        const keyPath = Array.isArray(getIn(c.raw, ['targets', name, 'files', set])) ? ['targets', name, 'files', set, i] : ['targets', name, 'files', set, 'paths', i];
        const resolved = absolute(p, keyPath);
        refuseKernelPath(resolved, where(keyPath), 'a file set');
        return resolved;
      });
    }
    const e = t.encryption;
    if (e && 'recipients' in e && e.identityFile !== undefined && !isUnresolved(e, 'identityFile')) {
      e.identityFile = absolute(e.identityFile, ['targets', name, 'encryption', 'identityFile']);
      requireReadableFile(e.identityFile, where(['targets', name, 'encryption', 'identityFile']), 'the age identity file');
    }
  }
  const identity = c.env.LIFEBOAT_AGE_IDENTITY_FILE;
  if (identity) requireReadableFile(path.resolve(identity), 'LIFEBOAT_AGE_IDENTITY_FILE', 'the age identity file');
  return notes;
}

/** E_CONFIG when `p` (or where its symlinks lead) is under /proc, /sys or /dev. */
function refuseKernelPath(p: string, where: string, what: string): void {
  for (const candidate of [p, realPathOfExisting(p)]) {
    if (ALLOWED_UNDER_KERNEL.some((ok) => within(candidate, ok))) continue;
    const root = KERNEL_ROOTS.find((k) => within(candidate, k));
    if (root) {
      throw new LifeboatError('E_CONFIG', `${where}: ${p} is under ${root}, a kernel file system: ${what} cannot be there`, {
        hint: 'name a directory on a real file system (e.g. /var/lib/lifeboat, /srv/backups)',
      });
    }
  }
}

function within(p: string, root: string): boolean {
  return p === root || p.startsWith(root + '/');
}

/** `p` with its existing part's symlinks resolved; the part that does not exist yet as written. */
function realPathOfExisting(p: string): string {
  const rest: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

function requireReadableFile(file: string, where: string, what: string): void {
  let problem: string | undefined;
  try {
    if (!statSync(file).isFile()) problem = 'not a regular file';
    else accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  }
  if (problem) {
    throw new LifeboatError('E_CONFIG', `${where}: ${what} ${file} cannot be read: ${problem}`, {
      hint: 'fix the path, or make the file readable by the user running lifeboat',
    });
  }
}
