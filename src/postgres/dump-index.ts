/**
 * Where each table's data lies in a pg_dump custom-format archive written to a pipe.
 *
 * pg_dump writing to a pipe cannot go back to fill in its table of contents' data offsets, so
 * pg_restore reaches one table by reading every block before it. This reads the archive as it
 * streams past during a backup (header, table of contents, then the data blocks' framing, never
 * the rows) and records where the TOC ends and where each table's data block starts and ends.
 * With it a restore of one table reads the TOC and that block alone (src/bundle/seek.ts).
 *
 * The layout is pg_dump's (src/bin/pg_dump/pg_backup_archiver.c ReadHead/ReadToc,
 * pg_backup_custom.c): integers are a sign byte and `intSize` little-endian bytes; strings an
 * integer length (-1 for none) and the bytes; a data block is a type byte, the entry's dump id,
 * then chunks of (length, bytes) ended by a zero length.
 */

export interface DumpIndex {
  /** Bytes of header and table of contents: the start of the archive pg_restore needs for anything. */
  tocLength: number;
  /** Each table's data block: its offset and length in the archive. */
  tables: { dumpId: number; schema: string; name: string; offset: number; length: number }[];
}

const BLK_DATA = 1;
const BLK_BLOBS = 3;

type Need = { read: number } | { skip: number };

interface Toc {
  /** Bytes consumed so far. */
  pos: number;
  intSize: number;
  /** Each entry's dump id: what it is, in which schema, named what. */
  entries: Map<number, TocEntry>;
}

/** One entry of an archive's table of contents. */
export interface TocEntry {
  dumpId: number;
  desc: string;
  schema: string;
  tag: string;
  /** pg_dump's section: 1 none (ACLs, comments), 2 pre-data, 3 data, 4 post-data. */
  section: number;
  /** The dump ids this entry depends on. */
  deps: number[];
  /** The SQL that creates the object (empty for data entries). */
  definition: string;
}

export const SECTION = { None: 1, PreData: 2, Data: 3, PostData: 4 } as const;

/**
 * The header and table of contents, as a generator that asks for bytes to read. Returns once
 * the TOC has been read; the data blocks that follow are scanned by DumpIndexer itself (one
 * chunk per row makes them too many for a generator).
 */
function* parseToc(toc: Toc): Generator<Need, void, Buffer> {
  const magic = yield { read: 5 };
  if (magic.toString('latin1') !== 'PGDMP') throw new Error('not a custom-format archive');
  const [vmaj, vmin, , intSize, offSize, format] = yield { read: 6 };
  // 1.12 (PostgreSQL 9.5) to 1.16 (17 and later): the fields read below.
  if (vmaj !== 1 || vmin! < 12 || vmin! > 16 || format !== 1 || intSize! < 1 || intSize! > 6) throw new Error(`archive version ${vmaj}.${vmin} format ${format} is not one this indexer knows`);
  toc.intSize = intSize!;
  const int = function* (): Generator<Need, number, Buffer> {
    return decodeInt(yield { read: 1 + intSize! }, 0, intSize!);
  };
  const str = function* (): Generator<Need, string | undefined, Buffer> {
    const n = yield* int();
    if (n < 0) return undefined;
    return n === 0 ? '' : (yield { read: n }).toString('utf8');
  };
  if (vmin! >= 15) yield { read: 1 }; // compression algorithm
  else yield* int(); // compression level
  for (let i = 0; i < 7; i++) yield* int(); // creation time
  yield* str(); // database name
  yield* str(); // server version
  yield* str(); // pg_dump version
  const count = yield* int();
  for (let i = 0; i < count; i++) {
    const dumpId = yield* int();
    yield* int(); // had dumper
    yield* str(); // table oid
    yield* str(); // oid
    const tag = (yield* str()) ?? '';
    const desc = (yield* str()) ?? '';
    const section = yield* int();
    const definition = (yield* str()) ?? '';
    yield* str(); // drop statement
    yield* str(); // copy statement
    const schema = (yield* str()) ?? '';
    yield* str(); // tablespace
    if (vmin! >= 14) yield* str(); // table access method
    if (vmin! >= 16) yield* int(); // relkind
    yield* str(); // owner
    yield* str(); // "with oids"
    const deps: number[] = [];
    for (let dep = yield* str(); dep !== undefined; dep = yield* str()) deps.push(Number(dep)); // ended by a null string
    yield { read: 1 + offSize! }; // data offset (unset when written to a pipe)
    toc.entries.set(dumpId, { dumpId, desc, schema, tag, section, deps, definition });
  }
}

/**
 * The entries of an archive's table of contents, from a buffer holding at least its header and
 * TOC (what `DumpIndex.tocLength` measures); undefined if it is not one this parser reads.
 */
export function readToc(archive: Buffer): TocEntry[] | undefined {
  return readTocWithLength(archive)?.entries;
}

/** readToc, also saying how many bytes the header and TOC take: a prefix pg_restore reads alone. */
export function readTocWithLength(archive: Buffer): { entries: TocEntry[]; length: number } | undefined {
  const toc: Toc = { pos: 0, intSize: 4, entries: new Map() };
  const parser = parseToc(toc);
  try {
    for (let step = parser.next(Buffer.alloc(0)); !step.done; ) {
      const { read } = step.value as { read: number };
      if (toc.pos + read > archive.length) return undefined;
      const answer = archive.subarray(toc.pos, toc.pos + read);
      toc.pos += read;
      step = parser.next(answer);
    }
  } catch {
    return undefined;
  }
  return { entries: [...toc.entries.values()], length: toc.pos };
}

