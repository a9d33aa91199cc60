import type { ObjectKind } from '../catalog/objects.ts';
import { isSealed, type SecretBox } from './secret-box.ts';

/**
 * The one definition of what is secret in a target, a storage or a channel: a value under one of
 * these keys, wherever it sits (database and SFTP passwords, age passphrases, API keys, webhook
 * signing secrets, tokens, S3 secret keys, chat webhook URLs, which post as whoever holds them,
 * and a webhook's headers, which carry Authorization), and a target's `postgres.url`, which may
 * carry a password. The catalog's copy of a target (jobs/backup.ts) and the API's views of every
 * object (objects.ts) both use it.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'password', 'passphrase', 'apiKey', 'secret', 'token', 'botToken', 'secretAccessKey', 'sessionToken', 'webhookUrl', 'headers',
]);

/** What a view shows in place of a secret that has a value. */
export const SET = 'set';

/** Whether the value at `keyPath` (inside one object) is a secret. */
export function isSecretPlace(keyPath: readonly PropertyKey[]): boolean {
  const key = String(keyPath.at(-1));
  if (SECRET_KEYS.has(key)) return true;
  return keyPath.length === 2 && keyPath[0] === 'postgres' && key === 'url';
}

/** The place a sealed value is bound to: `target app postgres.url`. */
function context(kind: ObjectKind, name: string, keyPath: readonly PropertyKey[]): string {
  return `${kind} ${name} ${keyPath.map(String).join('.')}`;
}

type Sealed = { $sealed: string };

function isSealedValue(v: unknown): v is Sealed {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && isSealed((v as Sealed).$sealed);
}

/** A copy of `body` with every secret sealed (its JSON, so headers and numbers come back as they were). */
export function sealSecrets(kind: ObjectKind, name: string, body: unknown, box: () => SecretBox, keyPath: PropertyKey[] = []): unknown {
  if (keyPath.length && isSecretPlace(keyPath) && body !== undefined && body !== null) {
    return { $sealed: box().seal(JSON.stringify(body), context(kind, name, keyPath)) } satisfies Sealed;
  }
  if (Array.isArray(body)) return body.map((v, i) => sealSecrets(kind, name, v, box, [...keyPath, i]));
  if (body && typeof body === 'object') {
    return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, sealSecrets(kind, name, v, box, [...keyPath, k])]));
  }
  return body;
}

/** The object as written, its secrets opened (the box is asked for only when there is one). */
export function openSecrets(kind: ObjectKind, name: string, stored: unknown, box: () => SecretBox, keyPath: PropertyKey[] = []): unknown {
  if (isSealedValue(stored)) return JSON.parse(box().open(stored.$sealed, context(kind, name, keyPath))) as unknown;
  if (Array.isArray(stored)) return stored.map((v, i) => openSecrets(kind, name, v, box, [...keyPath, i]));
  if (stored && typeof stored === 'object') {
    return Object.fromEntries(Object.entries(stored).map(([k, v]) => [k, openSecrets(kind, name, v, box, [...keyPath, k])]));
  }
  return stored;
}

/**
 * An object as the API and the CLI show it: every secret that has a value is `"set"` (the
 * PostgreSQL URL keeps its host, user and database, with its password and secret-looking
 * settings as `***`), and so is every value the file took from `${VAR}` or `VAR_FILE`
 * (`indirect`, dotted key paths inside the object), resolved or not. Sealed values of a stored
 * object show as `"set"` without being opened. Never the value itself.
 */
export function publicView(config: unknown, indirect: ReadonlySet<string> = new Set()): Record<string, unknown> {
  // Through JSON: a value whose variable is unset reads as "(unresolved)" instead of throwing.
  const plain = JSON.parse(JSON.stringify(config ?? {})) as unknown;
  const walk = (v: unknown, keyPath: PropertyKey[]): unknown => {
    if (v === undefined || v === null) return v;
    if (keyPath.length && (indirect.has(keyPath.join('.')) || isSealedValue(v))) return SET;
    if (keyPath.length && isSecretPlace(keyPath)) return keyPath.at(-1) === 'url' && typeof v === 'string' ? redactPgUrl(v) : SET;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...keyPath, i]));
    if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...keyPath, k])]));
    return v;
  };
  return walk(plain, []) as Record<string, unknown>;
}

/** `postgres://app:***@db:5432/app`: what a person needs to recognise the server, no password. */
export function redactPgUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return SET;
  }
  if (url.password) url.password = '***';
  for (const key of [...url.searchParams.keys()]) {
    if (/pass|secret|key|token/i.test(key)) url.searchParams.set(key, '***');
  }
  return url.toString();
}

/**
 * The key paths (dotted, from the top of the file) whose value is written with `${VAR}`: the
 * file's way of keeping a secret out of it, so views treat each as one.
 */
export function indirectPaths(raw: unknown, keyPath: PropertyKey[] = [], found: string[] = []): string[] {
  if (typeof raw === 'string') {
    if (/\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}/.test(raw)) found.push(keyPath.map(String).join('.'));
  } else if (Array.isArray(raw)) {
    raw.forEach((v, i) => indirectPaths(v, [...keyPath, i], found));
  } else if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) indirectPaths(v, [...keyPath, k], found);
  }
  return found;
}
