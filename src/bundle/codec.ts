import { readFileSync } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import zlib from 'node:zlib';
import { LifeboatError } from '../errors.ts';
import { age } from './age.ts';
import { zstdFrameCompressor, zstdFrameDecompressor } from './zstd-frames.ts';
import { TarOffsets } from './seek.ts';
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
 * The stages that compress a tar stream. zstd is written as size-prefixed frames, compressed
 * two blocks at a time (zstd-frames.ts); gzip through zlib, fed large writes.
 */
/**
 * The compression stages for a tar stream. zstd also gets a seek index (seek.ts) written at its
 * end, so a few members can later be read without decompressing the rest.
 */
export function compressor(c: { algorithm: Algorithm; level?: number }): Transform[] {
  switch (c.algorithm) {
    case 'zstd': {
      const tar = new TarOffsets();
      return [tar, zstdFrameCompressor(c.level ?? DEFAULT_ZSTD_LEVEL, { seekIndex: () => tar.offsets })];
    }
    case 'gzip':
      return [coalesce(CHUNK), zlib.createGzip({ level: c.level ?? 6, chunkSize: CHUNK })];
    case 'none':
      return [];
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

/** Encrypts to the age format, which the standard `age` CLI decrypts. */
export async function encrypt(source: Readable, config: EncryptionConfig): Promise<Readable> {
  const e = new (age().Encrypter)();
  if ('passphrase' in config) e.setPassphrase(config.passphrase);
  else for (const r of config.recipients) e.addRecipient(r);
  const out = await e.encrypt(Readable.toWeb(source) as ReadableStream<Uint8Array>);
  return Readable.fromWeb(out as import('node:stream/web').ReadableStream<Uint8Array>);
}

/** What can open an encrypted bundle: identities (AGE-SECRET-KEY-1...) and passphrases. */
export interface DecryptionKeys {
  identities: string[];
  passphrases: string[];
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
  if (keys.identities.length === 0 && keys.passphrases.length === 0) {
    throw new LifeboatError('E_ENCRYPTION', 'the bundle is encrypted and no key is configured to open it', {
      hint: 'set encryption.identityFile (or LIFEBOAT_AGE_IDENTITY_FILE) to the age identity, or the passphrase',
    });
  }
  const d = new (age().Decrypter)();
  for (const id of keys.identities) d.addIdentity(id);
  for (const p of keys.passphrases) d.addPassphrase(p);
  try {
    const out = await d.decrypt(Readable.toWeb(source) as ReadableStream<Uint8Array>);
    return Readable.fromWeb(out as import('node:stream/web').ReadableStream<Uint8Array>);
  } catch (err) {
    throw new LifeboatError('E_ENCRYPTION', `cannot decrypt the bundle: ${(err as Error).message}`, {
      cause: err,
      hint: 'the configured identity or passphrase does not match the one the bundle was encrypted to',
    });
  }
}