/** pg_dump's integer: a sign byte, then `size` bytes little-endian. */
function decodeInt(b: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = size; i >= 1; i--) v = v * 256 + b[at + i]!;
  return b[at] ? -v : v;
}

/** What the data scanner expects next. */
const Mode = { Type: 0, Id: 1, Oid: 2, Length: 3, Skip: 4 } as const;

/**
 * Feeds an archive's bytes, in order, to the parser. `result()` is the index, or undefined when
 * the archive was not one it could read (the backup goes on without an index).
 */
export class DumpIndexer {
  readonly #index: DumpIndex = { tocLength: 0, tables: [] };
  readonly #toc: Toc = { pos: 0, intSize: 4, entries: new Map() };
  readonly #parser = parseToc(this.#toc);
  #need: Need | undefined;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #failed = false;
  // The data blocks' scanner.
  #inData = false;
  #mode: number = Mode.Type;
  #blockType = 0;
  #blockStart = 0;
  #blockId = 0;
  #skip = 0;
  #int = Buffer.alloc(8);
  #intFill = 0;

  constructor() {
    this.#advance(Buffer.alloc(0));
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      let at = 0;
      while (!this.#inData && at < chunk.length && !this.#failed) at = this.#feedToc(chunk, at);
      if (this.#inData) this.#scan(chunk, at);
    } catch {
      this.#failed = true;
    }
  }

  /** The index once the whole archive has been pushed; undefined if it ended mid-block or was unreadable. */
  result(): DumpIndex | undefined {
    if (this.#failed || !this.#inData || this.#mode !== Mode.Type || this.#intFill > 0) return undefined;
    return this.#index;
  }

  /** Gives the TOC parser the bytes it asked for; returns where in `chunk` it stopped. */
  #feedToc(chunk: Buffer, at: number): number {
    const need = this.#need as { read: number };
    const take = chunk.subarray(at, at + need.read - this.#pendingLength);
    // A copy: the caller may reuse its buffer before the rest of this answer arrives.
    this.#pending.push(Buffer.from(take));
    this.#pendingLength += take.length;
    this.#toc.pos += take.length;
    if (this.#pendingLength === need.read) {
      const data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
      this.#pending = [];
      this.#pendingLength = 0;
      this.#advance(data);
    }
    return at + take.length;
  }

  #advance(answer: Buffer): void {
    const step = this.#parser.next(answer);
    if (!step.done) {
      this.#need = step.value;
      return;
    }
    this.#inData = true;
    this.#index.tocLength = this.#toc.pos;
  }

  /** Walks the data blocks' framing: type, dump id, then (length, bytes) chunks to a zero length. */
  #scan(c: Buffer, i: number): void {
    const size = 1 + this.#toc.intSize;
    let pos = this.#toc.pos;
    while (i < c.length) {
      if (this.#mode === Mode.Skip) {
        const n = Math.min(this.#skip, c.length - i);
        i += n;
        pos += n;
        this.#skip -= n;
        if (this.#skip === 0) this.#mode = Mode.Length;
        continue;
      }
      if (this.#mode === Mode.Type) {
        this.#blockStart = pos;
        this.#blockType = c[i]!;
        if (this.#blockType !== BLK_DATA && this.#blockType !== BLK_BLOBS) throw new Error(`unknown block type ${this.#blockType}`);
        i++;
        pos++;
        this.#mode = Mode.Id;
        continue;
      }
      let v: number;
      if (this.#intFill === 0 && i + size <= c.length) {
        v = decodeInt(c, i, this.#toc.intSize);
        i += size;
        pos += size;
      } else {
        const n = Math.min(size - this.#intFill, c.length - i);
        c.copy(this.#int, this.#intFill, i, i + n);
        this.#intFill += n;
        i += n;
        pos += n;
        if (this.#intFill < size) continue;
        v = decodeInt(this.#int, 0, this.#toc.intSize);
        this.#intFill = 0;
      }
      if (this.#mode === Mode.Id) {
        this.#blockId = v;
        this.#mode = this.#blockType === BLK_BLOBS ? Mode.Oid : Mode.Length;
      } else if (this.#mode === Mode.Oid) {
        if (v === 0) this.#endBlock(pos);
        else this.#mode = Mode.Length;
      } else if (v > 0) {
        this.#skip = v;
        this.#mode = Mode.Skip;
      } else if (v === 0) {
        if (this.#blockType === BLK_BLOBS) this.#mode = Mode.Oid;
        else this.#endBlock(pos);
      } else {
        throw new Error('negative chunk length');
      }
    }
    this.#toc.pos = pos;
  }

  #endBlock(end: number): void {
    const e = this.#toc.entries.get(this.#blockId);
    if (e?.desc === 'TABLE DATA') this.#index.tables.push({ dumpId: this.#blockId, schema: e.schema, name: e.tag, offset: this.#blockStart, length: end - this.#blockStart });
    this.#mode = Mode.Type;
  }
}
