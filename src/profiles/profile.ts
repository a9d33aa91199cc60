import type pg from 'pg';
import type { FileSetConfig, TargetConfig } from '../config/schema.ts';

/** One app-level thing inside a database: an n8n workflow, a credential (never its secret), ... */
export interface AppItem {
  kind: string;
  id: string;
  name: string;
  updatedAt?: string;
  /** sha256 of the item's canonical JSON, so verification can prove it came back unchanged. */
  checksum: string;
  /** The database it lives in. */
  database?: string;
  /** What lists show without opening the bundle: for an n8n workflow, active, tags, nodes... */
  details?: Record<string, unknown>;
}

/** What a profile records in the manifest. */
export interface AppItems {
  profile: string;
  items: AppItem[];
  /** Migration state (Django's django_migrations, Prisma's _prisma_migrations, ...), when the profile knows it. */
  migrations?: { name: string; appliedAt?: string; checksum?: string }[];
  /** Extra members the profile wrote under metadata/. */
  metadataMembers: string[];
  /** Profile facts, e.g. n8n's instance id derived from the encryption key (never the key). */
  info?: Record<string, unknown>;
}

/** What a profile is given at backup time: a connection inside the dump's snapshot. */
export interface ProfileContext {
  database: string;
  target: TargetConfig;
  /** The directory of lifeboat.yaml: relative paths in the profile's options are read from there. */
  configDir: string;
  /** In the dump's repeatable-read snapshot: what it reads matches the dump exactly. */
  client: pg.Client;
  signal?: AbortSignal;
}

/**
 * App-specific knowledge. A profile reads app items at backup time, in the same snapshot as the
 * dump; item-level restore is added to this interface with the restore issue.
 */
export interface Profile {
  /** The name used in lifeboat.yaml's `profile`. */
  readonly name: string;
  /**
   * Reads app items from one database. Returns the items and, optionally, JSON documents to
   * store under metadata/ (e.g. `workflows.json`); it must never return secrets.
   */
  readDatabase(ctx: ProfileContext): Promise<ProfileReading>;
  /**
   * Tables whose data the dump leaves out (schema only), as pg_dump `--exclude-table-data`
   * patterns and a test on schema and name; n8n's execution data when asked.
   */
  excludedData?(target: TargetConfig): { patterns: string[]; matches(schema: string, table: string): boolean } | undefined;
  /**
   * File sets the profile adds to the target's (n8n: its config file, which holds the key). For
   * a backup, only what exists; for `restore`, where files may go back (a fresh server lacks them).
   */
  fileSets?(target: TargetConfig, configDir: string, purpose?: 'backup' | 'restore'): Record<string, FileSetConfig>;
  /**
   * Checks a backup's app state against the code deployed now (Django and Prisma migrations),
   * for restore's plan: a failing check blocks the restore unless --force.
   */
  compatibility?(app: AppItems, target: TargetConfig, configDir: string): Promise<CompatibilityCheck[]>;
}

export interface CompatibilityCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProfileReading {
  /** The profile that read it, when `auto` chose one. */
  profile?: string;
  items: AppItem[];
  migrations?: AppItems['migrations'];
  metadata?: Record<string, unknown>;
  info?: Record<string, unknown>;
  /** Said in the job log and kept in the manifest (`lifeboat show`). */
  warnings?: string[];
}
