// What a file restore refuses, and why, decided in the plan before anything is written. A bundle
// is data read from storage, and anyone who can write there can forge one: every entry's path is
// checked against the directories the configuration allows for its set (or --to-dir), against
// the links and files the same restore creates on the way to it, and against the links on this
// system between the root and the entry.
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord, MemberRecord } from '../bundle/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { getProfile } from '../profiles/index.ts';

/** Where a restore may write files: under --to-dir, or inside the target's configured paths. */
export type FileRoots =
  | { kind: 'to-dir'; dir: string }
  | {
      kind: 'in-place';
      target: string;
      /** The config file, for messages. */
      file: string;
      /** Per configured set, its paths made absolute; undefined when the target is not configured. */
      sets: Map<string, string[]> | undefined;
    };

/** An entry the plan accepts: where it goes, and the directory above which nothing is checked. */
export interface AcceptedEntry {
  record: FileRecord;
  destination: string;
  /**
   * The directory trusted as it is (the --to-dir, or the parent of the set's configured path);
   * every directory between it and the destination is checked, and never followed, when written.
   */
  trusted: string;
}

export interface EntryReview {
  accepted: AcceptedEntry[];
  /** One line per refused entry, naming it and the reason. */
  refused: string[];
  /** What the roots were, for the plan's check line. */
  roots: string;
}

/** The roots the configuration gives a restore of `target`'s files, or the --to-dir. */
export function fileRoots(loaded: LoadedConfig, target: string, toDir: string | undefined): FileRoots {
  if (toDir) {
    const dir = path.resolve(toDir);
    // Under "/" every path is its own original: that is an in-place restore, checked as one.
    if (dir === '/') throw new LifeboatError('E_USAGE', '--to-dir / would write every file at its original path', { hint: 'leave out --to-dir to restore files in place, inside the paths lifeboat.yaml gives their sets' });
    return { kind: 'to-dir', dir };
  }
  const config = Object.hasOwn(loaded.config.targets, target) ? loaded.config.targets[target] : undefined;
  const base = path.dirname(loaded.file);
  // The sets a backup of this target takes: the profile's (a Django media folder) and the config's.
  const configured = config ? { ...(getProfile(config.profile).fileSets?.(config, base, 'restore') ?? {}), ...config.files } : undefined;
  const sets = configured ? new Map(Object.entries(configured).map(([set, cfg]) => [set, cfg.paths.map((p) => path.resolve(base, p))])) : undefined;
  return { kind: 'in-place', target, file: loaded.file, sets };
}

/** What stands at a path, as far as the checks look: fs.Stats, or a Docker volume's listing. */
export type Standing = Pick<Stats, 'isDirectory' | 'isSymbolicLink'>;

/** lstat, or what stands in for it where this file system does not show the destination (a volume written through a helper container). */
export type Look = (p: string) => Promise<Standing | undefined>;

const TYPES: ReadonlySet<string> = new Set(['file', 'directory', 'symlink']);

/** A path as a message shows it: control characters (a NUL, a newline) escaped. */
export function shown(p: unknown): string {
  // eslint-disable-next-line no-control-regex
  return typeof p === 'string' && !/[\x00-\x1f\x7f]/.test(p) ? p : JSON.stringify(p);
}

/** Why a manifest path is not a plain absolute path, or undefined when it is one. */
function pathProblem(p: unknown): string | undefined {
  if (typeof p !== 'string' || p === '') return 'has no path';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (!p.startsWith('/')) return 'is not an absolute path';
  const parts = p.split('/').slice(1);
  if (parts.includes('..')) return 'has a ".." component';
  if (p !== '/' && (parts.includes('.') || parts.includes(''))) return 'is not a normalized path (".", "//" or a trailing "/")';
  return undefined;
}

/** Whether `p` is `root` or below it. */
function inside(p: string, root: string): boolean {
  return p === root || root === '/' || p.startsWith(root + '/');
}

/** The directories strictly between `trusted` and `p`, outermost first. */
export function between(trusted: string, p: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(p); dir !== trusted && inside(dir, trusted) && dir !== path.dirname(dir); dir = path.dirname(dir)) out.unshift(dir);
  return out;
}

/**
 * Checks every entry a restore would write. Refused: types other than file, directory and
 * symlink (devices, FIFOs, sockets, hard links); paths that are not plain absolute paths; paths
 * outside the roots; an entry whose data the manifest does not list as it says; one path listed
 * twice with different contents; an entry under a link or a file the same restore creates; an
 * entry under a link on this system; a file or link where a directory stands now. Identical
 * duplicates are harmless and kept.
 */
