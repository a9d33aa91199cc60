import { randomBytes, hkdfSync } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { createKeyFileOnce } from '../util/key-file.ts';
import { age } from './age.ts';
import { keysFor } from './codec.ts';
import { keyId, type MacKey } from './mac.ts';

/**
 * The keys that sign and verify manifests (mac.ts). A target encrypted to age recipients signs
 * with a key derived from its age identity: a rebuilt server needs that identity to read the
 * bundles anyway, so nothing more has to be kept. Every other bundle is signed with the
 * installation key, a random 32-byte key created in the Lifeboat home at first use; losing the
 * home loses it, hence `lifeboat key export`. Keys exported by other installations (`lifeboat
 * key import`) verify but never sign.
 */

export const KEY_FILE = 'installation.key';
/** Imported keys that verify bundles (another installation's, a previous key of this one). */
const TRUSTED_DIR = 'keys';
const PREFIX = 'LIFEBOAT-KEY-1:';

/** The installation key, created (0600, in a 0700 home) when absent and `create` is set. */
export function installationKey(home: string, options: { create: boolean }): MacKey | undefined {
  const file = path.join(home, KEY_FILE);
  if (!existsSync(file)) {
    if (!options.create) return undefined;
    createKeyFile(file, randomBytes(32));
  }
  return readKeyFile(file);
}

/** The key a target's new bundles are signed with. */
export async function signingKey(loaded: LoadedConfig, target: TargetConfig): Promise<MacKey> {
  const enc = target.encryption;
  if (enc && 'recipients' in enc) {
    let identities: string[] = [];
    try {
      identities = keysFor(enc).identities;
    } catch {
      // Writing needs no identity: an unreadable one must not fail a backup at its last step.
      // The installation key signs instead, and restores read the identity with its own message.
    }
    for (const identity of identities) {
      if (enc.recipients.includes(await age().identityToRecipient(identity))) return ageMacKey(identity, 'the age identity of its recipients');
    }
  }
  return installationKey(loaded.home, { create: true })!;
}

/**
 * Every key this installation verifies with: the installation key, imported keys, and those
 * derived from every age identity the configuration can read. Never creates anything.
 */
export function verifyingKeys(loaded: LoadedConfig): MacKey[] {
  const keys: MacKey[] = [];
  const own = installationKey(loaded.home, { create: false });
  if (own) keys.push(own);
  const dir = path.join(loaded.home, TRUSTED_DIR);
  if (existsSync(dir)) for (const f of readdirSync(dir).filter((n) => n.endsWith('.key')).sort()) keys.push(readKeyFile(path.join(dir, f)));
  const identities = new Set<string>();
  for (const t of [...Object.values(loaded.config.targets).map((t) => t.encryption), undefined]) {
    try {
      for (const id of keysFor(t).identities) identities.add(id);
    } catch {
      // An unreadable identity file fails where it is needed (decryption), with its own message.
    }
  }
  for (const id of identities) keys.push(ageMacKey(id, 'an age identity in the configuration'));
  return keys;
}

/** The MAC key an age identity implies: HKDF of the identity, so the identity stays unexposed. */
export function ageMacKey(identity: string, source: string): MacKey {
  const secret = Buffer.from(hkdfSync('sha256', identity.trim().toUpperCase(), 'lifeboat', 'manifest-mac-v1', 32));
  return { kind: 'age-identity', id: keyId(secret), secret, source };
}

/** The text `lifeboat key export` prints and `lifeboat key import` reads. */
export function formatKey(key: MacKey): string {
  return [
    '# Lifeboat installation key: it signs the manifests of this installation\'s backups.',
    '# Keep it secret and safe, apart from the backups; install it with `lifeboat key import`.',
    `# key id: ${key.id}`,
    `${PREFIX}${key.secret.toString('base64url')}`,
    '',
  ].join('\n');
}

/**
 * Reads a key from the text of an exported key file or an age identity file (AGE-SECRET-KEY-1...,
 * the key an age-recipient bundle was signed with). `source` names it in messages.
 */
export function parseKey(text: string, source: string): MacKey {
  const line = text.split('\n').map((l) => l.trim()).find((l) => l.startsWith(PREFIX) || l.startsWith('AGE-SECRET-KEY-'));
  if (line?.startsWith('AGE-SECRET-KEY-')) return ageMacKey(line, source);
  const secret = line ? Buffer.from(line.slice(PREFIX.length), 'base64url') : Buffer.alloc(0);
  if (secret.length !== 32) {
    throw new LifeboatError('E_USAGE', `${source} holds no Lifeboat key (a line ${PREFIX}... of 32 bytes) and no age identity`, {
      hint: 'give the file `lifeboat key export` wrote, or the age identity file of the bundle\'s recipients',
    });
  }
  return { kind: 'installation', id: keyId(secret), secret, source };
}

/**
 * Installs an exported key. With no installation key yet (a rebuilt server), it becomes the
 * installation key, and signs from now on; otherwise it is kept as a key that verifies, unless
 * `replace`, which makes it the signing key and keeps the previous one as a verifying key.
 */
export function importKey(home: string, key: MacKey, options: { replace?: boolean } = {}): 'installed' | 'trusted' | 'replaced' | 'known' {
  if (key.kind !== 'installation') throw new LifeboatError('E_USAGE', `${key.source} is an age identity: it is not imported; set it as the target's encryption.identityFile`);
  const file = path.join(home, KEY_FILE);
  const current = installationKey(home, { create: false });
  if (!current) {
    createKeyFile(file, key.secret);
    return 'installed';
  }
  if (current.id === key.id) return 'known';
  const dir = path.join(home, TRUSTED_DIR);
  if (!options.replace) {
    writeTrusted(dir, key);
    return 'trusted';
  }
  writeTrusted(dir, current);
  unlinkSync(file);
  createKeyFile(file, key.secret);
  return 'replaced';
}

function writeTrusted(dir: string, key: MacKey): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, `${key.id}.key`), formatKey(key), { mode: 0o600 });
}

function createKeyFile(file: string, secret: Buffer): void {
  createKeyFileOnce(file, formatKey({ kind: 'installation', id: keyId(secret), secret, source: file }), 'the installation key');
}

function readKeyFile(file: string): MacKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new LifeboatError('E_CONFIG', `cannot read the key file ${file}: ${(err as Error).message}`, { cause: err });
  }
  let key: MacKey;
  try {
    key = parseKey(text, file);
  } catch (err) {
    throw new LifeboatError('E_CONFIG', `the key file ${file} is damaged: ${(err as Error).message}`, { cause: err, hint: 'install the copy you exported with `lifeboat key import`' });
  }
  return { ...key, kind: 'installation' };
}
