import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { keysForBundle, type DecryptionKeys } from '../bundle/codec.ts';
import type { DatabaseManifest, FileRecord, Manifest, MemberRecord } from '../bundle/manifest.ts';
import { readBundle } from '../bundle/reader.ts';
import { openRanges, readSeekIndex, readTarPieces, readTarRanges, type RangeReader, type SeekIndex } from '../bundle/seek.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { StorageDriver } from '../storage/storage.ts';
import type { DumpProgress } from './dump-progress.ts';
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
  /** The sha256 of the stored bytes, when the catalog recorded it: a whole read checks it. */
  sha256?: string | null;
}

/**
 * Reads a bundle once: every member's sha256 is checked against the manifest, the given
 * databases' dumps (their parts joined) are written to files pg_restore can seek in, and the
 * given files and other members are staged in `dir`. Throws E_BUNDLE_CORRUPT at the first
 * mismatch: nothing that uses the output may run before this has passed.
 *
 * With `progress`, each dump's written bytes are reported as they land, for loaders that follow
 * the extraction (restore-stream.ts); and a zstd bundle with a seek index is then read from two
 * places at once: from its start, and from the dump part where the largest table's rows begin,
 * so that table (the longest load) can start at once instead of after everything before it.
 */
export async function extractBundle(
  bundle: BundleSource,
  want: { databases: DatabaseManifest[]; files: FileRecord[]; members?: string[]; tables?: { schema: string; name: string }[] },
  dir: string,
  job: Job,
  progress?: DumpProgress,
): Promise<{ dumps: Map<string, string>; staged: Map<string, string> }> {
  // With the manifest's recipients, a damaged age header is told from a wrong key (codec.ts).
  const source = { ...bundle, keys: keysForBundle(bundle.keys, bundle.manifest.encryption) };
  if (want.tables && want.databases.length === 1 && !want.files.length && !want.members?.length) {
    const db = want.databases[0]!;
    const file = dumpFile(dir, db.name);
    const dump = await extractTables(source, db, want.tables, file, job);
    if (dump) return { dumps: new Map([[db.name, dump]]), staged: new Map() };
    await fs.rm(file, { force: true });
  }
  const records = new Map(source.manifest.members.map((m) => [m.name, m]));
  // Where each wanted member's bytes go: a dump part at its offset in the joined dump.
  const wanted = new Map<string, Placement>();
  for (const d of want.databases) {
    for (const part of dumpParts(d, source.manifest)) wanted.set(part.name, { file: dumpFile(dir, d.name), at: part.dumpStart, db: d });
  }
  const staged = new Map<string, string>();
  const stage = (member: string, file: string) => {
    wanted.set(member, { file, at: 0 });
    staged.set(member, file);
  };
  (want.members ?? []).forEach((m, i) => stage(m, path.join(dir, `member-${i}`)));
  want.files.filter((f) => f.type === 'file').forEach((f, i) => stage(f.member, path.join(dir, `file-${i}`)));

  const out = new Output(progress);
  try {
    for (const d of want.databases) await out.create(dumpFile(dir, d.name));
    const split = progress ? await openSplit(source, want.databases, job) : undefined;
    if (split) await readSplit(source, split, wanted, out, job);
    else await readWhole(source, want.databases, wanted, out, job);
    for (const [member, file] of staged) {
      if (!out.has(file)) {
        if (records.get(member)?.size === 0) await out.create(file);
        else throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${member} is missing; nothing was changed`);
      }
    }
    await out.close();
  } catch (err) {
    await out.close().catch(() => undefined);
    progress?.fail(asLifeboatError(err));
    throw err;
  }
  const dumps = new Map<string, string>();
  for (const d of want.databases) {
    dumps.set(d.name, dumpFile(dir, d.name));
    progress?.end(dumpFile(dir, d.name));
  }
  job.log('info', 'bundle checked: every member matches the manifest');
  return { dumps, staged };
}

/**
 * A database's dump parts, in order, with where each starts in the joined dump and its size and
 * sha256 from the manifest (size -1 for a part the manifest does not list).
 */
function dumpParts(db: DatabaseManifest, manifest: Manifest): { name: string; dumpStart: number; size: number; sha256: string }[] {
  const records = new Map(manifest.members.map((m) => [m.name, m]));
  let at = 0;
  return db.dumpMembers.map((name) => {
    const record = records.get(name);
    const part = { name, dumpStart: at, size: record?.size ?? -1, sha256: record?.sha256 ?? '' };
    at += Math.max(part.size, 0);
    return part;
  });
}

/** Where a member's bytes are written: `file` from offset `at`; `db` for a dump part. */
interface Placement {
  file: string;
  at: number;
  db?: DatabaseManifest;
}

/** The files an extraction writes, each opened once and written at given offsets. */
class Output {
  readonly #files = new Map<string, fs.FileHandle>();
  readonly #progress: DumpProgress | undefined;

  constructor(progress: DumpProgress | undefined) {
    this.#progress = progress;
  }

  async create(file: string): Promise<fs.FileHandle> {
    let fh = this.#files.get(file);
    if (!fh) {
      fh = await fs.open(file, 'w');
      this.#files.set(file, fh);
    }
    return fh;
  }

  has(file: string): boolean {
    return this.#files.has(file);
  }

  /** Writes `data` at `position` of `file`, then reports it written. */
  async write(file: string, data: Buffer, position: number): Promise<void> {
    const fh = await this.create(file);
    for (let done = 0; done < data.length; ) done += (await fh.write(data, done, data.length - done, position + done)).bytesWritten;
    this.#progress?.wrote(file, position, position + data.length);
  }

  async close(): Promise<void> {
    const files = [...this.#files.values()];
    this.#files.clear();
    await Promise.all(files.map((fh) => fh.close()));
  }
}

function memberCorrupt(name: string): LifeboatError {
  return new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${name} does not match its checksum in the manifest: the bundle is damaged; nothing was changed`);
}

/** The whole bundle, read in order. */
async function readWhole(source: BundleSource, databases: DatabaseManifest[], wanted: Map<string, Placement>, out: Output, job: Job): Promise<void> {
  const expected = new Map(source.manifest.members.map((m) => [m.name, m.sha256]));
  const records = new Map(source.manifest.members.map((m) => [m.name, m]));
  // Each dump's parts must come in the manifest's order: each part matching its sha256, all
  // present and in order, the joined file is the dump (no second hash over the whole of it).
  const nextPart = new Map<string, number>();
  const total = source.manifest.members.reduce((n, m) => n + m.size, 0);
  let done = 0;
  const missing = new Set(source.manifest.members.map((m) => m.name));
  for await (const entry of readBundle(await source.storage.get(source.key, { signal: job.signal }), path.basename(source.key), source.keys, { sha256: source.sha256 })) {
    missing.delete(entry.name);
    const target = wanted.get(entry.name);
    const hash = createHash('sha256');
    const db = target?.db;
    if (db) {
      const n = nextPart.get(db.name) ?? 0;
      if (db.dumpMembers[n] !== entry.name) throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} is out of order: the dump of ${db.name} cannot be joined; nothing was changed`);
      nextPart.set(db.name, n + 1);
    }
    // A member the restore uses must be a plain tar file: a link, device or FIFO entry in its place
    // carries no data to check, and is never created.
    if (target && entry.type !== 'file') throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} is a ${entry.type} entry where the manifest lists a file: the bundle is damaged or forged; nothing was changed`);
    let at = target?.at ?? 0;
    if (target) await out.create(target.file);
    for await (const chunk of entry.stream) {
      hash.update(chunk);
      if (target) await out.write(target.file, chunk, at);
      at += chunk.length;
      done += chunk.length;
      job.progress({ phase: 'checking and extracting', current: entry.name, done, total, unit: 'bytes' });
    }
    if (entry.type === 'file' && entry.name !== 'manifest.json' && expected.get(entry.name) !== hash.digest('hex')) throw memberCorrupt(entry.name);
    const declared = records.get(entry.name)?.size;
    if (target && at - target.at !== declared) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} holds ${at - target.at} bytes where the manifest says ${declared}: the bundle is damaged; nothing was changed`);
    }
  }
  const absent = [...missing][0];
  if (absent) throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${absent} is listed in the manifest but missing from the bundle: the bundle is incomplete; nothing was changed`);
  for (const d of databases) {
    if ((nextPart.get(d.name) ?? 0) !== d.dumpMembers.length) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `the dump of ${d.name} is incomplete in the bundle; nothing was changed`);
    }
  }
}

