import { Readable } from 'node:stream';
import type { StorageDriver } from '../storage/storage.ts';
import { AGE_CHUNK, AGE_TAG, openChunk, payloadKey as derivePayloadKey } from './age-payload.ts';
import { openHeader, type DecryptionKeys } from './codec.ts';
import { decodeFrames, FrameDecoder, zstdFrameDecompressor } from './zstd-frames.ts';

/**
 * The seek index: how to read a few members of a zstd bundle without decompressing the rest.
 *
 * A zstd bundle is a series of independent frames of `blockSize` bytes of tar each (see
 * zstd-frames.ts). The compressor ends the bundle with one more skippable frame (which `zstd -d`
 * and older Lifeboat readers skip) holding, as JSON, where each frame starts in the compressed
 * file and where each member's data starts in the tar; its last 8 bytes are the JSON's length
 * and the magic "LBIX", so a reader finds it with two small range reads from the end.
 *
 * The index only says where to look: what is read is still checked against the manifest's
 * sha256 of each member, so a wrong or damaged index can cost a fallback, never a wrong restore.
 */
export interface SeekIndex {
  v: 1;
  /** Uncompressed bytes per frame (the last may be shorter). */
  blockSize: number;
  /** The compressed offset where each frame (its size prefix) starts. */
  frames: number[];
  /** Each member's name and the offset of its data in the tar stream. */
  members: Record<string, number>;
  /** Where the frames end (the trailer starts), set when read back. */
  end?: number;
}

const TRAILER_MAGIC = 0x5849424c; // "LBIX", little-endian
const SKIPPABLE_TRAILER = 0x184d2a5e;

