import type { Catalog } from '../catalog/catalog.ts';
import { sealAuditRow, canonicalJson } from './chain.ts';

/**
 * Retention by age (`audit.retentionDays`), run by the daemon's hourly retention and by no API:
 * removes the rows older than the cutoff and appends an `audit.prune` row naming the last
 * removed row (the anchor) and how many went, so the chain still verifies from the anchor
 * and a removal not made this way shows.
 */
export function pruneAuditLog(catalog: Catalog, retentionDays: number, now = new Date()): { rows: number } {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  const { rows } = catalog.pruneAudit(cutoff, (removed) => ({
    at: now.toISOString(), actor: 'daemon', action: 'audit.prune', object: null, address: null, userAgent: null, outcome: 'ok',
    detailJson: canonicalJson({ rows: removed.rows, before: cutoff, retentionDays, anchor: removed.anchor }),
  }), sealAuditRow);
  return { rows };
}
