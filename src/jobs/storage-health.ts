import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { openStorage, probeWritable } from '../storage/storage.ts';

export interface StorageHealth {
  name: string;
  type: string;
  reachable: boolean;
  /** Only when asked to test writing. */
  writable?: boolean;
  error?: string;
  /** Free and total bytes where the backend (or `quota:`) tells; null where it cannot. */
  freeBytes: number | null;
  totalBytes: number | null;
  /** Bytes and objects Lifeboat keeps there (bundles and their sidecar manifests). */
  usedBytes: number | null;
  objects: number | null;
  bundles: number | null;
  /** Backups the catalog records on this storage. */
  catalogBackups: number;
  ms: number;
}

const BUNDLE = /\.tar(\.zst|\.gz)?(\.age)?$/;

/**
 * Checks one storage: reachable (lists it), writable when `write` (writes, reads back and
 * deletes a probe object), free space, and what Lifeboat uses there, saved in the catalog for
 * retention to use. Never throws for the storage's own failures: they are the report.
 */
export async function checkStorage(loaded: LoadedConfig, catalog: Catalog, name: string, options: { write?: boolean } = {}): Promise<StorageHealth> {
  const config = loaded.config.storages[name];
  if (!config) {
    const names = Object.keys(loaded.config.storages);
    throw new LifeboatError('E_NOT_FOUND', `no storage named "${name}" in ${loaded.file}`, { hint: names.length ? `configured storages: ${names.join(', ')}` : 'add one under storages:' });
  }
  const started = Date.now();
  const catalogBackups = catalog.countStoredOn(name);
  const health: StorageHealth = {
    name, type: config.type, reachable: false, freeBytes: null, totalBytes: null, usedBytes: null, objects: null, bundles: null, catalogBackups, ms: 0,
  };
  const storage = await openStorage(name, config);
  try {
    let used = 0;
    let objects = 0;
    let bundles = 0;
    for await (const o of storage.list('')) {
      used += o.size;
      objects++;
      if (BUNDLE.test(o.key)) bundles++;
    }
    Object.assign(health, { reachable: true, usedBytes: used, objects, bundles });
    if (options.write) {
      await probeWritable(storage);
      health.writable = true;
    }
    const space = await storage.space();
    health.freeBytes = space?.free ?? null;
    health.totalBytes = space?.total ?? null;
    catalog.saveStorageUsage({ storage: name, type: config.type, usedBytes: used, objects, freeBytes: health.freeBytes, totalBytes: health.totalBytes });
  } catch (err) {
    const e = asLifeboatError(err);
    if (e.code === 'E_ABORTED') throw e;
    health.error = e.hint ? `${e.message} (${e.hint})` : e.message;
    if (options.write && health.reachable) health.writable = false;
  } finally {
    await storage.close();
    health.ms = Date.now() - started;
  }
  return health;
}
