import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';
import { ByteQueue } from '../util/byte-queue.ts';

/**
 * The payload of an age file (age-encryption.org/v1, "STREAM"): 64 KiB chunks of plaintext,
 * each sealed with ChaCha20-Poly1305 under a key derived from the file key and the 16-byte nonce
 * that follows the header; each chunk's nonce is its number, big-endian, and a last-chunk flag.
 *
 * The age library does this in JavaScript; Node's crypto does it in OpenSSL, several times
 * faster and without a web stream per file (bench/README.md). The header, where the file key is
 * wrapped for each recipient, stays the library's.
 */
export const AGE_CHUNK = 64 * 1024;
export const AGE_TAG = 16;

/** The payload key: HKDF-SHA-256 of the file key, salted with the payload nonce (a KeyObject: imported once, not per chunk). */
export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32)));
}

function chunkNonce(i: number, last: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(i, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Opens (decrypts and authenticates) chunk `i`; throws if it was altered or is not chunk `i`. */
export function openChunk(key: KeyObject, i: number, last: boolean, sealed: Buffer): Buffer {
  const d = createDecipheriv('chacha20-poly1305', key, chunkNonce(i, last), { authTagLength: AGE_TAG });
  d.setAuthTag(sealed.subarray(sealed.length - AGE_TAG));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - AGE_TAG)), d.final()]);
}

function sealChunk(key: KeyObject, i: number, last: boolean, plain: Buffer): Buffer[] {
  const c = createCipheriv('chacha20-poly1305', key, chunkNonce(i, last), { authTagLength: AGE_TAG });
  const body = c.update(plain);
  c.final();
  return [body, c.getAuthTag()];
}

/**
 * Seals a plaintext stream into age payload chunks. A chunk is sealed once the next byte shows
 * whether it is the last; the last may be full, and is empty only when the whole input is.
 * Each sealed chunk comes out as OpenSSL wrote it, its body and then its tag: joining them into
 * larger runs copied every byte once more and doubled what the garbage collector had to free.
 */
export async function* sealPayload(source: AsyncIterable<Buffer>, key: KeyObject): AsyncGenerator<Buffer> {
  const held = Buffer.allocUnsafe(AGE_CHUNK);
  let fill = 0;
  let i = 0;
  for await (const chunk of source) {
    for (let at = 0; at < chunk.length; ) {
      if (fill === AGE_CHUNK) {
        yield* sealChunk(key, i++, false, held); // more follows
        fill = 0;
      }
      const n = chunk.copy(held, fill, at);
      fill += n;
      at += n;
    }
  }
  yield* sealChunk(key, i, true, held.subarray(0, fill));
}

/** Opens a payload stream chunk by chunk; throws at the first chunk that fails its authentication or if it ends early. */
export async function* openPayload(source: AsyncIterable<Buffer>, key: KeyObject): AsyncGenerator<Buffer> {
  const sealedSize = AGE_CHUNK + AGE_TAG;
  const pending = new ByteQueue();
  let i = 0;
  for await (const chunk of source) {
    pending.push(chunk);
    const opened: Buffer[] = [];
    // A full chunk is the last only if nothing follows it: keep one back until the end.
    while (pending.length > sealedSize) opened.push(openChunk(key, i++, false, pending.take(sealedSize)));
    if (opened.length) yield opened.length === 1 ? opened[0]! : Buffer.concat(opened);
  }
  if (pending.length < AGE_TAG || (i > 0 && pending.length === AGE_TAG)) throw new Error('the encrypted stream ended early');
  yield openChunk(key, i, true, pending.take(sealedSize));
}
