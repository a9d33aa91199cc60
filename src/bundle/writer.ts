import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import type { CompressionConfig, EncryptionConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { fillerFrom, type Filler } from '../util/pipe.ts';
import { encrypt, tarSink, type TarSink } from './codec.ts';
import { TAR_BLOCK, TAR_END, tarHeader, tarPadding } from './tar.ts';
import { MANIFEST_MEMBER, serializeManifest, type Manifest, type MemberRecord } from './manifest.ts';

/**
 * A dump of unknown length is cut into parts of this size: a tar header needs the size before
 * the data, and parts keep both memory (two parts at most) and temp disk (none) bounded while
 * pg_dump, compression and upload run at the same time. README.md, "Bundle format", has the
 * measurements behind the choice. 4 MiB rather than 8: the same speed, 8-10 MB less peak RSS on
 * the 1 GB bench, and a single table reads less around its rows.
 */
export const DEFAULT_PART_SIZE = 4 * 1024 * 1024;

export interface EntryMeta {
  mode?: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
}

/** Zero bytes for tar padding. */
const ZEROS = Buffer.alloc(TAR_BLOCK);

/**
 * Writes one bundle as a stream: tar, then compression, then age encryption. Members are added
 * in order, one at a time; `finish` appends manifest.json with every member's size and sha256.
 * Read `output` (e.g. into a storage driver) while adding members: writes wait for the reader.
 *
 * The writer writes the tar stream itself (tar.ts) into the compressor's blocks, so that a
 * dump's parts can live in a few buffers reused from part to part (see `addUnknownLength`).
 */
export class BundleWriter {
  readonly #sink: TarSink;
  readonly #members: MemberRecord[] = [];
  /** Where each member's data starts in the tar stream, for the seek index. */
  readonly #offsets: Record<string, number> = {};
  readonly #hash = createHash('sha256');
  #position = 0;
  #size = 0;
  #output: Readable | undefined;
  /** Called with the count of source bytes taken in so far. */
  onBytes: ((n: number) => void) | undefined;

  private constructor(sink: TarSink) {
    this.#sink = sink;
  }

  /** The final bytes: what goes to storage. */
  get output(): Readable {
    return this.#output!;
  }

  static async create(compression: CompressionConfig, encryption: EncryptionConfig | undefined): Promise<BundleWriter> {
    const writer = new BundleWriter(tarSink(compression));
    let stream = writer.#sink.output;
    if (encryption) stream = await encrypt(stream, encryption);
    const meter = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        writer.#hash.update(chunk);
        writer.#size += chunk.length;
        cb(null, chunk);
      },
    });
    stream.on('error', (err) => meter.destroy(err));
    writer.#output = stream.pipe(meter);
    return writer;
  }

  /** Members written so far, in order. */
  get members(): readonly MemberRecord[] {
    return this.#members;
  }

  /** Size and sha256 of the bundle's final bytes; complete once `output` has ended. */
  get written(): { size: number; sha256: string } {
    return { size: this.#size, sha256: this.#hash.copy().digest('hex') };
  }

  /** Adds a member held in memory, as one buffer or several (written in order, not joined). */
  async addBuffer(name: string, data: Buffer | Buffer[], meta: EntryMeta = {}): Promise<MemberRecord> {
    const chunks = Array.isArray(data) ? data : [data];
    const size = chunks.reduce((n, c) => n + c.length, 0);
    return this.#entry(name, size, meta, async (put) => {
      for (const chunk of chunks) await put(chunk);
    });
  }

  /** Adds a member of known size from a stream; the stream must yield exactly `size` bytes. */
  async addStream(name: string, size: number, source: AsyncIterable<Buffer>, meta: EntryMeta = {}): Promise<MemberRecord> {
    return this.#entry(name, size, meta, async (put) => {
      let n = 0;
      for await (const chunk of source) {
        const take = chunk.subarray(0, Math.max(0, size - n));
        n += take.length;
        if (take.length) await put(take);
        if (n >= size) break;
      }
      // The file shrank while read: the entry is padded so the tar stays well-formed; the caller records the change.
      if (n < size) throw new ShortReadError(n, size);
    });
  }

  /** Adds a directory or symlink entry. */
  async addSpecial(name: string, type: 'directory' | 'symlink', meta: EntryMeta & { linkname?: string }): Promise<void> {
    await this.#write(tarHeader({ name, type, ...meta }));
  }

  /**
   * Adds a stream of unknown length: one member `name` if it fits in one part, else
   * `name.part-0001`, `name.part-0002`, ... that `cat` joins. Returns the members and the
   * size and sha256 of the whole stream.
   *
   * Parts are read straight into buffers of `partSize` that are reused once written, at most
   * three at a time (one filling, two waiting for the compressor); each part and the whole are
   * hashed as the bytes land, while they are still in the CPU's cache (hashing a whole part when
   * it was written took twice as long).
   */
  async addUnknownLength(
    name: string,
    source: Filler | AsyncIterable<Buffer>,
    partSize = DEFAULT_PART_SIZE,
  ): Promise<{ members: string[]; size: number; sha256: string }> {
    const fill = typeof source === 'function' ? source : fillerFrom(source);
    const whole = createHash('sha256');
    const members: string[] = [];
    const free: Buffer[] = [];
    let size = 0;
    const read = async (): Promise<Part> => {
      const buf = free.pop() ?? Buffer.allocUnsafe(partSize);
      const hash = createHash('sha256');
      const n = await fill(buf, (piece) => {
        whole.update(piece);
        hash.update(piece);
        size += piece.length;
        this.onBytes?.(piece.length);
      });
      return { buf, n, sha256: hash.digest('hex') };
    };
    // Parts are written one after another while the next ones are read.
    let writing: Promise<unknown> = Promise.resolve();
    const waiting: Promise<unknown>[] = [];
    const write = (memberName: string, part: Part) => {
      members.push(memberName);
      const previous = writing;
      writing = (async () => {
        await previous;
        await this.#entry(memberName, part.n, {}, (put) => put(part.buf.subarray(0, part.n)), part.sha256);
        free.push(part.buf);
      })();
      writing.catch(() => undefined);
      waiting.push(writing);
    };
    const partName = () => `${name}.part-${String(members.length + 1).padStart(4, '0')}`;
    const first = await read();
    const second = first.n === partSize ? await read() : undefined;
    if (!second || second.n === 0) {
      write(name, first);
    } else {
      write(partName(), first);
      let part = second;
      for (;;) {
        write(partName(), part);
        if (part.n < partSize) break;
        // At most two parts wait for the compressor while the next one fills.
        while (waiting.length >= 2) await waiting.shift();
        part = await read();
        if (part.n === 0) break;
      }
    }
    await writing;
    return { members, size, sha256: whole.digest('hex') };
  }

  /**
   * Appends manifest.json (with the member list) and ends the tar. `seal` adds what covers the
   * whole manifest, members included: its MAC (mac.ts signManifest).
   */
  async finish(manifest: Omit<Manifest, 'members'>, seal: (m: Manifest) => Manifest = (m) => m): Promise<Manifest> {
    const full: Manifest = seal({ ...manifest, members: [...this.#members] });
    await this.addBuffer(MANIFEST_MEMBER, Buffer.from(serializeManifest(full)));
    await this.#write(TAR_END);
    await this.#sink.end(this.#offsets);
    return full;
  }

  /** Stops writing: the output stream errors, so whoever reads it (a storage upload) aborts. */
  abort(err: Error): void {
    this.#sink.destroy(err);
    this.output.destroy(err);
  }

  async #write(data: Buffer): Promise<void> {
    this.#position += data.length;
    await this.#sink.write(data);
  }

  /** Writes one tar entry; `sha256`, when the caller hashed the bytes already, is not computed again. */
  async #entry(name: string, size: number, meta: EntryMeta, body: (put: (chunk: Buffer) => Promise<void>) => Promise<void>, sha256?: string): Promise<MemberRecord> {
    const hash = sha256 === undefined ? createHash('sha256') : undefined;
    await this.#write(tarHeader({ name, type: 'file', size, ...meta }));
    this.#offsets[name] = this.#position;
    let n = 0;
    const put = async (chunk: Buffer) => {
      if (n + chunk.length > size) throw new Error(`${name}: more than the ${size} bytes its header says`);
      n += chunk.length;
      hash?.update(chunk);
      await this.#write(chunk);
    };
    let failure: unknown;
    try {
      await body(put);
    } catch (err) {
      failure = err;
    }
    // Unless the bundle itself failed, a short body (a file that shrank, a source that broke) is
    // padded with zeros to its stated size, hashed like the rest: the member holds what its
    // sha256 says, and the tar stays well-formed for the members that follow.
    if (!failure || !this.#aborted(failure)) {
      while (n < size) await put(ZEROS.subarray(0, Math.min(size - n, ZEROS.length)));
      const pad = tarPadding(size);
      if (pad) await this.#write(ZEROS.subarray(0, pad));
    }
    const record = { name, size, sha256: sha256 ?? hash!.digest('hex') };
    this.#members.push(record);
    if (failure) throw failure;
    return record;
  }

  /** Whether the writing itself failed (nothing more can be written), rather than the member's source. */
  #aborted(err: unknown): boolean {
    return this.#sink.output.destroyed || (err instanceof LifeboatError && err.code === 'E_ABORTED');
  }
}

/** A file yielded fewer bytes than its size said: it changed while it was read. */
export class ShortReadError extends LifeboatError {
  constructor(got: number, expected: number) {
    super('E_FILE_CHANGED', `read ${got} of ${expected} bytes: the file shrank while it was read`);
  }
}

/** A part of a stream of unknown length: the buffer it was read into, its length and sha256. */
interface Part {
  buf: Buffer;
  n: number;
  sha256: string;
}
