export const REDACTED = '[redacted]';

/** Key names (lower case, without `-` and `_`) that hold secrets wherever they appear. */
const SECRET_NAMES = new Set(['key', 'pass', 'pwd', 'pin', 'otp', 'csrf']);
/** Parts of key names that hold secrets: password, apiKey, secretAccessKey, botToken, ... */
const SECRET_PARTS = ['password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'privatekey', 'accesskey', 'signingkey', 'encryptionkey', 'identity', 'authorization', 'cookie'];
/** Endings that name something about a secret rather than the secret: tokenName, keyId, passwordSet. */
const HARMLESS_ENDINGS = ['id', 'ids', 'name', 'names', 'count', 'scope', 'scopes', 'set', 'expires', 'expiresat', 'createdat', 'lastusedat', 'file', 'path'];

/** True when a detail key looks like it holds a secret. */
export function isSecretKey(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_]/g, '');
  if (SECRET_NAMES.has(n) || n.endsWith('pass') || n.endsWith('pwd')) return true;
  if (!SECRET_PARTS.some((p) => n.includes(p))) return false;
  return !HARMLESS_ENDINGS.some((e) => n.endsWith(e) && n.length > e.length);
}

/**
 * Secrets that can sit inside a harmless key's text: a password in a URL or a `key=value`
 * connection string, a JSON body echoed in an error, an API token, a Lifeboat or age key, a
 * bearer credential.
 */
const SECRET_TEXT: [RegExp, string][] = [
  [/(\/\/[^:/@\s]*:)[^@\s/]*@/g, `$1${REDACTED}@`],
  [/([?&](?:password|sslpassword|pass|passphrase|secret|token|key|apikey|api_key|access_token)=)[^&#\s]*/gi, `$1${REDACTED}`],
  [/\b(password|passwd|pwd|passphrase|secret|token|apikey|api_key)=(?!\[redacted\])[^\s&#,;]+/gi, `$1=${REDACTED}`],
  [/"(password|passwd|passphrase|secret|token|apiKey|api_key|secretAccessKey|privateKey)"\s*:\s*"(?:[^"\\]|\\.)*"/g, `"$1":"${REDACTED}"`],
  [/\blb_[A-Za-z0-9_-]{16,}/g, `lb_${REDACTED}`],
  [/AGE-SECRET-KEY-[A-Z0-9]+/gi, REDACTED],
  [/LIFEBOAT-KEY-1:[A-Za-z0-9_-]+/g, REDACTED],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
];

function redactText(s: string): string {
  let out = s;
  for (const [re, by] of SECRET_TEXT) out = out.replace(re, by);
  return out;
}

/**
 * A detail as the audit log may keep it: values under secret-looking keys replaced, secrets
 * inside text cut out, functions and undefined dropped. The log is kept for a year and read by
 * every admin: a secret must never reach it, whoever calls recordAudit with what.
 */
export function redactDetail(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? undefined : typeof value === 'bigint' ? String(value) : value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Error) return redactText(value.message);
  if (Array.isArray(value)) return value.map((v) => redactDetail(v, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const clean = isSecretKey(k) ? (v === null ? null : REDACTED) : redactDetail(v, depth + 1);
    if (clean !== undefined) out[k] = clean;
  }
  return out;
}
