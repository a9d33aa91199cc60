import type { Manifest } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';
import { now, type Row } from './store.ts';
import { HistoryQueries } from './history.ts';

/**
 * `degraded` is not stored: it is an `ok` backup one of whose copies (a replica, or the primary
 * after a check) failed or went missing. It restores; `lifeboat replicate --pending` repairs it.
 * `deleted` is not stored either: the record of a backup retention or `delete` removed.
 */
export type BackupStatus = 'running' | 'ok' | 'degraded' | 'failed' | 'deleted';

/** True when a backup has a complete bundle somewhere: `ok`, or `degraded` with a copy left. */
export function restorable(b: BackupRecord): boolean {
  return (b.status === 'ok' || b.status === 'degraded') && b.locations.some((l) => l.status === 'ok');
}

/** The catalog's record of one backup. */
export interface BackupRecord {
  id: string;
  target: string;
  status: BackupStatus;
  trigger: string;
  jobId: string | null;
  startedAt: string;
  finishedAt: string | null;
  size: number | null;
  compression: string | null;
  encrypted: boolean;
  sha256: string | null;
  bundleKey: string | null;
  error: string | null;
  verificationStatus: 'unverified' | 'passed' | 'failed';
  verifiedAt: string | null;
  /** How the last verification proved it: `quick` (checksums) or `full` (a test restore). */
  verificationLevel: 'quick' | 'full' | null;
  protected: boolean;
  protectedUntil: string | null;
  tags: string[];
  deletionStatus: 'none' | 'pending' | 'deleted';
  /** When a pending deletion happens. */
  deleteAfter: string | null;
  summary: BackupSummary | null;
  locations: LocationRecord[];
  /**
   * `untrusted` when no key of this installation vouches for the bundle's manifest (mac.ts):
   * forged, made elsewhere, or made before bundles were authenticated. It lists and verifies, but
   * restores only with `--trust-foreign`, and its files only under `--to-dir`.
   */
  trust: Trust;
  /** Why a backup is untrusted. */
  trustReason: string | null;
}

export type Trust = 'trusted' | 'untrusted';

/** Figures shown in lists without reading the manifest. */
export interface BackupSummary {
  databases: number;
  tables: number;
  rows: number;
  files: number;
  appItems: number;
  durationMs: number;
  warnings: number;
}

export interface LocationRecord {
  storage: string;
  key: string;
  status: 'pending' | 'ok' | 'failed' | 'missing';
  size: number | null;
  sha256: string | null;
  error: string | null;
}

/**
 * Every column a BackupRecord is made of, all but the manifest, for `backups b join backup_list
 * l`. A row of `backups` holds its manifest before the columns added later, and once manifests
 * outgrow a page SQLite walks their overflow chains to reach those: with 30 KB manifests, reading
 * them from `backups` took 4 times as long as this join (200 against 50 ms for 10,000 backups).
 * So they come from backup_list (migration 11, the same values kept by triggers), and `b` gives
 * only what precedes the manifest. trust_reason is set only for an untrusted backup
 * (null otherwise, in the same write as trust), so it is read only for one.
 */
const LIST_COLUMNS = `b.id, b.target, b.status, b.trigger, b.job_id, b.started_at, b.finished_at, b.size, b.compression, b.encrypted, b.sha256, b.bundle_key, b.error,
  l.summary_json, l.verification_status, l.verified_at, l.verification_level, l.protected, l.protected_until, l.deletion_status, l.delete_after, l.tags, l.trust,
  case when l.trust = 'untrusted' then b.trust_reason end as trust_reason`;
const LOCATION_COLUMNS = 'l.storage, l.key, l.status, l.size, l.sha256, l.error';

/** Backups, their copies in storage, protection and pending deletion. */
export class BackupQueries extends HistoryQueries {
  /** Whether an id is taken (backups are never reused, even failed ones). */
  backupExists(id: string): boolean {
    return this.one('select 1 from backups where id = ?', id) !== undefined;
  }

  startBackup(b: { id: string; target: string; trigger: string; jobId: string; startedAt: Date; compression: string; encrypted: boolean; bundleKey: string }): void {
    this.run(
      'insert into backups (id, target, status, trigger, job_id, started_at, compression, encrypted, bundle_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      b.id, b.target, 'running', b.trigger, b.jobId, b.startedAt.toISOString(), b.compression, b.encrypted ? 1 : 0, b.bundleKey,
    );
  }

  /** Records a complete backup: its manifest, checksum and first location, in one transaction. */
  completeBackup(id: string, r: { size: number; sha256: string; manifest: Manifest; summary: BackupSummary; location: Omit<LocationRecord, 'error'> }): void {
    this.tx(() => {
      this.run(
        "update backups set status = 'ok', finished_at = ?, size = ?, sha256 = ?, manifest_json = ?, summary_json = ?, error = null where id = ?",
        r.manifest.finishedAt, r.size, r.sha256, JSON.stringify(r.manifest), JSON.stringify(r.summary), id,
      );
      this.#setLocation(id, { ...r.location, error: null });
    });
  }

