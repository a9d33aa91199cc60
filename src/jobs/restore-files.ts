import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';
import { formatBytes } from '../util/format.ts';
import type { RestoreContext } from './restore-context.ts';
import { fileRoots, reviewEntries } from './restore-files-check.ts';
import { lookup, planVolumes, volumeOf } from './restore-files-volumes.ts';
import type { Check } from './restore-plan.ts';

/** One file-system entry a restore writes. */
export interface PlannedFile {
  set: string;
  /** The original absolute path. */
  path: string;
  /** Where it is written: the original path, or under --to-dir. */
  destination: string;
  /** The directory trusted as it is (--to-dir, or the parent of the set's configured path): below it, nothing is followed. */
  trusted: string;
  type: FileRecord['type'];
  /** `overwrite`: something is there now and is replaced (a safety copy is taken first). */
  action: 'create' | 'overwrite';
  size: number;
  /** Into a Docker volume file set: the volume, its mountpoint, and how it is written. */
  volume?: string;
  mountpoint?: string;
  via?: 'mountpoint' | 'helper';
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

/**
 * What a file restore writes, and a failing `file paths` check naming every entry it refuses
 * (restore-files-check.ts says what and why): a refused entry stops the whole restore before
 * anything is written. Also a `file space` check of the declared sizes against the free space
 * where they go.
 */
export async function planFiles(ctx: RestoreContext, toDir: string | undefined, checks: Check[]): Promise<PlannedFile[]> {
  if (!ctx.selectedFiles.length) return [];
  const roots = fileRoots(ctx.loaded, ctx.backup.target, toDir);
  const volumes = await planVolumes(ctx, roots, checks);
  const look = lookup(volumes, (p) => fs.lstat(p));
  const review = await reviewEntries(ctx.selectedFiles, ctx.manifest.members, roots, look);
  const planned: PlannedFile[] = [];
  for (const { record: f, destination, trusted } of review.accepted) {
    const existing = await look(destination).catch(() => undefined);
    const overwrite = existing !== undefined && !(f.type === 'directory' && existing.isDirectory());
    const v = roots.kind === 'in-place' ? volumeOf(volumes, destination) : undefined;
    planned.push({
      set: f.set, path: f.path, destination, trusted, type: f.type, action: overwrite ? 'overwrite' : 'create', size: f.size,
      ...(v ? { volume: v.volume, mountpoint: v.mountpoint, via: v.via } : {}),
    });
  }
  const n = review.refused.length;
  // A set whose configured path has moved since the backup: the files can still come back elsewhere.
  const elsewhere = !toDir && review.refused.some((r) => /outside the set's configured paths|cannot go back in place/.test(r)) ? '; --to-dir <dir> restores them under that directory instead' : '';
  checks.push({
    name: 'file paths', ok: n === 0,
    detail: n === 0 ? `${planned.length} entries, all ${review.roots}` : `refused ${n} entr${n === 1 ? 'y' : 'ies'} (${review.roots}): ${review.refused.slice(0, 5).join('; ')}${n > 5 ? `; and ${n - 5} more` : ''}${elsewhere}`,
  });
  checks.push(await spaceCheck(planned));
  return planned;
}

/** The declared sizes of the files against the free space of each file system they go to. */
async function spaceCheck(planned: PlannedFile[]): Promise<Check> {
  const needs = new Map<number, { where: string; bytes: number }>();
  const devices = new Map<string, { where: string; dev: number }>();
  const helped = new Set<string>();
  for (const p of planned) {
    // A volume written through a helper is not on a file system this process sees.
    if (p.via === 'helper') {
      helped.add(p.volume!);
      continue;
    }
    let device = devices.get(p.trusted);
    if (!device) {
      // The nearest directory that exists: the file system the entries will land on.
      let where = p.trusted;
      while (!(await fs.stat(where).catch(() => undefined)) && where !== path.dirname(where)) where = path.dirname(where);
      device = { where, dev: (await fs.stat(where).catch(() => undefined))?.dev ?? -1 };
      devices.set(p.trusted, device);
    }
    const { where, dev } = device;
    const need = needs.get(dev) ?? { where, bytes: 0 };
    need.bytes += p.type === 'file' ? p.size : 0;
    needs.set(dev, need);
  }
  const short: string[] = [];
  const fits: string[] = [];
  for (const { where, bytes } of needs.values()) {
    const s = await fs.statfs(where).catch(() => undefined);
    const free = s ? s.bavail * s.bsize : Infinity;
    (bytes > free ? short : fits).push(`${formatBytes(bytes)} to ${where}, ${s ? formatBytes(free) : 'unknown'} free`);
  }
  for (const v of helped) fits.push(`volume ${v}: free space not measurable from here`);
  return { name: 'file space', ok: short.length === 0, detail: short.length ? `not enough free space: ${short.join('; ')}` : fits.join('; ') || 'nothing to write' };
}

export { placeFile } from './restore-files-write.ts';
