import crypto from 'node:crypto';
import { LifeboatError } from '../errors.ts';

/**
 * Password hashing with Node's own crypto, no native addon: argon2id with OWASP's parameters
 * (19 MiB, 2 passes, 1 lane), scrypt with OWASP's 16 MiB variant where the OpenSSL under Node has
 * no argon2. Hashes are PHC strings, so the parameters travel with each hash and can be raised
 * later (needsRehash) without breaking the passwords already stored.
 */

export const ARGON2 = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const;
export const SCRYPT = { ln: 14, r: 8, p: 5, keyLength: 32 } as const;
export const MIN_PASSWORD_LENGTH = 12;
/** Longer passwords are refused so a request cannot make hashing read megabytes. */
export const MAX_PASSWORD_BYTES = 1024;

export type HashAlgorithm = 'argon2id' | 'scrypt';

// Node's typings may lag the runtime: declare the subset used (crypto.argon2, Node 24.7+).
type Argon2 = (
  algorithm: 'argon2d' | 'argon2i' | 'argon2id',
  params: { message: string | Buffer; nonce: Buffer; parallelism: number; tagLength: number; memory: number; passes: number },
  callback: (err: Error | null, key: Buffer) => void,
) => void;
const argon2Fn = (crypto as unknown as { argon2?: Argon2 }).argon2;

let argon2Works: Promise<boolean> | undefined;

/** Whether this Node can compute argon2 (crypto.argon2 exists and its OpenSSL has the KDF). */
export function argon2Available(): Promise<boolean> {
  argon2Works ??= argon2Fn
    ? argon2('argon2id', 'probe', Buffer.alloc(16), { memory: 8, passes: 1, parallelism: 1, tagLength: 16 }).then(() => true, () => false)
    : Promise.resolve(false);
  return argon2Works;
}

function argon2(variant: 'argon2d' | 'argon2i' | 'argon2id', message: string, nonce: Buffer, p: { memory: number; passes: number; parallelism: number; tagLength: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2Fn!(variant, { message, nonce, ...p }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function scrypt(password: string, salt: Buffer, p: { ln: number; r: number; p: number; keyLength: number }): Promise<Buffer> {
  const N = 2 ** p.ln;
  return new Promise((resolve, reject) => {
    // maxmem must exceed 128 * N * r, else scrypt refuses parameters above 32 MiB.
    crypto.scrypt(password, salt, p.keyLength, { N, r: p.r, p: p.p, maxmem: 256 * N * p.r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

// PHC strings use standard base64 without padding.
const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
const unb64 = (s: string) => Buffer.from(s, 'base64');

/** Hashes a password with argon2id, or scrypt where argon2 is missing. */
export async function hashPassword(password: string): Promise<string> {
  return hashPasswordWith((await argon2Available()) ? 'argon2id' : 'scrypt', password);
}

/** Hashes with a given algorithm (tests use it to cover the scrypt fallback). */
export async function hashPasswordWith(algorithm: HashAlgorithm, password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  if (algorithm === 'argon2id') {
    const hash = await argon2('argon2id', password, salt, ARGON2);
    return `$argon2id$v=19$m=${ARGON2.memory},t=${ARGON2.passes},p=${ARGON2.parallelism}$${b64(salt)}$${b64(hash)}`;
  }
  const hash = await scrypt(password, salt, SCRYPT);
  return `$scrypt$ln=${SCRYPT.ln},r=${SCRYPT.r},p=${SCRYPT.p}$${b64(salt)}$${b64(hash)}`;
}

interface Parsed {
  algorithm: 'argon2d' | 'argon2i' | 'argon2id' | 'scrypt';
  params: Record<string, number>;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const argon = /^\$(argon2(?:id|i|d))\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (argon) {
    const [, algorithm, m, t, p, salt, hash] = argon;
    return { algorithm: algorithm as Parsed['algorithm'], params: { m: Number(m), t: Number(t), p: Number(p) }, salt: unb64(salt!), hash: unb64(hash!) };
  }
  const sc = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (sc) {
    const [, ln, r, p, salt, hash] = sc;
    return { algorithm: 'scrypt', params: { ln: Number(ln), r: Number(r), p: Number(p) }, salt: unb64(salt!), hash: unb64(hash!) };
  }
  return undefined;
}

/**
 * True when `password` matches the stored PHC string, compared in constant time. A string that
 * is not a hash this code writes gives false; an argon2 hash on a Node without argon2 throws,
 * since answering false would lock everyone out without saying why.
 */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  let computed: Buffer;
  if (parsed.algorithm === 'scrypt') {
    const { ln, r, p } = parsed.params as { ln: number; r: number; p: number };
    if (ln < 1 || ln > 20 || r < 1 || p < 1 || p > 16) return false;
    computed = await scrypt(password, parsed.salt, { ln, r, p, keyLength: parsed.hash.length });
  } else {
    if (!(await argon2Available())) {
      throw new LifeboatError('E_INTERNAL', 'this Node.js cannot compute argon2, which the stored password hashes need', { hint: 'run Lifeboat on Node.js 24.7 or newer with its bundled OpenSSL' });
    }
    const { m, t, p } = parsed.params as { m: number; t: number; p: number };
    // Parameters come from the catalog, but a forged row must not make a login take gigabytes.
    if (m > 1_048_576 || t > 20 || p > 16 || parsed.hash.length < 16) return false;
    try {
      computed = await argon2(parsed.algorithm, password, parsed.salt, { memory: m, passes: t, parallelism: p, tagLength: parsed.hash.length });
    } catch {
      return false; // parameters argon2 refuses (memory below 8 x lanes): not a hash this code wrote
    }
  }
  return computed.length === parsed.hash.length && crypto.timingSafeEqual(computed, parsed.hash);
}

/** True when a stored hash uses other parameters than new hashes get: rehash it at the next login. */
export async function needsRehash(stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed) return true;
  if (await argon2Available()) {
    return parsed.algorithm !== 'argon2id' || parsed.params.m !== ARGON2.memory || parsed.params.t !== ARGON2.passes || parsed.params.p !== ARGON2.parallelism;
  }
  return parsed.algorithm !== 'scrypt' || parsed.params.ln !== SCRYPT.ln || parsed.params.r !== SCRYPT.r || parsed.params.p !== SCRYPT.p;
}

/**
 * The password policy: at least 12 characters (length is what makes a password hard to guess;
 * no composition rules, as NIST SP 800-63B advises), at most 1024 bytes, not the user's name.
 * Throws E_USAGE saying what to change.
 */
export function checkPasswordPolicy(password: string, userName?: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    throw new LifeboatError('E_USAGE', `the password is too short: ${length} characters, at least ${MIN_PASSWORD_LENGTH} are needed`, { hint: 'a few unrelated words make a long password that is easy to type' });
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw new LifeboatError('E_USAGE', `the password is too long: at most ${MAX_PASSWORD_BYTES} bytes`);
  }
  if (userName !== undefined && password.toLowerCase() === userName.toLowerCase()) {
    throw new LifeboatError('E_USAGE', 'the password must not be the user name');
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password nobody knows, with the current parameters: a login for a user that
 * does not exist is checked against it, so it costs the same time as one that does. The server
 * calls this at start so the first such login is not slower (it computes the hash once).
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(crypto.randomBytes(32).toString('base64url'));
  return dummy;
}
