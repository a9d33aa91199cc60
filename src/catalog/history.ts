import { now } from './store.ts';
import { JobQueries } from './jobs.ts';

export interface StorageUsage {
  storage: string;
  type: string;
  usedBytes: number;
  objects: number;
  freeBytes: number | null;
  totalBytes: number | null;
  checkedAt: string;
}

export interface RestoreRecord {
  id: string;
  backupId: string;
  requestedBy: string;
  startedAt: string;
  finishedAt: string | null;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  plan: unknown;
  report: unknown;
  safetyBackupId: string | null;
  error: string | null;
}

/** The records of restores and verifications, and what storage usage was last measured. */
export class HistoryQueries extends JobQueries {
  startRestore(r: { id: string; backupId: string; requestedBy: string; plan: unknown }): void {
    this.run(
      "insert into restores (id, backup_id, requested_by, started_at, status, plan_json) values (?, ?, ?, ?, 'running', ?)",
      r.id, r.backupId, r.requestedBy, now(), JSON.stringify(r.plan),
    );
  }

  finishRestore(id: string, r: { status: 'succeeded' | 'failed' | 'cancelled'; report: unknown; safetyBackupId?: string; error?: string }): void {
    this.run(
      'update restores set status = ?, finished_at = ?, report_json = ?, safety_backup_id = coalesce(?, safety_backup_id), error = ? where id = ?',
      r.status, now(), JSON.stringify(r.report), r.safetyBackupId ?? null, r.error ?? null, id,
    );
  }

  /**
   * Restores, newest first; `before` (the last row of the previous page: its start and id) gives
   * the next page by keyset, as quick for the hundredth page as for the first.
   */
  listRestores(limit = 50, before?: { startedAt: string; id: string }): RestoreRecord[] {
    const rows = before
      ? this.all('select * from restores where started_at < ? or (started_at = ? and id < ?) order by started_at desc, id desc limit ?', before.startedAt, before.startedAt, before.id, limit)
      : this.all('select * from restores order by started_at desc, id desc limit ?', limit);
    return rows.map((r) => ({
      id: String(r.id),
      backupId: String(r.backup_id),
      requestedBy: String(r.requested_by),
      startedAt: String(r.started_at),
      finishedAt: (r.finished_at as string | null) ?? null,
      status: r.status as RestoreRecord['status'],
      plan: JSON.parse(String(r.plan_json)) as unknown,
      report: r.report_json ? (JSON.parse(String(r.report_json)) as unknown) : null,
      safetyBackupId: (r.safety_backup_id as string | null) ?? null,
      error: (r.error as string | null) ?? null,
    }));
  }

  /** Protects a backup from retention until `until`, and tags it (e.g. `pre-restore`). */


  /** Stores a verification report and sets the backup's verification status from it. */
  recordVerification(v: { id: string; backupId: string; level: 'quick' | 'full'; startedAt: string; ok: boolean; report: unknown }): void {
    this.tx(() => {
      const finished = now();
      this.run(
        'insert into verifications (id, backup_id, level, started_at, finished_at, ok, report_json) values (?, ?, ?, ?, ?, ?, ?)',
        v.id, v.backupId, v.level, v.startedAt, finished, v.ok ? 1 : 0, JSON.stringify(v.report),
      );
      this.run('update backups set verification_status = ?, verified_at = ?, verification_level = ? where id = ?', v.ok ? 'passed' : 'failed', finished, v.level, v.backupId);
    });
  }

  /** A backup's stored verification reports, newest first (the backup's Verification tab). */
  listVerifications(backupId: string, limit = 20): { id: string; level: 'quick' | 'full'; startedAt: string; finishedAt: string; ok: boolean; report: unknown }[] {
    return this.all('select * from verifications where backup_id = ? order by started_at desc, id desc limit ?', backupId, limit).map((r) => ({
      id: String(r.id), level: r.level as 'quick' | 'full', startedAt: String(r.started_at), finishedAt: String(r.finished_at), ok: Number(r.ok) === 1,
      report: JSON.parse(String(r.report_json)) as unknown,
    }));
  }

  saveStorageUsage(u: Omit<StorageUsage, 'checkedAt'>): void {
    this.run(
      `insert into storage_usage (storage, type, used_bytes, objects, free_bytes, total_bytes, checked_at) values (?, ?, ?, ?, ?, ?, ?)
       on conflict (storage) do update set type = excluded.type, used_bytes = excluded.used_bytes, objects = excluded.objects,
         free_bytes = excluded.free_bytes, total_bytes = excluded.total_bytes, checked_at = excluded.checked_at`,
      u.storage, u.type, u.usedBytes, u.objects, u.freeBytes, u.totalBytes, now(),
    );
  }

  storageUsage(): StorageUsage[] {
    return this.all('select * from storage_usage order by storage').map((r) => ({
      storage: String(r.storage), type: String(r.type), usedBytes: Number(r.used_bytes), objects: Number(r.objects),
      freeBytes: r.free_bytes === null ? null : Number(r.free_bytes), totalBytes: r.total_bytes === null ? null : Number(r.total_bytes), checkedAt: String(r.checked_at),
    }));
  }
}