  failBackup(id: string, error: string): void {
    this.run("update backups set status = 'failed', finished_at = ?, error = ? where id = ?", now(), error, id);
  }

  /** Records where a copy of a backup is, or was meant to be, and in what state. */
  setLocation(id: string, l: LocationRecord): void {
    this.#setLocation(id, l);
  }

  #setLocation(id: string, l: LocationRecord): void {
    this.run(
      `insert into backup_locations (backup_id, storage, key, status, size, sha256, error, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (backup_id, storage) do update set key = excluded.key, status = excluded.status, size = excluded.size,
         sha256 = excluded.sha256, error = excluded.error, updated_at = excluded.updated_at`,
      id, l.storage, l.key, l.status, l.size, l.sha256, l.error, now(),
    );
  }

  /** Newest first; all targets unless one is named; deleted ones (kept for history) only when asked. */
  listBackups(target?: string, options: { includeDeleted?: boolean } = {}): BackupRecord[] {
    const deleted = options.includeDeleted ? '' : " and l.deletion_status != 'deleted'";
    // Without the manifests (kilobytes each, never shown in a list), and the copies of all the
    // backups in one query: the daemon and retention list thousands of backups on the API's thread.
    const from = 'backup_list l join backups b on b.id = l.id';
    const rows = target
      ? this.all(`select ${LIST_COLUMNS} from ${from} where l.target = ?${deleted} order by l.started_at desc, l.id desc`, target)
      : this.all(`select ${LIST_COLUMNS} from ${from} where 1 = 1${deleted} order by l.started_at desc, l.id desc`);
    const locations = new Map<string, Row[]>();
    const all = target
      ? this.all(`select l.backup_id, ${LOCATION_COLUMNS} from backup_locations l join backup_list bl on bl.id = l.backup_id where bl.target = ? order by l.storage`, target)
      : this.all(`select l.backup_id, ${LOCATION_COLUMNS} from backup_locations l order by l.storage`);
    for (const l of all) {
      const list = locations.get(l.backup_id as string);
      if (list) list.push(l);
      else locations.set(l.backup_id as string, [l]);
    }
    return rows.map((r) => this.#toBackup(r, locations.get(r.id as string) ?? []));
  }

  /**
   * A target's newest successful backup (ok or degraded, not deleted, not a pre-restore safety
   * backup): what the dead-man's switch and the verification cron look at. One indexed row,
   * where listing the target's backups to find it cost 20 ms a target on every tick.
   */
  newestGoodBackup(target: string): { id: string; startedAt: string; verificationLevel: 'quick' | 'full' | null } | undefined {
    const r = this.one(
      `select id, started_at, verification_level from backup_list where target = ? and status = 'ok' and deletion_status != 'deleted' and trigger != 'pre-restore'
       order by started_at desc, id desc limit 1`,
      target,
    );
    return r && { id: String(r.id), startedAt: String(r.started_at), verificationLevel: (r.verification_level as 'quick' | 'full' | null) ?? null };
  }

  /** How many backups (not deleted) have a good copy on a storage. */
  countStoredOn(storage: string): number {
    const r = this.one("select count(*) as n from backup_locations l join backup_list b on b.id = l.backup_id where l.storage = ? and l.status = 'ok' and b.deletion_status != 'deleted'", storage);
    return Number(r!.n);
  }

  /** Announces an automatic deletion: the backup goes at `at` unless kept, protected or cancelled before. */
  scheduleDeletion(id: string, at: Date): void {
    this.run("update backups set deletion_status = 'pending', delete_after = ? where id = ? and deletion_status = 'none'", at.toISOString(), id);
  }

  cancelDeletion(id: string): void {
    this.run("update backups set deletion_status = 'none', delete_after = null where id = ? and deletion_status = 'pending'", id);
  }

  /** The bundle is gone from every storage: the record stays, for history, without locations. */
  markDeleted(id: string): void {
    this.tx(() => {
      this.run("update backups set deletion_status = 'deleted', delete_after = null, protected = 0, protected_until = null where id = ?", id);
      this.run('delete from backup_locations where backup_id = ?', id);
    });
  }

  /** Protects until `until`, or for good when null; a pending deletion is cancelled. */
  setProtection(id: string, until: Date | null, tags?: string[]): void {
    this.tx(() => {
      this.run('update backups set protected = 1, protected_until = ? where id = ?', until?.toISOString() ?? null, id);
      if (tags) this.run('update backups set tags = ? where id = ?', JSON.stringify(tags), id);
      this.cancelDeletion(id);
    });
  }

  unprotect(id: string): void {
    this.run('update backups set protected = 0, protected_until = null where id = ?', id);
  }

  getBackup(id: string): BackupRecord | undefined {
    const r = this.one('select * from backups where id = ?', id);
    return r && this.#toBackup(r);
  }

  getManifest(id: string): Manifest | undefined {
    const r = this.one('select manifest_json from backups where id = ?', id);
    return r?.manifest_json ? (JSON.parse(String(r.manifest_json)) as Manifest) : undefined;
  }

  /** The backup a unique id prefix names; E_NOT_FOUND or E_AMBIGUOUS otherwise. */
  resolveBackup(prefix: string): BackupRecord {
    const exact = this.getBackup(prefix);
    if (exact) return exact;
    const rows = this.all("select id from backups where substr(id, 1, length(?)) = ? order by id limit 6", prefix, prefix);
    if (rows.length === 1) return this.getBackup(String(rows[0]!.id))!;
    if (rows.length === 0) {
      throw new LifeboatError('E_NOT_FOUND', `no backup matches "${prefix}"`, { hint: 'run `lifeboat list` to see backup ids' });
    }
    const shown = rows.slice(0, 5).map((r) => String(r.id)).join(', ');
    throw new LifeboatError('E_AMBIGUOUS', `"${prefix}" matches several backups: ${shown}${rows.length > 5 ? ', ...' : ''}`, {
      hint: 'give more of the id',
    });
  }

  /**
   * Records a backup found in storage (catalog rebuild): inserted if unknown, its location
   * added if known. Verification and protection already recorded are kept.
   */
  importBackup(m: Manifest, r: { storage: string; key: string; size: number; sha256: string | null; summary: BackupSummary; trust: { trust: Trust; reason: string | null } }): 'added' | 'updated' {
    return this.tx(() => {
      const known = this.one('select status from backups where id = ?', m.id);
      // Decided by the caller (rebuild.ts) from the MAC and what the catalog held; set in the same
      // transaction, so a row is never visible with the column's default of `trusted`.
      const setTrust = () => this.run('update backups set trust = ?, trust_reason = ? where id = ?', r.trust.trust, r.trust.reason, m.id);
      if (!known) {
        this.run(
          `insert into backups (id, target, status, trigger, started_at, finished_at, size, compression, encrypted, sha256, bundle_key, manifest_json, summary_json)
           values (?, ?, 'ok', 'rebuild', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          m.id, m.target, m.startedAt, m.finishedAt, r.size, m.compression.algorithm, m.encryption.kind === 'none' ? 0 : 1,
          r.sha256, r.key, JSON.stringify(m), JSON.stringify(r.summary),
        );
      } else {
        this.run(
          "update backups set status = 'ok', error = null, deletion_status = 'none', delete_after = null, finished_at = ?, size = ?, manifest_json = ?, summary_json = ?, sha256 = coalesce(?, sha256) where id = ?",
          m.finishedAt, r.size, JSON.stringify(m), JSON.stringify(r.summary), r.sha256, m.id,
        );
      }
      setTrust();
      this.#setLocation(m.id, { storage: r.storage, key: r.key, status: 'ok', size: r.size, sha256: r.sha256, error: null });
      return known ? 'updated' : 'added';
    });
  }

  /** Marks every location of a storage missing; rebuild then marks what it finds as ok. */
  markStorageMissing(storage: string): void {
    this.run("update backup_locations set status = 'missing', updated_at = ? where storage = ? and status = 'ok'", now(), storage);
  }

  #toBackup(r: Row, rows?: Row[]): BackupRecord {
    const locations = (rows ?? this.all(`select ${LOCATION_COLUMNS} from backup_locations l where l.backup_id = ? order by l.storage`, r.id as string)).map(
      (l) => ({
        storage: String(l.storage),
        key: String(l.key),
        status: l.status as LocationRecord['status'],
        size: l.size === null ? null : Number(l.size),
        sha256: (l.sha256 as string | null) ?? null,
        error: (l.error as string | null) ?? null,
      }),
    );
    return {
      id: String(r.id),
      target: String(r.target),
      status: r.deletion_status === 'deleted' ? 'deleted' : r.status === 'ok' && locations.some((l) => l.status !== 'ok') ? 'degraded' : (r.status as BackupStatus),
      trigger: String(r.trigger),
      jobId: (r.job_id as string | null) ?? null,
      startedAt: String(r.started_at),
      finishedAt: (r.finished_at as string | null) ?? null,
      size: r.size === null ? null : Number(r.size),
      compression: (r.compression as string | null) ?? null,
      encrypted: Number(r.encrypted) === 1,
      sha256: (r.sha256 as string | null) ?? null,
      bundleKey: (r.bundle_key as string | null) ?? null,
      error: (r.error as string | null) ?? null,
      verificationStatus: r.verification_status as BackupRecord['verificationStatus'],
      verifiedAt: (r.verified_at as string | null) ?? null,
      verificationLevel: (r.verification_level as BackupRecord['verificationLevel']) ?? null,
      protected: Number(r.protected) === 1,
      protectedUntil: (r.protected_until as string | null) ?? null,
      tags: JSON.parse(String(r.tags)) as string[],
      deletionStatus: r.deletion_status as BackupRecord['deletionStatus'],
      deleteAfter: (r.delete_after as string | null) ?? null,
      summary: r.summary_json ? (JSON.parse(String(r.summary_json)) as BackupSummary) : null,
      locations,
      trust: r.trust as Trust,
      trustReason: (r.trust_reason as string | null) ?? null,
    };
  }
}