interface Split {
  bundle: RangeReader;
  index: SeekIndex;
  /** The manifest member the second reader starts at. */
  at: number;
  /** The table whose rows begin there. */
  table: string;
}

/**
 * Whether reading from two places pays, and the bundle opened for it: a zstd bundle whose seek
 * index places every member, where the largest table's rows start past the dump's first part.
 */
async function openSplit(source: BundleSource, databases: DatabaseManifest[], job: Job): Promise<Split | undefined> {
  const { manifest } = source;
  if (manifest.compression.algorithm !== 'zstd') return undefined;
  let largest: { db: DatabaseManifest; offset: number; length: number; table: string } | undefined;
  for (const db of databases) {
    for (const b of db.dumpIndex?.tables ?? []) if (!largest || b.length > largest.length) largest = { db, offset: b.offset, length: b.length, table: `${b.schema}.${b.name}` };
  }
  if (!largest) return undefined;
  const parts = dumpParts(largest.db, manifest);
  const holding = parts.findIndex((p) => largest.offset < p.dumpStart + p.size);
  // In the dump's first part, the largest table starts early enough without a second reader.
  const at = holding > 0 ? manifest.members.findIndex((m) => m.name === parts[holding]!.name) : -1;
  if (at <= 0) return undefined;
  try {
    const bundle = await openRanges(source.storage, source.key, manifest.encryption.kind === 'none' ? undefined : source.keys, job.signal);
    const index = bundle && (await readSeekIndex(bundle));
    if (!bundle || !index || manifest.members.some((m) => index.members[m.name] === undefined)) return undefined;
    return { bundle, index, at, table: largest.table };
  } catch (err) {
    // A key that does not open the header, a damaged tail: the whole read says what is wrong.
    if (err instanceof LifeboatError && err.code !== 'E_STORAGE_NOT_FOUND') throw err;
    return undefined;
  }
}

