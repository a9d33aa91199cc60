import path from 'node:path';
import type { Catalog, Trust } from '../catalog/catalog.ts';
import { decrypt, formatFromName, keysFor, type DecryptionKeys } from '../bundle/codec.ts';
import { verifyingKeys } from '../bundle/installation-key.ts';
import { canonicalJson, checkMac, type MacKey } from '../bundle/mac.ts';
import { checkManifest, parseJson, type Manifest } from '../bundle/manifest.ts';
import { readInnerManifestText } from '../bundle/reader.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { openStorage, type StorageDriver } from '../storage/storage.ts';
import { Job, type JobListener } from './job.ts';
import { sidecarKey } from '../bundle/names.ts';
import { summarize } from './backup.ts';

export interface RebuildReport {
  storages: string[];
  added: string[];
  updated: string[];
  /** Backups cataloged as untrusted (no key of this installation vouches for them), with why. */
  untrusted: { id: string; storage: string; key: string; reason: string }[];
  /** Bundles skipped (unreadable, malformed, or contradicting a trusted record), with why: they stay out of the catalog. */
  unreadable: { storage: string; key: string; error: string }[];
  /** Storages that could not be listed: their locations in the catalog are left as they were. */
  unreachable: { storage: string; error: string }[];
}

const BUNDLE = /\.tar(\.zst|\.gz)?(\.age)?$/;

/**
 * Recreates the catalog's backup records from what storage holds: storage is the truth, the
 * catalog an index. Reads each bundle's sidecar manifest, or the manifest inside the bundle when
 * the sidecar is gone. Job history and verification results already in the catalog are kept.
 */
export async function rebuildCatalog(loaded: LoadedConfig, catalog: Catalog, options: { signal?: AbortSignal; listener?: JobListener } = {}): Promise<RebuildReport> {
  const signal = options.signal ?? new AbortController().signal;
  const keys = allKeys(loaded);
  const macKeys = verifyingKeys(loaded);
  return Job.run(catalog, { kind: 'rebuild', trigger: 'manual' }, options.listener ?? {}, signal, async (job) => {
    const report: RebuildReport = { storages: [], added: [], updated: [], untrusted: [], unreadable: [], unreachable: [] };
    // The canonical manifest of each backup found trusted in this run, and where.
    const vouched = new Map<string, { canonical: string; storage: string }>();
    for (const [name, config] of Object.entries(loaded.config.storages)) {
      const storage = await openStorage(name, config);
      try {
        await rebuildFrom(storage);
      } finally {
        await storage.close();
      }
    }
    return report;

    async function rebuildFrom(storage: StorageDriver) {
      const name = storage.name;
      const found: string[] = [];
      try {
        for await (const obj of storage.list('')) if (BUNDLE.test(obj.key)) found.push(obj.key);
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code === 'E_ABORTED') throw e;
        report.unreachable.push({ storage: name, error: e.message });
        job.log('warn', `cannot list storage ${name}: ${e.message}; its records are left as they were`);
        return;
      }
      report.storages.push(name);
      catalog.markStorageMissing(name);
      job.log('info', `storage ${name}: ${found.length} bundle(s)`);
      for (const [i, key] of found.entries()) {
        signal.throwIfAborted();
        job.progress({ phase: 'reading manifests', current: key, done: i, total: found.length, unit: 'items' });
        try {
          const read = await readManifest(storage, key, keys);
          const { manifest } = read;
          const trust = decideTrust(catalog, read, macKeys, vouched.get(manifest.id));
          if (trust.trust === 'trusted') vouched.set(manifest.id, { canonical: read.canonical, storage: name });
          const stat = await storage.stat(key);
          const outcome = catalog.importBackup(manifest, {
            storage: name, key, size: stat?.size ?? 0, sha256: null, summary: summarize(manifest, Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)), trust,
          });
          report[outcome].push(manifest.id);
          if (trust.trust === 'untrusted') {
            report.untrusted.push({ id: manifest.id, storage: name, key, reason: trust.reason });
            job.log('warn', `${key} on ${name} is untrusted: ${trust.reason}`);
          }
        } catch (err) {
          const e = asLifeboatError(err);
          report.unreadable.push({ storage: name, key, error: e.message });
          job.log('warn', `skipped ${key} on ${name}: ${e.message}`);
        }
      }
    }
  });
}

