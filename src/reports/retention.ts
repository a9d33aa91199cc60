import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { planPrune, targetTimeZone, type PruneOutcome } from '../jobs/prune.ts';

/** One target's retention: its rules as configured and what they decide now. */
export interface RetentionPreviewTarget {
  target: string;
  /** `retention:` of the target as lifeboat.yaml gives it; null without one (everything is kept). */
  policy: TargetConfig['retention'] | null;
  /** The zone days, weeks and months are counted in. */
  timeZone: string;
  /** Said while deciding, e.g. a storage that reports no free space for minFreeSpacePercent. */
  warnings: string[];
  /**
   * Every backup not deleted, newest first (untrusted ones first: retention leaves them alone),
   * with its decision (`kept`, or `would-delete` with the announced time of a pending deletion)
   * and every reason for it.
   */
  decisions: PruneOutcome[];
}

/**
 * What `lifeboat prune --dry-run` shows, as data: per configured target (or only `target`), the
 * policy and each backup's decision and reasons. Changes nothing and records no job; only a
 * `minFreeSpacePercent` rule contacts the target's primary storage, for its free space.
 */
export async function retentionPreview(loaded: LoadedConfig, catalog: Catalog, options: { target?: string; now?: Date } = {}): Promise<RetentionPreviewTarget[]> {
  const names = options.target === undefined ? Object.keys(loaded.config.targets) : [options.target];
  if (options.target !== undefined && !loaded.config.targets[options.target]) {
    throw new LifeboatError('E_NOT_FOUND', `no target named "${options.target}" in ${loaded.file}`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ')}` });
  }
  const now = options.now ?? new Date();
  const out: RetentionPreviewTarget[] = [];
  for (const name of names) {
    const target = loaded.config.targets[name]!;
    const warnings: string[] = [];
    const { backups, decisions, untrusted } = await planPrune(loaded, catalog, name, now, (m) => warnings.push(m));
    const deleteAfter = new Map(backups.map((b) => [b.id, b.deleteAfter]));
    out.push({
      target: name,
      policy: target.retention ?? null,
      timeZone: targetTimeZone(target),
      warnings,
      decisions: [
        ...untrusted,
        ...decisions.map((d): PruneOutcome => (d.action === 'keep'
          ? { ...d, target: name, result: 'kept' }
          : { ...d, target: name, result: 'would-delete', deleteAt: deleteAfter.get(d.id) ?? undefined })),
      ],
    });
  }
  return out;
}
