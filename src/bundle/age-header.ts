import { createCipheriv, createDecipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, scrypt } from 'node:crypto';
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
const SCRYPT_LABEL = 'age-encryption.org/v1/scrypt';
/** The work factor the age tools write (2^18: ~256 MiB, about a second natively). */
export const SCRYPT_LOG_N = 18;
/** The highest one read, as the age tools: more would let a file make us spend minutes and GiBs. */
const SCRYPT_MAX_LOG_N = 20;

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

/** A file key sealed under a wrapping key, as every age stanza body is (zero nonce, one use). */
function seal(key: Buffer, fileKey: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
  return Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
}

function wrap(fileKey: Buffer, recipient: Buffer): string {
  const ephemeral = generateKeyPairSync('x25519');
  const share = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(recipient) }, format: 'jwk' });
  const secret = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: peer });
  if (secret.every((b) => b === 0)) throw new Error('the X25519 recipient is a low-order point');
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, recipient]), X25519_LABEL, 32));
  const body = seal(key, fileKey);
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
  return withMac(keys.map((k) => wrap(fileKey, k!)).join(''), fileKey);
}

function withMac(stanzas: string, fileKey: Buffer): { header: Buffer; fileKey: Buffer } {
  const body = `age-encryption.org/v1\n${stanzas}---`;
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  const mac = createHmac('sha256', macKey).update(body).digest();
  return { header: Buffer.from(`${body} ${b64(mac)}\n`), fileKey };
}

/**
 * scrypt as age uses it, in Node's OpenSSL on the thread pool: the age library's JavaScript
 * scrypt took ~7 s of CPU at 2^18 on the 2-core machine, for every passphrase backup, restore and
 * verification (bench/README.md).
 */
function ageScrypt(passphrase: string, salt: Buffer, logN: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    // maxmem above 128 * N * r, which OpenSSL needs for the work area (256 MiB at 2^18).
    scrypt(passphrase, Buffer.concat([Buffer.from(SCRYPT_LABEL), salt]), 32, { N, r: 8, p: 1, maxmem: 129 * N * 8 + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * A new file key and the header of a passphrase-encrypted age file: one scrypt stanza ("scrypt
 * recipient stanza"), which the age CLI opens with `age -d` and the passphrase.
 */
export async function scryptHeader(passphrase: string, logN = SCRYPT_LOG_N): Promise<{ header: Buffer; fileKey: Buffer }> {
  const fileKey = randomBytes(16);
  const salt = randomBytes(16);
  const body = seal(await ageScrypt(passphrase, salt, logN), fileKey);
  return withMac(`-> scrypt ${b64(salt)} ${logN}\n${b64(body)}\n`, fileKey);
}

/** An age stanza as the age library hands it to an identity. */
interface Stanza {
  args: string[];
  body: Uint8Array;
}

/**
 * The age library's Identity for a passphrase, with scrypt done natively (ageScrypt): the same
 * checks as the library's own (the stanza alone in the header, its salt, a work factor of at most
 * 2^20), the file key, or null when the passphrase does not open it.
 */
export function scryptIdentity(passphrase: string): { unwrapFileKey(stanzas: Stanza[]): Promise<Uint8Array | null> } {
  return {
    async unwrapFileKey(stanzas) {
      const s = stanzas.find((x) => x.args[0] === 'scrypt');
      if (!s) return null;
      if (stanzas.length !== 1) throw new Error('scrypt recipient is not the only one in the header');
      if (s.args.length !== 3 || !/^[1-9][0-9]*$/.test(s.args[2]!)) throw new Error('invalid scrypt stanza');
      const salt = Buffer.from(s.args[1]!, 'base64');
      if (salt.length !== 16 || b64(salt) !== s.args[1]) throw new Error('invalid scrypt stanza');
      const logN = Number(s.args[2]);
      if (logN > SCRYPT_MAX_LOG_N) throw new Error('scrypt work factor is too high');
      if (s.body.length !== 32) throw new Error('invalid stanza');
      const key = await ageScrypt(passphrase, salt, logN);
      const d = createDecipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
      d.setAuthTag(s.body.subarray(16));
      try {
        return Buffer.concat([d.update(s.body.subarray(0, 16)), d.final()]);
      } catch {
        return null;
      }
    },
  };
}