/** A manifest found in storage: checked against the schema, with what its MAC is checked on. */
interface Found {
  manifest: Manifest;
  /** Its JSON as read, before the schema: what the MAC covers. */
  raw: unknown;
  /** Its canonical JSON without the MAC: equal for the same manifest, signed or not. */
  canonical: string;
}

async function readManifest(storage: StorageDriver, key: string, keys: DecryptionKeys): Promise<Found> {
  const { encrypted } = formatFromName(key);
  let text: string;
  let source: string;
  if (await storage.stat(sidecarKey(key))) {
    let body = await storage.get(sidecarKey(key));
    if (encrypted) body = await decrypt(body, keys);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
    source = sidecarKey(key);
  } else {
    text = await readInnerManifestText(await storage.get(key), path.basename(key), keys);
    source = `${key}: manifest.json`;
  }
  const raw = parseJson(text, source);
  const manifest = checkManifest(raw, source);
  // A manifest is about one bundle: one moved under another backup's name would claim its place.
  if (!path.basename(key).startsWith(`${manifest.id}.tar`)) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `${source}: the manifest is that of backup ${manifest.id}, which is not this bundle's name`);
  }
  return { manifest, raw, canonical: withoutMac(manifest) };
}

/**
 * Trusted when a key of this installation vouches for the manifest (its MAC), or when the catalog
 * already trusts this backup (or this run found it trusted on another storage) and the manifest
 * is that same one: a rebuild keeps trust, never grants it. An unvouched manifest that differs
 * from a trusted one of the same backup is refused: it would replace what the catalog knows.
 */
function decideTrust(catalog: Catalog, found: Found, keys: MacKey[], vouched: { canonical: string; storage: string } | undefined): TrustDecision {
  const verdict = checkMac(found.raw, keys);
  if (verdict.trusted) return { trust: 'trusted', reason: null };
  const id = found.manifest.id;
  if (vouched) {
    if (vouched.canonical === found.canonical) return { trust: 'trusted', reason: null };
    throw new LifeboatError('E_BUNDLE_CORRUPT', `its manifest differs from the authenticated one of backup ${id} on storage ${vouched.storage}, and no key vouches for it (${verdict.reason})`);
  }
  const known = catalog.getBackup(id);
  if (known?.trust === 'trusted') {
    const recorded = catalog.getManifest(id);
    if (recorded && withoutMac(recorded) === found.canonical) return { trust: 'trusted', reason: null };
    if (recorded) throw new LifeboatError('E_BUNDLE_CORRUPT', `its manifest differs from the one the catalog recorded for backup ${id}, and no key vouches for it (${verdict.reason}); the catalog keeps its record`);
  }
  return { trust: 'untrusted', reason: verdict.reason };
}

type TrustDecision = { trust: Extract<Trust, 'trusted'>; reason: null } | { trust: Extract<Trust, 'untrusted'>; reason: string };

function withoutMac(m: unknown): string {
  const { mac: _mac, ...rest } = JSON.parse(JSON.stringify(m)) as { mac?: unknown };
  void _mac;
  return canonicalJson(rest);
}

/** Every key any target can open bundles with: a rebuild does not know a bundle's target first. */
export function allKeys(loaded: LoadedConfig): DecryptionKeys {
  const all: DecryptionKeys = { identities: [], passphrases: [] };
  for (const t of Object.values(loaded.config.targets)) {
    const k = keysFor(t.encryption);
    all.identities.push(...k.identities);
    all.passphrases.push(...k.passphrases);
  }
  if (all.identities.length === 0) all.identities.push(...keysFor(undefined).identities);
  return all;
}
