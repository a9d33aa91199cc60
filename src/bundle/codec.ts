import { randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { LifeboatError } from '../errors.ts';
import { age } from './age.ts';
import { scryptHeader, scryptIdentity, x25519Header } from './age-header.ts';
import { AGE_TAG, openPayload, payloadKey, sealPayload } from './age-payload.ts';
import { FrameCompressor, zstdFrameDecompressor } from './zstd-frames.ts';
import { seekTrailer } from './seek.ts';
import type { CompressionConfig, EncryptionConfig } from '../config/schema.ts';

export type Algorithm = CompressionConfig['algorithm'];

/** zlib hands each output chunk back to JavaScript: 1 MiB chunks instead of 16 KiB cut that overhead. */
const CHUNK = 1024 * 1024;

/** The default zstd level: zstd's own default, fast enough to keep up with pg_dump. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** The bundle's file name suffix, which is also how a reader knows how to open it. */
export function bundleSuffix(algorithm: Algorithm, encrypted: boolean): string {
  const ext = { zstd: '.tar.zst', gzip: '.tar.gz', none: '.tar' }[algorithm];
  return ext + (encrypted ? '.age' : '');
}

/** Reads the format back from a bundle's file name. */
export function formatFromName(name: string): { algorithm: Algorithm; encrypted: boolean } {
  const encrypted = name.endsWith('.age');
  const base = encrypted ? name.slice(0, -4) : name;
  if (base.endsWith('.tar.zst')) return { algorithm: 'zstd', encrypted };
  if (base.endsWith('.tar.gz')) return { algorithm: 'gzip', encrypted };
  if (base.endsWith('.tar')) return { algorithm: 'none', encrypted };
  throw new LifeboatError('E_BUNDLE_CORRUPT', `${name} is not a bundle name (expected .tar, .tar.zst or .tar.gz, optionally .age)`);
}

/**
 * Where the bundle writer puts its tar stream, and where the compressed bytes come out. `write`
 * keeps nothing of its argument once it resolves, so the writer reuses its buffers.
 */
export interface TarSink {
  write(data: Buffer): Promise<void>;
  /** Ends the stream; `members` (each member's data offset in the tar) goes into a zstd bundle's seek index. */
  end(members: Record<string, number>): Promise<void>;
  /** The compressed bytes. */
  readonly output: Readable;
  destroy(err: Error): void;
}

/**
 * The sink for a compression setting. zstd is written as size-prefixed frames of 4 MiB of tar
 * each, compressed two at a time (zstd-frames.ts), and ends with a seek index (seek.ts) so a few
 * members can later be read without decompressing the rest; gzip goes through zlib, fed large
 * writes.
 */
export function tarSink(c: { algorithm: Algorithm; level?: number }): TarSink {
  const out = new Output();
  if (c.algorithm === 'zstd') {
    const frames = new FrameCompressor(c.level ?? DEFAULT_ZSTD_LEVEL, {}, (data) => out.feed(data));
    return {
      write: (data) => frames.write(data),
      end: async (members) => {
        await frames.end();
        await out.feed(seekTrailer({ v: 1, blockSize: frames.blockSize, frames: frames.frameStarts, members }));
        out.push(null);
      },
      output: out,
      destroy: (err) => {
        frames.close();
        out.destroy(err);
      },
    };
  }
  // The stages after this one read the bytes later, so they get a copy.
  let output: Readable = out;
  if (c.algorithm === 'gzip') {
    for (const stage of [coalesce(CHUNK), zlib.createGzip({ level: c.level ?? 6, chunkSize: CHUNK })]) {
      const from = output;
      from.on('error', (err) => stage.destroy(err));
      output = from.pipe(stage);
    }
  }
  return {
    write: (data) => out.feed(Buffer.from(data)),
    end: async () => {
      out.push(null);
    },
    output,
    destroy: (err) => {
      out.destroy(err);
      output.destroy(err);
    },
  };
}

/** A readable fed by `feed`, which waits while the reader is behind and fails once the stream is destroyed. */
class Output extends Readable {
  #resume: (() => void) | undefined;

  async feed(data: Buffer): Promise<void> {
    if (this.destroyed) throw this.errored ?? new LifeboatError('E_ABORTED', 'the bundle was aborted');
    if (this.push(data)) return;
    await new Promise<void>((resolve) => (this.#resume = resolve));
    if (this.destroyed) throw this.errored ?? new LifeboatError('E_ABORTED', 'the bundle was aborted');
  }

  override _read(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this._read();
    cb(err);
  }
}

export function decompressor(algorithm: Algorithm): Transform | undefined {
  switch (algorithm) {
    case 'zstd':
      return zstdFrameDecompressor();
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK });
    case 'none':
      return undefined;
  }
}

/** Gathers small chunks into writes of at least `target` bytes: zlib pays a thread-pool round trip per write. */
function coalesce(target: number): Transform {
  let held: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (size === 0 && chunk.length >= target) return cb(null, chunk);
      held.push(chunk);
      size += chunk.length;
      if (size < target) return cb();
      const out = Buffer.concat(held, size);
      held = [];
      size = 0;
      cb(null, out);
    },
    flush(cb) {
      cb(null, size ? Buffer.concat(held, size) : undefined);
    },
  });
}

