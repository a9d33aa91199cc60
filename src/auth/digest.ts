import crypto from 'node:crypto';

/** `bytes` random bytes as base64url: session ids, tokens, handles. */
export function randomString(bytes: number): string {
  return crypto.randomBytes(bytes).toString('base64url');
}

/**
 * What the catalog stores instead of a session id or a token: its sha256. Both carry 256 random
 * bits, so a fast hash suffices (nothing to brute-force) and a lookup by hash stays one index probe.
 */
export function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** Constant-time equality of two strings (different lengths are unequal at once, which tells nothing secret). */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
