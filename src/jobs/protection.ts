import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';

/** Keeps a backup whatever retention says, for `days` or until unprotected; cancels a pending deletion. */
export function protectBackup(catalog: Catalog, prefix: string, days?: number, now = new Date()): BackupRecord {
  const b = catalog.resolveBackup(prefix);
  if (b.status === 'deleted') throw new LifeboatError('E_CONFLICT', `backup ${b.id} is deleted`);
  if (days !== undefined && !(days > 0)) throw new LifeboatError('E_USAGE', `days ${days}: give a positive number of days`);
  catalog.setProtection(b.id, days === undefined ? null : new Date(now.getTime() + days * 86_400_000));
  return catalog.getBackup(b.id)!;
}

/** Lets retention decide about a backup again. */
export function unprotectBackup(catalog: Catalog, prefix: string): BackupRecord {
  const b = catalog.resolveBackup(prefix);
  catalog.unprotect(b.id);
  return catalog.getBackup(b.id)!;
}

/**
 * Keeps a backup whose deletion is pending. It is protected as well: only cancelling would let
 * the next prune announce the same deletion again.
 */
export function cancelDeletion(catalog: Catalog, prefix: string): BackupRecord {
  const b = catalog.resolveBackup(prefix);
  if (b.deletionStatus !== 'pending') throw new LifeboatError('E_CONFLICT', `backup ${b.id} has no pending deletion`);
  catalog.setProtection(b.id, null);
  return catalog.getBackup(b.id)!;
}