/**
 * Encrypts to the age format, which the standard `age` CLI decrypts. For X25519 recipients and a
 * passphrase the header (age-header.ts) and the payload (age-payload.ts) are written with Node's
 * crypto; the age library writes other recipients' headers.
 */
export async function encrypt(source: Readable, config: EncryptionConfig): Promise<Readable> {
  let prefix: Buffer;
  let key: KeyObject;
  const native = 'passphrase' in config ? await scryptHeader(config.passphrase) : x25519Header(config.recipients);
  if (native) {
    const nonce = randomBytes(16);
    prefix = Buffer.concat([native.header, nonce]);
    key = payloadKey(native.fileKey, nonce);
  } else {
    // Other recipient kinds: the library writes the header of an empty file (header, payload
    // nonce, one sealed empty chunk), and a recipient of our own that only sees the file key
    // (its stanza list is empty) gives the key to seal the payload with.
    let fileKey: Uint8Array | undefined;
    const e = new (age().Encrypter)();
    e.addRecipient({ wrapFileKey: (k: Uint8Array) => ((fileKey = k), []) });
    for (const r of 'recipients' in config ? config.recipients : []) e.addRecipient(r);
    const empty = Buffer.from(await e.encrypt(new Uint8Array(0)));
    prefix = empty.subarray(0, empty.length - AGE_TAG);
    key = payloadKey(fileKey!, prefix.subarray(prefix.length - 16));
  }
  // Bytes, not objects: the stream holds one run ahead, not sixteen.
  return Readable.from((async function* () {
    yield prefix;
    yield* sealPayload(source, key);
  })(), { objectMode: false });
}

/** What can open an encrypted bundle: identities (AGE-SECRET-KEY-1...) and passphrases. */
export interface DecryptionKeys {
  identities: string[];
  passphrases: string[];
  /**
   * The public recipients the bundle was encrypted to (its manifest's), where known. A header
   * that none of the identities opens is damaged when one of them is among these (its stanza was
   * changed), and a wrong key otherwise; unknown, it is always a wrong key, never damage.
   */
  recipients?: readonly string[];
}

/** `keys` for one bundle: with the recipients its manifest (`encryption`) records. */
export function keysForBundle(keys: DecryptionKeys, encryption: { kind: string; recipients?: string[] } | undefined): DecryptionKeys {
  return encryption?.kind === 'recipients' && encryption.recipients ? { ...keys, recipients: encryption.recipients } : keys;
}

const NO_MATCH = "no identity matched any of the file's recipients";

/**
 * The file key an age header wraps. A header that does not parse, fails its MAC, or whose stanza
 * for one of our identities does not open is damage (E_BUNDLE_CORRUPT: another copy of the
 * bundle may serve); identities that are not among its recipients, or a passphrase that does
 * not open it, are the user's mistake (E_ENCRYPTION), the same on every copy.
 */
