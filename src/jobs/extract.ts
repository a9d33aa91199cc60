import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DecryptionKeys } from '../bundle/codec.ts';
import type { DatabaseManifest, FileRecord, Manifest } from '../bundle/manifest.ts';
import { readBundle } from '../bundle/reader.ts';
import { openRanges, readSeekIndex, readTarRanges, type RangeReader, type SeekIndex } from '../bundle/seek.ts';
import { LifeboatError } from '../errors.ts';
import type { StorageDriver } from '../storage/storage.ts';
import type { Job } from './job.ts';

export const GLOBALS_MEMBER = 'databases/globals.sql';

/** Where extractBundle writes a database's dump in `dir`. */
export const dumpFile = (dir: string, database: string) => path.join(dir, `${encodeURIComponent(database)}.dump`);

/** Where a bundle is and how to open it. */
export interface BundleSource {
  storage: StorageDriver;
  key: string;
  keys: DecryptionKeys;
  manifest: Manifest;
}

/**
 * Reads a bundle once: every member's sha256 is checked against the manifest, the given
 * databases' dumps (their parts joined) are written to files pg_restore can seek in, and the
 * given files and other members are staged in `dir`. Throws E_BUNDLE_CORRUPT at the first
 * mismatch: nothing that uses the output may run before this has passed.
 */
export async function extractBundle(
  source: BundleSource,
  want: { databases: DatabaseManifest[]; files: FileRecord[]; members?: string[]; tables?: { schema: string; name: string }[] },
  dir: string,
  job: Job,
): Promise<{ dumps: Map<string, string>; staged: Map<string, string> }> {
  if (want.tables && want.databases.length === 1 && !want.files.length && !want.members?.length) {
    const db = want.databases[0]!;
    const file = dumpFile(dir, db.name);
    const dump = await extractTables(source, db, want.tables, file, job);
    if (dump) return { dumps: new Map([[db.name, dump]]), staged: new Map() };
    await fs.rm(file, { force: true });
  }
  const wanted = new Map<string, { db?: DatabaseManifest; file: string }>();
  for (const d of want.databases) for (const m of d.dumpMembers) wanted.set(m, { db: d, file: dumpFile(dir, d.name) });
  const staged = new Map<string, string>();
  const stage = (member: string, file: string) => {
    wanted.set(member, { file });
    staged.set(member, file);
  };
  (want.members ?? []).forEach((m, i) => stage(m, path.join(dir, `member-${i}`)));
  want.files.filter((f) => f.type === 'file').forEach((f, i) => stage(f.member, path.join(dir, `file-${i}`)));

  const expected = new Map(source.manifest.members.map((m) => [m.name, m.sha256]));
  // Each dump's parts must come in the manifest's order: each part matching its sha256, all
  // present and in order, the joined file is the dump (no second hash over the whole of it).
  const nextPart = new Map<string, number>();
  const total = source.manifest.members.reduce((n, m) => n + m.size, 0);
  let done = 0;
  const missing = new Set(source.manifest.members.map((m) => m.name));
  for await (const entry of readBundle(await source.storage.get(source.key, { signal: job.signal }), path.basename(source.key), source.keys)) {
    missing.delete(entry.name);
    const target = wanted.get(entry.name);
    const hash = createHash('sha256');
    const db = target?.db;
    if (db) {
      const n = nextPart.get(db.name) ?? 0;
      if (db.dumpMembers[n] !== entry.name) throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} is out of order: the dump of ${db.name} cannot be joined; nothing was changed`);
      nextPart.set(db.name, n + 1);
    }
    const tap = async function* () {
      for await (const chunk of entry.stream) {
        hash.update(chunk);
        done += chunk.length;
        job.progress({ phase: 'checking and extracting', current: entry.name, done, total, unit: 'bytes' });
        yield chunk;
      }
    };
    if (target) await pipeline(tap, createWriteStream(target.file, { flags: 'a' }));
    else for await (const _ of tap()) void _;
    if (entry.type === 'file' && entry.name !== 'manifest.json' && expected.get(entry.name) !== hash.digest('hex')) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} does not match its checksum in the manifest: the bundle is damaged; nothing was changed`);
    }
  }
  const absent = [...missing][0];
  if (absent) throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${absent} is listed in the manifest but missing from the bundle: the bundle is incomplete; nothing was changed`);
  const dumps = new Map<string, string>();
  for (const d of want.databases) {
    if ((nextPart.get(d.name) ?? 0) !== d.dumpMembers.length) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `the dump of ${d.name} is incomplete in the bundle; nothing was changed`);
    }
    dumps.set(d.name, dumpFile(dir, d.name));
  }
  for (const [member, file] of staged) {
    if (!(await fs.stat(file).catch(() => undefined))) {
      if (source.manifest.members.find((m) => m.name === member)?.size === 0) await fs.writeFile(file, '');
      else throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${member} is missing; nothing was changed`);
    }
  }
  job.log('info', 'bundle checked: every member matches the manifest');
  return { dumps, staged };
}