/** The trailer frame for an index. */
export function seekTrailer(index: SeekIndex): Buffer {
  const json = Buffer.from(JSON.stringify(index));
  const out = Buffer.allocUnsafe(8 + json.length + 8);
  out.writeUInt32LE(SKIPPABLE_TRAILER, 0);
  out.writeUInt32LE(json.length + 8, 4);
  json.copy(out, 8);
  out.writeUInt32LE(json.length, 8 + json.length);
  out.writeUInt32LE(TRAILER_MAGIC, 12 + json.length);
  return out;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Byte ranges of a bundle's compressed stream: the stored bytes, or the plaintext of an age-encrypted bundle. */
export interface RangeReader {
  /** The compressed stream's length. */
  size: number;
  /** Bytes [start, end). */
  read(start: number, end: number): Promise<AsyncIterable<Buffer>>;
}

/**
 * Opens a bundle for ranged reads. An age-encrypted bundle is read chunk by chunk: age encrypts
 * its payload in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under a key derived from the
 * file key and a nonce that counts chunks, so any chunk can be opened (and authenticated) alone
 * once the header has given up the file key. Undefined when the header cannot be read that way.
 */
export async function openRanges(storage: StorageDriver, key: string, keys: DecryptionKeys | undefined, signal?: AbortSignal): Promise<RangeReader | undefined> {
  const stored = (await storage.stat(key))?.size;
  if (stored === undefined) return undefined;
  const raw = async (start: number, end: number): Promise<AsyncIterable<Buffer>> => (end > start ? await storage.get(key, { start, end: end - 1, signal }) : Readable.from([]));
  if (!keys) return { size: stored, read: raw };

  const head = await readAll(await raw(0, Math.min(stored, 64 * 1024)));
  const mac = head.indexOf('\n--- ');
  const headerEnd = mac < 0 ? -1 : head.indexOf('\n', mac + 5) + 1;
  if (headerEnd <= 0 || head.length < headerEnd + 16) return undefined;
  const fileKey = await openHeader(head.subarray(0, headerEnd), keys);
  const payloadKey = derivePayloadKey(fileKey, head.subarray(headerEnd, headerEnd + 16));
  const payloadStart = headerEnd + 16;
  const chunks = Math.ceil((stored - payloadStart) / (AGE_CHUNK + AGE_TAG));
  const size = stored - payloadStart - chunks * AGE_TAG;
  const open = (i: number, sealed: Buffer): Buffer => openChunk(payloadKey, i, i === chunks - 1, sealed);
  return {
    size,
    async read(start, end) {
      const first = Math.floor(start / AGE_CHUNK);
      const last = Math.floor((end - 1) / AGE_CHUNK);
      const from = payloadStart + first * (AGE_CHUNK + AGE_TAG);
      const source = await raw(from, Math.min(stored, payloadStart + (last + 1) * (AGE_CHUNK + AGE_TAG)));
      return (async function* () {
        let pending: Buffer = Buffer.alloc(0);
        let i = first;
        let pos = first * AGE_CHUNK;
        const emit = function* (plain: Buffer) {
          const a = Math.max(start - pos, 0);
          const b = Math.min(end - pos, plain.length);
          pos += plain.length;
          if (b > a) yield plain.subarray(a, b);
        };
        for await (const c of source) {
          pending = pending.length ? Buffer.concat([pending, c]) : c;
          while (pending.length >= AGE_CHUNK + AGE_TAG) {
            yield* emit(open(i++, pending.subarray(0, AGE_CHUNK + AGE_TAG)));
            pending = pending.subarray(AGE_CHUNK + AGE_TAG);
          }
        }
        if (pending.length) yield* emit(open(i++, pending));
        if (i !== last + 1) throw new Error('the encrypted bundle ended early');
      })();
    },
  };
}

/** The bundle's seek index, or undefined when it has none (older or not zstd-compressed). */
export async function readSeekIndex(bundle: RangeReader): Promise<SeekIndex | undefined> {
  const size = bundle.size;
  if (size < 24) return undefined;
  const tail = await readAll(await bundle.read(size - 8, size));
  if (tail.length !== 8 || tail.readUInt32LE(4) !== TRAILER_MAGIC) return undefined;
  const length = tail.readUInt32LE(0);
  if (length > size - 16) return undefined;
  const json = await readAll(await bundle.read(size - 8 - length, size - 8));
  try {
    const index = JSON.parse(json.toString('utf8')) as SeekIndex;
    if (index.v !== 1 || !Array.isArray(index.frames) || typeof index.members !== 'object') return undefined;
    return { ...index, end: size - 16 - length };
  } catch {
    return undefined;
  }
}

/**
 * Reads byte ranges [start, end) of the tar stream, in order, decompressing only the frames
 * that hold them (ranges within two frames of each other share one read).
 */
export async function* readTarRanges(
  bundle: RangeReader,
  index: SeekIndex,
  ranges: { start: number; end: number }[],
  options: { publicDecoding?: boolean } = {},
): AsyncGenerator<Buffer> {
  let range: Buffer | undefined;
  let at = 0;
  for await (const piece of readTarPieces(bundle, index, ranges, options)) {
    // Copied as it comes: the next piece may be decoded into the same buffer.
    const r = ranges[piece.range]!;
    range ??= Buffer.allocUnsafe(r.end - r.start);
    at += piece.data.copy(range, at);
    if (piece.last) {
      yield range;
      range = undefined;
      at = 0;
    }
  }
}

/**
 * The bytes of ranges [start, end) of the tar stream (each non-empty), in order, as they are
 * decompressed: pieces of range `range`, its last one marked. Only the frames that hold them
 * are read and decompressed; ranges within two frames of each other share one read. A piece's
 * bytes are valid until the next piece is asked for (frames are decoded into a kept buffer).
 */
export async function* readTarPieces(
  bundle: RangeReader,
  index: SeekIndex,
  ranges: { start: number; end: number }[],
  options: { publicDecoding?: boolean } = {},
): AsyncGenerator<{ range: number; data: Buffer; last: boolean }> {
  const frameOf = (pos: number) => Math.floor(pos / index.blockSize);
  const compressedStart = (frame: number) => index.frames[frame] ?? index.end!;
  // One decoder (and its block-sized buffer) for every read this makes.
  const decoder = options.publicDecoding ? undefined : FrameDecoder.create(index.blockSize + 64 * 1024);
  try {
    let i = 0;
    while (i < ranges.length) {
      let j = i;
      while (j + 1 < ranges.length && frameOf(ranges[j + 1]!.start) <= frameOf(ranges[j]!.end - 1) + 2) j++;
      const first = frameOf(ranges[i]!.start);
      const last = frameOf(ranges[j]!.end - 1);
      if (last >= index.frames.length) throw new Error('the seek index does not cover the range');
      const source = Readable.from(await bundle.read(compressedStart(first), compressedStart(last + 1)));
      let pos = first * index.blockSize;
      let k = i;
      const frames = decoder ? checkedBlocks(decodeFrames(source, decoder), index, first) : publicDecoding(source);
      try {
        for await (const chunk of frames) {
          let at = 0;
          while (at < chunk.length && k <= j) {
            const r = ranges[k]!;
            if (pos + (chunk.length - at) <= r.start) {
              pos += chunk.length - at;
              at = chunk.length;
              break;
            }
            if (pos < r.start) {
              at += r.start - pos;
              pos = r.start;
            }
            const n = Math.min(chunk.length - at, r.end - pos);
            const data = chunk.subarray(at, at + n);
            at += n;
            pos += n;
            yield { range: k, data, last: pos === r.end };
            if (pos === r.end) k++;
          }
          if (k > j) break;
        }
      } finally {
        source.destroy();
      }
      if (k <= j) throw new Error('the bundle ended before the range the seek index points to');
      i = j + 1;
    }
  } finally {
    decoder?.close();
  }
}

/** Each frame must decode to a whole block of the tar stream, the bundle's last one excepted. */
async function* checkedBlocks(frames: AsyncIterable<Buffer>, index: SeekIndex, first: number): AsyncGenerator<Buffer> {
  let frame = first;
  for await (const block of frames) {
    if (block.length !== index.blockSize && frame !== index.frames.length - 1) throw new Error(`zstd frame ${frame} decodes to ${block.length} bytes, not a block of ${index.blockSize}`);
    frame++;
    yield block;
  }
}

/** Node's public decoding, where its zlib handle cannot be driven directly. */
function publicDecoding(source: Readable): AsyncIterable<Buffer> {
  const frames = zstdFrameDecompressor();
  source.on('error', (err) => frames.destroy(err)); // a failed read or a chunk that fails its authentication
  return source.pipe(frames) as AsyncIterable<Buffer>;
}