export async function openHeader(header: Uint8Array, keys: DecryptionKeys): Promise<Uint8Array> {
  requireKeys(keys);
  const d = new (age().Decrypter)();
  for (const id of keys.identities) d.addIdentity(id);
  for (const p of keys.passphrases) d.addIdentity(scryptIdentity(p));
  try {
    return await d.decryptHeader(header);
  } catch (err) {
    const message = (err as Error).message;
    // Only the right file key gets as far as the MAC: a MAC that fails means changed bytes.
    if (message === 'invalid header HMAC') throw new LifeboatError('E_BUNDLE_CORRUPT', 'its age header fails its MAC (changed after it was written)', { cause: err });
    if (message !== NO_MATCH) throw new LifeboatError('E_BUNDLE_CORRUPT', `its age header does not parse (${message})`, { cause: err });
    const ours = await Promise.all(keys.identities.map((id) => age().identityToRecipient(id).catch(() => undefined)));
    const listed = ours.find((r) => r !== undefined && keys.recipients?.includes(r));
    if (listed) throw new LifeboatError('E_BUNDLE_CORRUPT', `its age header's stanza for recipient ${listed} does not open with that recipient's identity (changed after it was written)`, { cause: err });
    throw wrongKey(keys, ours, err);
  }
}

function requireKeys(keys: DecryptionKeys): void {
  if (keys.identities.length === 0 && keys.passphrases.length === 0) {
    throw new LifeboatError('E_ENCRYPTION', 'the bundle is encrypted and no key is configured to open it', {
      hint: 'set encryption.identityFile (or LIFEBOAT_AGE_IDENTITY_FILE) to the age identity, or the passphrase',
    });
  }
}

function wrongKey(keys: DecryptionKeys, ours: (string | undefined)[], cause: unknown): LifeboatError {
  const hint = 'set encryption.identityFile (or LIFEBOAT_AGE_IDENTITY_FILE) to the identity of one of the recipients the bundle was encrypted to, or the passphrase it was made with';
  const mine = ours.filter((r): r is string => r !== undefined);
  if (keys.recipients && mine.length) {
    return new LifeboatError('E_ENCRYPTION', `cannot decrypt the bundle: the configured identity (${mine.join(', ')}) is not one of its recipients (${keys.recipients.join(', ')})`, { cause, hint });
  }
  return new LifeboatError('E_ENCRYPTION', `cannot decrypt the bundle: ${keys.identities.length ? 'none of the configured identities opens it' : 'the passphrase does not open it'}`, { cause, hint });
}

/** The keys a target's encryption config provides for reading its bundles back. */
export function keysFor(config: EncryptionConfig | undefined, env: NodeJS.ProcessEnv = process.env): DecryptionKeys {
  const keys: DecryptionKeys = { identities: [], passphrases: [] };
  if (config && 'passphrase' in config) keys.passphrases.push(config.passphrase);
  const files = [config && 'identityFile' in config ? config.identityFile : undefined, env.LIFEBOAT_AGE_IDENTITY_FILE];
  for (const file of files) {
    if (!file) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new LifeboatError('E_ENCRYPTION', `cannot read age identity file ${file}: ${(err as Error).message}`, { cause: err });
    }
    keys.identities.push(...text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('AGE-SECRET-KEY-')));
  }
  return keys;
}

export async function decrypt(source: Readable, keys: DecryptionKeys): Promise<Readable> {
  requireKeys(keys);
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let key: KeyObject;
  let rest: Buffer;
  try {
    const head = await readHeader(chunks);
    rest = head.rest;
    key = payloadKey(await openHeader(head.header, keys), head.nonce);
  } catch (err) {
    source.destroy();
    throw err;
  }
  const payload = async function* () {
    if (rest.length) yield rest;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  };
  return Readable.from(openPayload(payload(), key), { objectMode: false });
}

/** An age header (up to and including its MAC line) and the payload nonce after it. */
async function readHeader(chunks: AsyncIterator<Buffer>): Promise<{ header: Buffer; nonce: Buffer; rest: Buffer }> {
  let head = Buffer.alloc(0);
  for (;;) {
    const mac = head.indexOf('\n--- ');
    const end = mac < 0 ? -1 : head.indexOf('\n', mac + 5);
    if (end >= 0 && head.length >= end + 1 + 16) {
      return { header: head.subarray(0, end + 1), nonce: head.subarray(end + 1, end + 17), rest: head.subarray(end + 17) };
    }
    const next = await chunks.next();
    if (next.done || head.length > 1 << 20) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', head.length > 1 << 20 ? 'the age header does not end within 1 MiB' : 'the encrypted bundle ends inside its age header');
    }
    head = Buffer.concat([head, next.value]);
  }
}
