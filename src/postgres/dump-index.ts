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

interface State {
  /** Bytes consumed so far. */
  pos: number;
  /** True while waiting for a block's first byte: the archive may end cleanly here. */
  boundary: boolean;
}

/** The archive parser, as a generator that asks for bytes to read or skip. */
function* parse(index: DumpIndex, state: State): Generator<Need, void, Buffer> {
  const magic = yield { read: 5 };
  if (magic.toString('latin1') !== 'PGDMP') throw new Error('not a custom-format archive');
  const [vmaj, vmin, , intSize, offSize, format] = yield { read: 6 };
  // 1.12 (PostgreSQL 9.5) to 1.16 (17 and later): the fields read below.
  if (vmaj !== 1 || vmin! < 12 || vmin! > 16 || format !== 1) throw new Error(`archive version ${vmaj}.${vmin} format ${format} is not one this indexer knows`);
  const int = function* (): Generator<Need, number, Buffer> {
    const b = yield { read: 1 + intSize! };
    let v = 0;
    for (let i = intSize!; i >= 1; i--) v = v * 256 + b[i]!;
    return b[0] ? -v : v;
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
  const entries = new Map<number, { desc: string; schema: string; tag: string }>();
  for (let i = 0; i < count; i++) {
    const dumpId = yield* int();
    yield* int(); // had dumper
    yield* str(); // table oid
    yield* str(); // oid
    const tag = (yield* str()) ?? '';
    const desc = (yield* str()) ?? '';
    yield* int(); // section
    yield* str(); // definition
    yield* str(); // drop statement
    yield* str(); // copy statement
    const schema = (yield* str()) ?? '';
    yield* str(); // tablespace
    if (vmin! >= 14) yield* str(); // table access method
    if (vmin! >= 16) yield* int(); // relkind
    yield* str(); // owner
    yield* str(); // "with oids"
    while ((yield* str()) !== undefined); // dependencies, ended by a null string
    yield { read: 1 + offSize! }; // data offset (unset when written to a pipe)
    entries.set(dumpId, { desc, schema, tag });
  }
  index.tocLength = state.pos;
  for (;;) {
    const start = state.pos;
    state.boundary = true;
    const type = (yield { read: 1 })[0];
    state.boundary = false;
    const id = yield* int();
    if (type === BLK_BLOBS) {
      while ((yield* int()) !== 0) for (let n = yield* int(); n !== 0; n = yield* int()) yield { skip: n };
    } else if (type === BLK_DATA) {
      for (let n = yield* int(); n !== 0; n = yield* int()) yield { skip: n };
      const e = entries.get(id);
      if (e?.desc === 'TABLE DATA') index.tables.push({ dumpId: id, schema: e.schema, name: e.tag, offset: start, length: state.pos - start });
    } else {
      throw new Error(`unknown block type ${type}`);
    }
  }
}

/**
 * Feeds an archive's bytes, in order, to the parser. `result()` is the index, or undefined when
 * the archive was not one it could read (the backup goes on without an index).
 */
export class DumpIndexer {
  readonly #index: DumpIndex = { tocLength: 0, tables: [] };
  readonly #state: State = { pos: 0, boundary: false };
  readonly #parser = parse(this.#index, this.#state);
  #need: Need | undefined;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  #failed = false;

  constructor() {
    this.#advance(Buffer.alloc(0));
  }

  push(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      let rest = chunk;
      while (rest.length > 0 && !this.#failed) {
        const need = this.#need!;
        if ('skip' in need) {
          const n = Math.min(need.skip, rest.length);
          rest = rest.subarray(n);
          this.#state.pos += n;
          need.skip -= n;
          if (need.skip === 0) this.#advance(Buffer.alloc(0));
          continue;
        }
        const take = rest.subarray(0, need.read - this.#pendingLength);
        this.#pending.push(take);
        this.#pendingLength += take.length;
        rest = rest.subarray(take.length);
        if (this.#pendingLength === need.read) {
          const data = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
          this.#pending = [];
          this.#pendingLength = 0;
          this.#state.pos += data.length;
          this.#advance(data);
        }
      }
    } catch {
      this.#failed = true;
    }
  }

  /** The index once the whole archive has been pushed; undefined if it ended mid-block or was unreadable. */
  result(): DumpIndex | undefined {
    if (this.#failed || !this.#state.boundary || this.#pendingLength > 0 || this.#index.tocLength === 0) return undefined;
    return this.#index;
  }

  /** Gives the parser its answer and runs it to its next request (a zero-byte skip is answered at once). */
  #advance(answer: Buffer): void {
    let step = this.#parser.next(answer);
    while (!step.done && 'skip' in step.value && step.value.skip === 0) step = this.#parser.next(Buffer.alloc(0));
    if (step.done) this.#failed = true;
    else this.#need = 'skip' in step.value ? { skip: step.value.skip } : step.value;
  }
}
