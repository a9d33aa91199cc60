// A stand-in for the shared "bundle from the first good copy as a stream" reader that the export
// work (#21) brings; once it lands, the remote restore reads through it and this file goes.
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { decompressor, decrypt, formatFromName, type Algorithm, type DecryptionKeys } from '../bundle/codec.ts';
import { LifeboatError } from '../errors.ts';
import type { Copy } from './copies.ts';

/** A bundle's bytes on their way out, and what they are. */
export interface BundleStream {
  stream: Readable;
  /** The compression of `stream` (`none` once decompressed here). */
  algorithm: Algorithm;
  /** Whether the stored copy was encrypted (the stream never is). */
  encrypted: boolean;
}

/**
 * Opens one stored copy as a stream: the stored bytes are hashed on the way and the stream fails
 * with E_BUNDLE_CORRUPT, before it ends, when they do not match the sha256 recorded when the
 * bundle was written (so whatever consumes it never sees a clean end of a bad copy). An encrypted
 * copy is decrypted here, with keys that stay in this process; `decompress` also undoes the
 * compression. `onRead` counts the stored bytes (a progress bar against the stored size).
 */
export async function openBundleStream(copy: Copy, keys: DecryptionKeys, options: { decompress: boolean; signal?: AbortSignal; onRead?: (bytes: number) => void }): Promise<BundleStream> {
  const { algorithm, encrypted } = formatFromName(copy.key);
  const source = await copy.storage.get(copy.key, { signal: options.signal });
  const expected = copy.location.sha256;
  const hash = createHash('sha256');
  const checked = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      options.onRead?.(chunk.length);
      cb(null, chunk);
    },
    flush(cb) {
      if (expected && hash.digest('hex') !== expected) {
        return cb(new LifeboatError('E_BUNDLE_CORRUPT', `the copy on ${copy.storage.name} does not match the sha256 recorded when it was written`));
      }
      cb();
    },
  });
  source.on('error', (err) => checked.destroy(err));
  let stream: Readable = source.pipe(checked);
  if (encrypted) stream = await decrypt(stream, keys);
  const z = options.decompress ? decompressor(algorithm) : undefined;
  if (z) {
    const from = stream;
    from.on('error', (err) => z.destroy(err));
    stream = from.pipe(z);
  }
  return { stream, algorithm: options.decompress ? 'none' : algorithm, encrypted };
}
