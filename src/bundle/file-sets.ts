import { constants, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { FileSetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';

/** A file-system entry chosen for the bundle. */
export interface FileEntry {
  set: string;
  path: string;
  /** The tar member: `files/<set>/<absolute path without its leading slash>`. */
  member: string;
  type: 'file' | 'directory' | 'symlink';
  stat: Stats;
  linkTarget?: string;
  /** Where the bytes are read when not at `path`: a copy staged elsewhere (a Docker volume read through a helper container). */
  source?: string;
}

export interface Unreadable {
  set: string;
  path: string;
  reason: string;
}

/**
 * Walks a target's file sets: each path (a file or a directory, walked without following
 * symlinks) filtered by include/exclude globs, matched against the absolute path and the path
 * relative to the set's root. Reports what cannot be read instead of stopping at it.
 */
export async function collectFiles(sets: Record<string, FileSetConfig>, baseDir: string): Promise<{ entries: FileEntry[]; unreadable: Unreadable[] }> {
  const entries: FileEntry[] = [];
  const unreadable: Unreadable[] = [];
  for (const [set, cfg] of Object.entries(sets)) {
    const include = cfg.include?.length ? picomatch(cfg.include, { dot: true }) : undefined;
    const exclude = cfg.exclude?.length ? picomatch(cfg.exclude, { dot: true }) : undefined;
    const seen = new Set<string>();
    for (const configured of cfg.paths) {
      const root = path.resolve(baseDir, configured);
      const matches = (p: string) => {
        const rel = path.relative(root, p) || path.basename(p);
        return (pattern: picomatch.Matcher) => pattern(p) || pattern(rel);
      };
      const visit = async (p: string): Promise<void> => {
        if (seen.has(p)) return;
        seen.add(p);
        const test = matches(p);
        if (exclude && test(exclude)) return;
        let stat: Stats;
        try {
          stat = await fs.lstat(p);
        } catch (err) {
          unreadable.push({ set, path: p, reason: describe(err) });
          return;
        }
        const member = `files/${set}${p}`;
        if (stat.isSymbolicLink()) {
          if (include && !test(include)) return;
          entries.push({ set, path: p, member, type: 'symlink', stat, linkTarget: await fs.readlink(p) });
        } else if (stat.isDirectory()) {
          let children: string[];
          try {
            children = await fs.readdir(p);
          } catch (err) {
            unreadable.push({ set, path: p, reason: describe(err) });
            return;
          }
          entries.push({ set, path: p, member, type: 'directory', stat });
          for (const child of children.sort()) await visit(path.join(p, child));
        } else if (stat.isFile()) {
          if (include && !test(include)) return;
          try {
            await fs.access(p, constants.R_OK);
          } catch (err) {
            unreadable.push({ set, path: p, reason: describe(err) });
            return;
          }
          entries.push({ set, path: p, member, type: 'file', stat });
        }
        // Sockets, FIFOs and devices are not backed up.
      };
      await visit(root);
    }
  }
  return { entries, unreadable };
}

/** Throws for unreadable files when the target says onUnreadable: fail. */
export function refuseUnreadable(unreadable: Unreadable[]): void {
  if (unreadable.length === 0) return;
  const list = unreadable.slice(0, 5).map((u) => `${u.path} (set ${u.set}: ${u.reason})`).join('; ');
  const more = unreadable.length > 5 ? ` and ${unreadable.length - 5} more` : '';
  throw new LifeboatError('E_FILE_UNREADABLE', `cannot read ${unreadable.length === 1 ? 'a file' : `${unreadable.length} files`} in the file sets: ${list}${more}`, {
    hint: 'fix the path or permissions, or set onUnreadable: skip on the target to back up the rest',
  });
}

function describe(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'does not exist';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (err as Error).message;
}