/**
 * Every member of the manifest through the seek index, in two runs read at once: those before
 * the split member, and the rest. Each member is checked against its sha256; both runs have
 * stopped writing before this returns or throws.
 */
async function readSplit(source: BundleSource, split: Split, wanted: Map<string, Placement>, out: Output, job: Job): Promise<void> {
  const members = source.manifest.members;
  job.log('info', `reading the bundle from two places at once: from its start, and from ${members[split.at]!.name}, where the rows of ${split.table} begin`);
  const total = members.reduce((n, m) => n + m.size, 0);
  let done = 0;
  const stop = new AbortController();
  const run = async (list: MemberRecord[]) => {
    for (const m of list.filter((x) => x.size === 0)) {
      if (m.sha256 !== createHash('sha256').digest('hex')) throw memberCorrupt(m.name);
      const target = wanted.get(m.name);
      if (target) await out.create(target.file);
    }
    const nonEmpty = list.filter((x) => x.size > 0);
    const ranges = nonEmpty.map((m) => ({ start: split.index.members[m.name]!, end: split.index.members[m.name]! + m.size }));
    let hash = createHash('sha256');
    let at = 0;
    for await (const piece of readTarPieces(split.bundle, split.index, ranges)) {
      if (stop.signal.aborted) return;
      const m = nonEmpty[piece.range]!;
      const target = wanted.get(m.name);
      hash.update(piece.data);
      if (target) await out.write(target.file, piece.data, target.at + at);
      at += piece.data.length;
      done += piece.data.length;
      job.progress({ phase: 'checking and extracting', current: m.name, done, total, unit: 'bytes' });
      if (piece.last) {
        if (hash.digest('hex') !== m.sha256) throw memberCorrupt(m.name);
        hash = createHash('sha256');
        at = 0;
      }
    }
  };
  const runs = [members.slice(0, split.at), members.slice(split.at)].map((list) =>
    run(list).catch((err: unknown) => {
      stop.abort();
      throw err;
    }),
  );
  const results = await Promise.allSettled(runs);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    const err = failed.reason as unknown;
    if (err instanceof LifeboatError) throw err;
    throw new LifeboatError('E_BUNDLE_CORRUPT', `${path.basename(source.key)} is damaged: ${(err as Error).message}`, { cause: err });
  }
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
  const parts = dumpParts(db, manifest).map((p) => ({ ...p, tarStart: index.members[p.name] ?? -1 }));
  if (parts.some((p) => p.size < 0 || p.tarStart < 0) || parts.reduce((n, p) => n + p.size, 0) !== db.dumpSize) return undefined;
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
