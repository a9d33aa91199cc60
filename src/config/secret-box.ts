import { createCipheriv, createDecipheriv, createHmac, randomBytes, scryptSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../errors.ts';
import { createKeyFileOnce } from '../util/key-file.ts';

/**
 * Encryption at rest for the secrets of config objects kept in the catalog (objects.ts):
 * AES-256-GCM, a random 12-byte nonce per value, and the value's place (`target app
 * postgres.url`) as associated data, so a sealed value cannot be moved to another field or
 * object. A sealed value reads `v1:<key id>:<nonce>:<ciphertext and tag>` (base64url); the key
 * id (an HMAC of the key, which tells nothing about it) lets a wrong key be named as such
 * rather than as damage.
 *
 * The key comes from LIFEBOAT_SECRET_KEY (or the file LIFEBOAT_SECRET_KEY_FILE names):
 * 32 bytes written as 64 hex digits or as base64/base64url (`openssl rand -base64 32`), or else
 * a passphrase of at least 16 characters, stretched by scrypt (N=2^15, r=8, p=1) with a fixed
 * salt: the key must be the same on every start, and a random salt would have to be stored
 * beside what it protects. Without the variable, the key is `<home>/secret.key`, 32 random
 * bytes created (mode 0600) the first time a secret is sealed, and never overwritten.
 */

export const SECRET_KEY_FILE = 'secret.key';
const PREFIX = 'LIFEBOAT-SECRET-KEY-1:';
const VERSION = 'v1';
const SALT = 'lifeboat-secret-box-v1';

/** Seals and opens secrets with one key. */
export interface SecretBox {
  /** A short id of the key (not secret): what `v1:<id>:...` values carry. */
  readonly keyId: string;
  /** Where the key came from, for messages: `LIFEBOAT_SECRET_KEY` or the key file's path. */
  readonly source: string;
  /** Encrypts `plain`, bound to `context` (the value's place). */
  seal(plain: string, context: string): string;
  /** Decrypts a sealed value; E_CONFIG naming the fix when the key is wrong or the value damaged. */
  open(sealed: string, context: string): string;
}

/** True for a string `seal` produced (of any version this one can tell). */
export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && /^v\d+:[0-9a-f]{8}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/.test(value);
}

const derived = new Map<string, Buffer>();

/** Errors about the key itself (none, unreadable, not the one values were sealed with), not about one value. */
const keyProblems = new WeakSet<Error>();

/** True when `err` is about the key as a whole: every sealed value is affected, not one object. */
export function isKeyProblem(err: unknown): boolean {
  return err instanceof Error && keyProblems.has(err);
}

function keyProblem(message: string, hint: string, cause?: unknown): LifeboatError {
  const err = new LifeboatError('E_CONFIG', message, { hint, cause });
  keyProblems.add(err);
  return err;
}

/**
 * The box for a Lifeboat home. With `create`, a missing key file is created (sealing needs a
 * key); without it, a missing key is an error (opening needs the key the values were sealed with).
 */
