import type { BackupRecord } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';

/**
 * What an untrusted backup (catalog `trust`, see mac.ts) may do. Its manifest may be forged by
 * whoever can write to the storage: its databases restore only when the user says they trust it
 * (`--trust-foreign`), and its files never in place, where a forged path or link would write
 * wherever the Lifeboat user can, only under a directory the user names (`--to-dir`).
 */
export function refuseUntrusted(backup: Pick<BackupRecord, 'id' | 'trust' | 'trustReason'>, asked: { trustForeign?: boolean; files: number; toDir?: string }): void {
  if (backup.trust !== 'untrusted') return;
  const why = backup.trustReason ?? 'no key of this installation vouches for it';
  if (!asked.trustForeign) {
    throw new LifeboatError('E_RESTORE_CHECK', `backup ${backup.id} is untrusted (${why}): it may not have been made by this installation`, {
      hint: 'pass --trust-foreign to restore it anyway (files only with --to-dir), or `lifeboat key import` the key of the installation that made it, then `lifeboat catalog rebuild`',
    });
  }
  if (asked.files > 0 && !asked.toDir) {
    throw new LifeboatError('E_RESTORE_CHECK', `backup ${backup.id} is untrusted: its files are restored only under --to-dir, never in place`, {
      hint: 'add --to-dir <dir> and look at the files there before putting any back',
    });
  }
}
