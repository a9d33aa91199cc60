import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FileRecord, Manifest } from '../bundle/manifest.ts';
import { withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { compareDatabase, type VerifyCheck } from './verify.ts';

/**
 * What the drill's restore holds, compared with the manifest by Lifeboat itself (restore.sh
 * validated against the index it carries; this is the second opinion): every database's tables
 * with columns, types and row counts, sequences and extensions; every file entry's type, size,
 * sha256, mode, link target, mtime and, as root, owner.
 */
export async function compareRestore(manifest: Manifest, server: PgEndpoint | undefined, filesRoot: string | undefined, signal: AbortSignal): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  for (const d of manifest.postgres?.databases ?? []) {
    signal.throwIfAborted();
    try {
      await compareDatabase(withDatabase(server!, d.name), d, checks, signal);
    } catch (err) {
      checks.push({ name: `${d.name}: restored`, ok: false, expected: `${d.tables.length} tables`, actual: (err as Error).message });
    }
  }
  if (filesRoot && manifest.files.length) checks.push(await compareFiles(manifest.files, filesRoot, signal));
  return checks;
}

async function compareFiles(files: FileRecord[], root: string, signal: AbortSignal): Promise<VerifyCheck> {
  const asRoot = process.getuid?.() === 0;
  const problems: string[] = [];
  for (const f of files) {
    signal.throwIfAborted();
    const problem = await compareFile(f, path.join(root, f.path), asRoot);
    if (problem) problems.push(`${f.set}:${f.path}: ${problem}`);
  }
  const n = files.filter((f) => f.type === 'file').length;
  return {
    name: 'files',
    ok: problems.length === 0,
    expected: `${files.length} entries (${n} files) as the manifest says`,
    actual: problems.length ? `${problems.length} differ: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; ...' : ''}` : 'all match',
  };
}

async function compareFile(f: FileRecord, dest: string, asRoot: boolean): Promise<string | undefined> {
  const st = await fs.lstat(dest).catch(() => undefined);
  if (!st) return 'missing';
  const type = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  if (type !== f.type) return `a ${type} where the manifest says ${f.type}`;
  if (asRoot && (st.uid !== f.uid || st.gid !== f.gid)) return `owner ${st.uid}:${st.gid}, the manifest says ${f.uid}:${f.gid}`;
  if (f.type === 'symlink') {
    const target = await fs.readlink(dest);
    return target === f.linkTarget ? undefined : `links to ${target}, the manifest says ${f.linkTarget}`;
  }
  if ((st.mode & 0o7777) !== f.mode) return `mode ${(st.mode & 0o7777).toString(8)}, the manifest says ${f.mode.toString(8)}`;
  if (f.type === 'directory') return undefined;
  if (Math.floor(st.mtimeMs / 1000) !== Math.floor(Date.parse(f.mtime) / 1000)) return `mtime ${st.mtime.toISOString()}, the manifest says ${f.mtime}`;
  if (st.size !== f.size) return `${st.size} bytes, the manifest says ${f.size}`;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(dest, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  const sum = hash.digest('hex');
  return sum === f.sha256 ? undefined : 'sha256 differs';
}
