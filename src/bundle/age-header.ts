import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { bech32 } from '@scure/base';

/**
 * The header of an age file for X25519 recipients (`age1...`), written with Node's crypto:
 * age-encryption.org/v1, "X25519 recipient stanza" and "Header MAC".
 *
 * Why not the age library: it brings its whole module graph (post-quantum key exchange,
 * curves in JavaScript) into the process, ~35 MB of RSS, to do one key exchange and one
 * HMAC per bundle; that alone put an encrypted backup over its memory budget
 * (bench/README.md). The library still writes every other kind of header (passphrase,
 * post-quantum, plugin tags) and reads them all. Tests check the age CLI opens what this writes.
 */

const X25519_LABEL = 'age-encryption.org/v1/X25519';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64').replace(/=+$/, '');
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** The 32 raw bytes of an `age1...` X25519 recipient; undefined for any other kind. */
export function x25519Recipient(s: string): Buffer | undefined {
  if (!/^age1[02-9ac-hj-np-z]{58}$/.test(s)) return undefined;
  try {
    const { prefix, bytes } = bech32.decodeToBytes(s as `${string}1${string}`);
    return prefix === 'age' && bytes.length === 32 ? Buffer.from(bytes) : undefined;
  } catch {
    return undefined; // a bad checksum: the library's check names the problem
  }
}

function wrap(fileKey: Buffer, recipient: Buffer): string {
  const ephemeral = generateKeyPairSync('x25519');
  const share = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(recipient) }, format: 'jwk' });
  const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: peer });
  if (secret.every((b) => b === 0)) throw new Error('the X25519 recipient is a low-order point');
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, recipient]), X25519_LABEL, 32));
  const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
  const body = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
  // 32 bytes of body are 43 base64 characters: one line, shorter than the 64 that would need a second.
  return `-> X25519 ${b64(share)}\n${b64(body)}\n`;
}

/**
 * A new file key and the header that wraps it for each recipient, or undefined when a
 * recipient is not a plain X25519 one (the caller lets the age library write the header).
 */
export function x25519Header(recipients: string[]): { header: Buffer; fileKey: Buffer } | undefined {
  const keys = recipients.map(x25519Recipient);
  if (!keys.length || keys.some((k) => k === undefined)) return undefined;
  const fileKey = randomBytes(16);
  const body = `age-encryption.org/v1\n${keys.map((k) => wrap(fileKey, k!)).join('')}---`;
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  const mac = createHmac('sha256', macKey).update(body).digest();
  return { header: Buffer.from(`${body} ${b64(mac)}\n`), fileKey };
}
