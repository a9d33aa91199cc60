import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Manifest, ManifestMac } from './manifest.ts';

/**
 * Authenticated manifests. Anyone who can write to a storage can write a bundle whose checksums
 * all match (and, for age recipients, encrypt it: the recipient is public). What they cannot do is
 * compute an HMAC with a key only the installation holds, so the MAC is what tells "made here"
 * from "found in storage".
 *
 * The MAC covers the manifest's canonical bytes: its JSON value without `mac`, object keys
 * sorted, no whitespace. Canonical rather than as-written bytes, so that serializeManifest's
 * layout (one member per line for restore.sh) can change without invalidating old bundles.
 */

/** A key that can sign or verify manifests. */
export interface MacKey {
  /** Where the key comes from; recorded in the manifest as a hint for people. */
  kind: ManifestMac['key'];
  /** Public: sha256-derived, names the key without revealing it (`lifeboat key show`). */
  id: string;
  /** The 32 secret bytes; never logged, never written to a manifest or the catalog. */
  secret: Buffer;
  /** Where it was read from (a file, an identity file): for messages, never the secret. */
  source: string;
}

const DOMAIN = 'lifeboat-manifest-mac-v1\n';

/** The public id of a key: 16 hex digits of a hash that cannot be turned back into the key. */
export function keyId(secret: Buffer): string {
  return createHash('sha256').update('lifeboat-key-id\n').update(secret).digest('hex').slice(0, 16);
}

/** Returns the manifest with its MAC set (any previous one replaced). */
export function signManifest(manifest: Manifest, key: MacKey): Manifest {
  const { mac: _old, ...rest } = manifest;
  void _old;
  // Through JSON first: what readers will canonicalize is the parsed text, not this object
  // (undefined fields vanish, dates become strings).
  const value = hmac(key.secret, canonicalJson(JSON.parse(JSON.stringify(rest))));
  return { ...rest, mac: { alg: 'HMAC-SHA256', key: key.kind, keyId: key.id, value } };
}

/** Whether a manifest is vouched for, and if not, why: what `show` tells a person. */
export type TrustVerdict = { trusted: true; keyId: string } | { trusted: false; reason: string };

/**
 * Checks the MAC of a manifest as read from storage (`raw`: its parsed JSON, before the schema
 * drops unknown fields, so that fields a newer Lifeboat adds stay covered) against `keys`.
 */
export function checkMac(raw: unknown, keys: readonly MacKey[]): TrustVerdict {
  if (typeof raw !== 'object' || raw === null) return { trusted: false, reason: 'the manifest is not an object' };
  const { mac, ...rest } = raw as { mac?: Partial<ManifestMac> };
  if (!mac) return { trusted: false, reason: 'no MAC: made by a Lifeboat without authenticated bundles, or not by Lifeboat' };
  if (mac.alg !== 'HMAC-SHA256' || typeof mac.value !== 'string' || !/^[0-9a-f]{64}$/.test(mac.value)) {
    return { trusted: false, reason: 'the MAC is malformed' };
  }
  const key = keys.find((k) => k.id === mac.keyId);
  if (!key) return { trusted: false, reason: `signed with key ${String(mac.keyId)}, which this installation does not hold` };
  const want = Buffer.from(hmac(key.secret, canonicalJson(rest)), 'hex');
  if (!timingSafeEqual(want, Buffer.from(mac.value, 'hex'))) return { trusted: false, reason: `the MAC does not match: the manifest was changed after key ${key.id} signed it` };
  return { trusted: true, keyId: key.id };
}

/** JSON with object keys sorted and no whitespace: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function hmac(secret: Buffer, canonical: string): string {
  return createHmac('sha256', secret).update(DOMAIN).update(canonical).digest('hex');
}