/**
 * Writes a dump holding only the TOC and the given tables' data, read through the bundle's seek
 * index: only the frames holding those dump parts are fetched and decompressed, and every part
 * read is checked against its sha256 in the manifest; an encrypted bundle is decrypted from the
 * age chunk that holds the range. Undefined when the bundle has no usable index (gzip, older):
 * the caller reads the whole bundle instead.
 */
async function extractTables(source: BundleSource, db: DatabaseManifest, tables: { schema: string; name: string }[], file: string, job: Job): Promise<string | undefined> {
  const { manifest } = source;
  const dumpIndex = db.dumpIndex;
  if (!dumpIndex || manifest.compression.algorithm !== 'zstd') return undefined;
  let bundle: RangeReader | undefined;
  let index: SeekIndex | undefined;
  try {
    bundle = await openRanges(source.storage, source.key, manifest.encryption.kind === 'none' ? undefined : source.keys, job.signal);
    index = bundle && (await readSeekIndex(bundle));
  } catch (err) {
    // A key that does not open the header, a damaged tail: the whole read says what is wrong.
    if (err instanceof LifeboatError) throw err;
    return undefined;
  }
  if (!bundle || !index) return undefined;
  const records = new Map(manifest.members.map((m) => [m.name, m]));
  let at = 0;
  const parts = db.dumpMembers.map((name) => {
    const record = records.get(name);
    const part = { name, dumpStart: at, size: record?.size ?? -1, sha256: record?.sha256 ?? '', tarStart: index.members[name] ?? -1 };
    at += part.size;
    return part;
  });
  if (parts.some((p) => p.size < 0 || p.tarStart < 0) || at !== db.dumpSize) return undefined;
  const blocks = tables.flatMap((t) => dumpIndex.tables.filter((b) => b.schema === t.schema && b.name === t.name));
  const ranges = [{ offset: 0, length: dumpIndex.tocLength }, ...blocks].sort((a, b) => a.offset - b.offset);
  const needed = parts.filter((p) => ranges.some((r) => r.offset < p.dumpStart + p.size && p.dumpStart < r.offset + r.length));
  const total = needed.reduce((n, p) => n + p.size, 0);
  job.log('info', `reading the TOC and ${blocks.length} table data block(s) of ${db.name} through the seek index: ${needed.length} of ${parts.length} dump part(s)`);

  const out = createWriteStream(file);
  let done = 0;
  try {
    const reads = readTarRanges(bundle, index, needed.map((p) => ({ start: p.tarStart, end: p.tarStart + p.size })));
    let k = 0;
    for await (const data of reads) {
      const part = needed[k++]!;
      if (createHash('sha256').update(data).digest('hex') !== part.sha256) {
        throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${part.name} does not match its checksum in the manifest: the bundle is damaged; nothing was changed`);
      }
      for (const r of ranges) {
        const from = Math.max(r.offset, part.dumpStart);
        const to = Math.min(r.offset + r.length, part.dumpStart + part.size);
        if (from >= to) continue;
        // A block starts with its type byte (1: data); the archive with PGDMP. Else the index is wrong.
        if (from === r.offset && data[from - part.dumpStart] !== (r.offset === 0 ? 0x50 : 1)) return undefined;
        if (!out.write(data.subarray(from - part.dumpStart, to - part.dumpStart))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      }
      done += data.length;
      job.progress({ phase: 'checking and extracting', current: part.name, done, total, unit: 'bytes' });
    }
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    job.log('warn', `reading through the seek index failed (${(err as Error).message}); reading the whole bundle instead`);
    return undefined;
  } finally {
    await new Promise((resolve) => out.end(resolve));
  }
  job.log('info', `read ${(total / 1e6).toFixed(1)} MB of the ${(db.dumpSize / 1e6).toFixed(1)} MB dump; each part matches the manifest`);
  return file;
}