export async function reviewEntries(files: FileRecord[], members: MemberRecord[], roots: FileRoots, look: Look = (p) => fs.lstat(p)): Promise<EntryReview> {
  const refused: string[] = [];
  const byMember = new Map(members.map((m) => [m.name, m]));
  const refuse = (f: FileRecord, why: string) => refused.push(`${shown(f.set)}:${shown(f.path)} ${why}`);
  const noted = new Set<string>();
  let rootsText = roots.kind === 'to-dir' ? `under ${roots.dir}` : `inside the configured paths of target "${roots.target}"`;

  const first: AcceptedEntry[] = [];
  const seen = new Map<string, FileRecord>();
  for (const f of files) {
    if (!TYPES.has(f.type as string)) {
      refuse(f, `is a ${shown(f.type)} entry: only files, directories and symlinks are restored (never devices, FIFOs, sockets or hard links)`);
      continue;
    }
    const problem = pathProblem(f.path);
    if (problem) {
      refuse(f, problem);
      continue;
    }
    if (f.type === 'symlink' && (typeof f.linkTarget !== 'string' || f.linkTarget === '' || f.linkTarget.includes('\0'))) {
      refuse(f, 'is a symlink without a usable target');
      continue;
    }
    if (f.type === 'file') {
      const m = byMember.get(f.member);
      if (f.member !== `files/${f.set}${f.path}` || !m) {
        refuse(f, `names its data ${shown(f.member)}, which the manifest does not list for it`);
        continue;
      }
      if (m.size !== f.size || m.sha256 !== f.sha256) {
        refuse(f, `declares ${f.size} bytes with sha256 ${String(f.sha256).slice(0, 12)}..., but its member holds ${m.size} bytes with sha256 ${m.sha256.slice(0, 12)}...`);
        continue;
      }
    }
    let destination: string;
    let trusted: string;
    if (roots.kind === 'to-dir') {
      if (f.path === '/' && f.type !== 'directory') {
        refuse(f, 'would replace the --to-dir itself');
        continue;
      }
      destination = f.path === '/' ? roots.dir : path.join(roots.dir, f.path);
      trusted = roots.dir;
    } else {
      if (!roots.sets) {
        refuse(f, `cannot go back in place: target "${roots.target}" is not in ${roots.file}`);
        continue;
      }
      let allowed = roots.sets.get(f.set);
      if (!allowed) {
        // A set since renamed or removed (or the safety backup's "pre-restore"): the config still
        // says where this target's files may be written, so its entries may go inside any of it.
        allowed = [...roots.sets.values()].flat();
        if (!noted.has(f.set)) rootsText += `; set ${shown(f.set)} is no longer configured, so its entries may go inside any configured path of the target`;
        noted.add(f.set);
      }
      const root = allowed.filter((r) => inside(f.path, r)).sort((a, b) => a.length - b.length)[0];
      if (!root) {
        refuse(f, allowed.length ? `is outside the set's configured paths (${allowed.join(', ')})` : `cannot go back in place: target "${roots.target}" has no file sets in ${roots.file}`);
        continue;
      }
      destination = f.path;
      trusted = path.dirname(root);
    }
    // Overlapping sets list a file once in each: the same contents, written twice, harmlessly.
    const earlier = seen.get(destination);
    if (earlier && !sameEntry(earlier, f)) {
      refuse(f, `is listed twice with different contents (also as ${shown(earlier.set)}:${shown(earlier.path)})`);
      continue;
    }
    seen.set(destination, f);
    first.push({ record: f, destination, trusted });
  }

  // What this restore itself creates on the way to each entry, and what stands there now.
  const created = new Map(first.map((a) => [a.destination, a.record.type]));
  const live = new Map<string, Standing | undefined>();
  const lstat = async (p: string) => {
    if (!live.has(p)) live.set(p, await look(p).catch(() => undefined));
    return live.get(p);
  };
  const accepted: AcceptedEntry[] = [];
  for (const a of first) {
    const why = await wayProblem(a, created, lstat);
    if (why) refuse(a.record, why);
    else accepted.push(a);
  }
  // Entries under a refused one lose their way too: a refused directory is not created.
  const refusedDirs = new Set(first.filter((a) => !accepted.includes(a)).map((a) => a.destination));
  const kept = accepted.filter((a) => {
    const blocked = between(a.trusted, a.destination).find((d) => refusedDirs.has(d));
    if (blocked) refuse(a.record, `lies under ${blocked}, which is refused`);
    return !blocked;
  });
  return { accepted: kept, refused, roots: rootsText };
}

/** Why the way to an accepted entry is not safe to write along, or undefined. */
async function wayProblem(a: AcceptedEntry, created: Map<string, string>, lstat: (p: string) => Promise<Standing | undefined>): Promise<string | undefined> {
  let gone = false;
  for (const dir of between(a.trusted, a.destination)) {
    const restoring = created.get(dir);
    if (restoring === 'symlink') return `lies under ${shown(dir)}, which this restore creates as a symlink: a restore never writes through a link`;
    if (restoring === 'file') return `lies under ${shown(dir)}, which this restore creates as a file`;
    // A directory entry there replaces whatever stands now (a link included) before anything goes in.
    if (restoring === 'directory' || gone) continue;
    const now = await lstat(dir);
    // Missing here, so missing below: only what the restore creates is left to check.
    gone = now === undefined;
    if (!now) continue;
    if (now.isSymbolicLink()) return `lies under ${shown(dir)}, a symlink on this system: a restore never writes through a link`;
    if (!now.isDirectory()) return `lies under ${shown(dir)}, which is not a directory on this system`;
  }
  if (a.record.type !== 'directory' && a.destination !== a.trusted && (await lstat(a.destination))?.isDirectory()) {
    return `is a ${a.record.type} in the backup but a directory on this system`;
  }
  return undefined;
}

function sameEntry(a: FileRecord, b: FileRecord): boolean {
  return a.type === b.type && a.sha256 === b.sha256 && a.linkTarget === b.linkTarget && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtime === b.mtime;
}
