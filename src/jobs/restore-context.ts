// What the parts of a restore share: the options it was asked for and what prepare() resolved.
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import type { DatabaseManifest, FileRecord, Manifest } from '../bundle/manifest.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { ToastChoice } from '../postgres/load-settings.ts';
import type { PgEndpoint } from '../postgres/connection.ts';
import type { StorageDriver } from '../storage/storage.ts';
import type { Copies, deferredLog } from './copies.ts';
import type { JobListener, Trigger } from './job.ts';
import type { RestorePlan } from './restore-plan.ts';

export interface RestoreOptions {
  /** Databases to restore (names in the bundle); default: all. */
  databases?: string[];
  /** Where to restore: a database URL (one database, under that name), or a server URL without one (every selected database, each under its own name). */
  to?: string;
  /** Files to restore: `set`, `set:/path` or `/path`; default: all, unless only databases are named. */
  files?: string[];
  /** Restore files under this directory instead of their original places. */
  toDir?: string;
  /** Restore only these tables (`schema.table`) of the one database selected. */
  tables?: string[];
  /** With one table: restore it beside the live one under this name. */
  renameTo?: string;
  /** Also restore roles and tablespaces from databases/globals.sql; existing ones are kept as they are. */
  globals?: boolean;
  dryRun?: boolean;
  /** The user agreed to replace existing data. */
  yes?: boolean;
  /** Proceed despite overridable check failures. */
  force?: boolean;
  /** Skip ownership and grants (for a server without the original roles). */
  noOwner?: boolean;
  /** TOAST compression of the loaded rows (load-settings.ts); default `auto`: lz4 where the server has it. */
  toastCompression?: ToastChoice;
  /**
   * Called with the plan before anything changes, whatever the plan does; throws to stop. The API
   * uses it to run only the plan the user read (server/restore-token.ts).
   */
  approve?: (plan: RestorePlan) => void | Promise<void>;
  /** Who asked, for the restore history and its events: the API's actor; default the OS user. */
  requestedBy?: string;
  /** How the restore was started; default `manual`. */
  trigger?: Trigger;
  /** Asked when data would be replaced and `yes` is not set; returns whether to go on. */
  confirm?: (plan: RestorePlan) => Promise<boolean>;
  /** Restore an untrusted backup (catalog trust, mac.ts): databases, and files only under `toDir`. */
  trustForeign?: boolean;
  /** How long the safety backup stays protected from retention. */
  safetyDays?: number;
  signal?: AbortSignal;
  listener?: JobListener;
}

/** What a restore knows once its backup, selection and destination are resolved. */
export interface RestoreContext {
  loaded: LoadedConfig;
  catalog: Catalog;
  backup: BackupRecord;
  manifest: Manifest;
  /** The copy being read: `storage` and `key` follow it when a corrupt copy makes it fall back. */
  copies: Copies;
  log: ReturnType<typeof deferredLog>;
  storage: StorageDriver;
  key: string;
  selected: DatabaseManifest[];
  selectedFiles: FileRecord[];
  selectedTables: DatabaseManifest['tables'];
  globals: boolean;
  /** Target server endpoint (maintenance database) and, per source database, the destination name. */
  server: PgEndpoint | undefined;
  destination: Map<string, string>;
}
