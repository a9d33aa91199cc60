import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { parseSize } from '../util/format.ts';

/** One configured storage with what is known of its space: `GET /api/v1/storages`. */
export interface StorageSummary {
  name: string;
  type: string;
  /** `quota:` in lifeboat.yaml, in bytes; null when unset. */
  quotaBytes: number | null;
  /**
   * As last measured (`lifeboat storage check`, the daemon, each backup's space check): bytes
   * and objects Lifeboat keeps there, free and total where the backend (or the quota) tells.
   * All null, with `checkedAt` null, before the first measurement.
   */
  usedBytes: number | null;
  objects: number | null;
  freeBytes: number | null;
  totalBytes: number | null;
  checkedAt: string | null;
  /** What the catalog records there now: backups with a good copy, and those copies' bytes. */
  catalog: { backups: number; bytes: number };
}

/** Every storage in the config, in its order, from the catalog only (nothing is contacted). */
export function storageList(loaded: LoadedConfig, catalog: Catalog): StorageSummary[] {
  const usage = new Map(catalog.storageUsage().map((u) => [u.storage, u]));
  const stored = catalog.storedPerStorage();
  return Object.entries(loaded.config.storages).map(([name, config]) => {
    const u = usage.get(name);
    return {
      name,
      type: config.type,
      quotaBytes: config.quota === undefined ? null : parseSize(config.quota),
      usedBytes: u?.usedBytes ?? null,
      objects: u?.objects ?? null,
      freeBytes: u?.freeBytes ?? null,
      totalBytes: u?.totalBytes ?? null,
      checkedAt: u?.checkedAt ?? null,
      catalog: stored.get(name) ?? { backups: 0, bytes: 0 },
    };
  });
}
