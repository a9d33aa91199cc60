import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { LifeboatError } from '../errors.ts';
import { DrillQueries } from './drills.ts';

export type { AuditContent, AuditRow, ChainLink } from './audit.ts';
export { AUDIT_GENESIS } from './audit.ts';
export type { BackupRecord, BackupStatus, BackupSummary, LocationRecord, Trust } from './backups.ts';
export { restorable } from './backups.ts';
export type { EventRecord, EventSeverity } from './events.ts';
export type { RestoreRecord, StorageUsage } from './history.ts';
export type { ResourceRecord } from './jobs.ts';
export type { ScheduleRecord, ScheduleRun } from './schedules.ts';
export type { ConfigObjectRecord, ObjectKind } from './objects.ts';
export type { DrillPhases, DrillRecord } from './drills.ts';
export type { LoginAttemptRecord, SessionRecord, TokenRecord, UserRecord } from './users.ts';
export type { BackupFilter, BackupListRow, JobFilter, SortColumn } from './queries.ts';

/**
 * Lifeboat's metadata: an index over what storage holds, in one SQLite file. Every read and
 * write of the catalog goes through this class, so moving it to PostgreSQL stays local.
 */
export class Catalog extends DrillQueries {
  /** Opens (creating if needed) the catalog under `home` and applies pending migrations. */
  static open(home: string): Catalog {
    let db: DatabaseSync;
    const file = path.join(home, 'catalog.sqlite');
    try {
      // The catalog holds manifests (paths, table names, row counts) and job logs: owner only.
      // SQLite gives its -wal and -shm files the mode of the database file.
      mkdirSync(home, { recursive: true, mode: 0o700 });
      closeSync(openSync(file, 'a', 0o600));
      db = new DatabaseSync(file);
    } catch (err) {
      throw new LifeboatError('E_CONFIG', `cannot open the catalog at ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: 'set LIFEBOAT_HOME (or home: in lifeboat.yaml) to a writable directory',
      });
    }
    // The busy timeout first: setting WAL mode takes a lock, and another process (the daemon, a
    // running job) may hold one; without the timeout the open fails at once with "database is locked".
    db.exec('pragma busy_timeout = 10000; pragma journal_mode = wal; pragma foreign_keys = on; pragma synchronous = normal');
    // Up to 32 MB of pages kept (2 MB by default, filled only as pages are read): 10,000 backups'
    // list rows and indexes are ~15 MB, and a page sorted by size reads rows all over the table;
    // each read past the cache is a system call (API listing ~1.7x faster in-process).
    db.exec('pragma cache_size = -32768');
    const catalog = new Catalog(db, file);
    catalog.migrate();
    return catalog;
  }
}