export function secretBox(home: string, options: { create: boolean }, env: NodeJS.ProcessEnv = process.env): SecretBox {
  const { key, source } = loadKey(home, options.create, env);
  const keyId = idOf(key);
  return {
    keyId,
    source,
    seal(plain, context) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${VERSION}:${keyId}:${nonce.toString('base64url')}:${body.toString('base64url')}`;
    },
    open(sealed, context) {
      const [version, id, nonceText, bodyText] = sealed.split(':');
      if (version !== VERSION || !id || !nonceText || !bodyText) {
        throw new LifeboatError('E_CONFIG', `the secret of ${context} in the catalog is not in a format this Lifeboat reads (${version ?? 'empty'})`, {
          hint: 'a newer Lifeboat wrote it: upgrade, or set the secret again',
        });
      }
      if (id !== keyId) {
        throw keyProblem(
          `the secrets in the catalog were encrypted with another key (key id ${id}); the key from ${source} has id ${keyId}`,
          `set LIFEBOAT_SECRET_KEY to the key they were stored with (or put back the ${path.join(home, SECRET_KEY_FILE)} of that time); without it, remove the objects created over the API and create them again`,
        );
      }
      const nonce = Buffer.from(nonceText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(body.subarray(body.length - 16));
        return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
      } catch (err) {
        throw new LifeboatError('E_CONFIG', `the secret of ${context} in the catalog is damaged or was moved from another field (authentication failed)`, {
          cause: err,
          hint: 'set that secret again over the API',
        });
      }
    },
  };
}

function idOf(key: Buffer): string {
  return createHmac('sha256', key).update('lifeboat secret key id').digest('hex').slice(0, 8);
}

function loadKey(home: string, create: boolean, env: NodeJS.ProcessEnv): { key: Buffer; source: string } {
  const fromEnv = envKeyText(env);
  if (fromEnv) {
    // scrypt costs ~100 ms: once per process and key.
    let key = derived.get(fromEnv.text);
    if (!key) derived.set(fromEnv.text, (key = parseEnvKey(fromEnv.text, fromEnv.source)));
    return { key, source: fromEnv.source };
  }
  const file = path.join(home, SECRET_KEY_FILE);
  if (!existsSync(file)) {
    if (!create) {
      throw keyProblem(
        `the catalog holds encrypted secrets but there is no key: LIFEBOAT_SECRET_KEY is not set and ${file} does not exist`,
        'set LIFEBOAT_SECRET_KEY to the key the secrets were stored with, or put back the secret.key of this home',
      );
    }
    createKeyFileOnce(file, formatKeyFile(randomBytes(32)), 'the secret key');
  }
  return { key: readKeyFile(file), source: file };
}

function envKeyText(env: NodeJS.ProcessEnv): { text: string; source: string } | undefined {
  const direct = env.LIFEBOAT_SECRET_KEY;
  if (direct) return { text: direct.trim(), source: 'LIFEBOAT_SECRET_KEY' };
  const file = env.LIFEBOAT_SECRET_KEY_FILE;
  if (!file) return undefined;
  try {
    return { text: readFileSync(file, 'utf8').trim(), source: `LIFEBOAT_SECRET_KEY_FILE=${file}` };
  } catch (err) {
    throw keyProblem(`cannot read LIFEBOAT_SECRET_KEY_FILE=${file}: ${(err as Error).message}`, `make ${file} readable by the user running lifeboat, or set LIFEBOAT_SECRET_KEY`, err);
  }
}

/** 64 hex digits or 32 bytes of base64 are the key itself; anything else is a passphrase. */
function parseEnvKey(text: string, source: string): Buffer {
  if (/^[0-9a-f]{64}$/i.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/\+/g, '-').replace(/\//g, '_').replace(/=$/, ''), 'base64url');
    if (bytes.length === 32) return bytes;
  }
  if (text.length < 16) {
    throw keyProblem(`${source} is too short: a passphrase needs at least 16 characters`, 'use 32 random bytes: `openssl rand -base64 32`');
  }
  return scryptSync(text, SALT, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

function formatKeyFile(key: Buffer): string {
  return [
    '# Lifeboat secret key: it encrypts the secrets of targets, storages and channels created over the API.',
    '# Without it those secrets are lost: keep a copy apart from this server (or set LIFEBOAT_SECRET_KEY instead).',
    `${PREFIX}${key.toString('base64url')}`,
    '',
  ].join('\n');
}

function readKeyFile(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw keyProblem(`cannot read the secret key ${file}: ${(err as Error).message}`, `make ${file} readable by the user running lifeboat, or set LIFEBOAT_SECRET_KEY`, err);
  }
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.startsWith(PREFIX));
  const key = line ? Buffer.from(line.slice(PREFIX.length), 'base64url') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw keyProblem(`the secret key ${file} is damaged (no line ${PREFIX}... of 32 bytes)`, 'put back your copy of the file, or set LIFEBOAT_SECRET_KEY to the key');
  }
  return key;
}
