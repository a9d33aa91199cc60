import type { Catalog } from '../catalog/catalog.ts';
import { decrypt, formatFromName, keysFor, type DecryptionKeys } from '../bundle/codec.ts';
import { parseManifest, type Manifest } from '../bundle/manifest.ts';
import { readInnerManifest } from '../bundle/reader.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError } from '../errors.ts';
import { openStorage, type StorageDriver } from '../storage/storage.ts';
import { Job, type JobListener } from './job.ts';
import { sidecarKey } from '../bundle/names.ts';
import { summarize } from './backup.ts';

export interface RebuildReport {
  storages: string[];
  added: string[];
  updated: string[];
  /** Bundles that could not be read, with the reason: they stay out of the catalog. */
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
  return Job.run(catalog, { kind: 'rebuild', trigger: 'manual' }, options.listener ?? {}, signal, async (job) => {
    const report: RebuildReport = { storages: [], added: [], updated: [], unreadable: [], unreachable: [] };
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
          const manifest = await readManifest(storage, key, keys);
          const stat = await storage.stat(key);
          const outcome = catalog.importBackup(manifest, {
            storage: name, key, size: stat?.size ?? 0, sha256: null, summary: summarize(manifest, Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)),
          });
          report[outcome].push(manifest.id);
        } catch (err) {
          const e = asLifeboatError(err);
          report.unreadable.push({ storage: name, key, error: e.message });
          job.log('warn', `cannot read ${key} on ${name}: ${e.message}`);
        }
      }
    }
  });
}

async function readManifest(storage: StorageDriver, key: string, keys: DecryptionKeys): Promise<Manifest> {
  const { encrypted } = formatFromName(key);
  if (await storage.stat(sidecarKey(key))) {
    let body = await storage.get(sidecarKey(key));
    if (encrypted) body = await decrypt(body, keys);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return parseManifest(Buffer.concat(chunks).toString('utf8'));
  }
  return readInnerManifest(await storage.get(key), key.split('/').pop()!, keys);
}

/** Every key any target can open bundles with: a rebuild does not know a bundle's target first. */
function allKeys(loaded: LoadedConfig): DecryptionKeys {
  const all: DecryptionKeys = { identities: [], passphrases: [] };
  for (const t of Object.values(loaded.config.targets)) {
    const k = keysFor(t.encryption);
    all.identities.push(...k.identities);
    all.passphrases.push(...k.passphrases);
  }
  if (all.identities.length === 0) all.identities.push(...keysFor(undefined).identities);
  return all;
}
