import type pg from 'pg';

/** One app-level thing inside a database: an n8n workflow, a credential (never its secret), ... */
export interface AppItem {
  kind: string;
  id: string;
  name: string;
  updatedAt?: string;
  /** sha256 of the item's canonical JSON, so verification can prove it came back unchanged. */
  checksum: string;
}

/** What a profile records in the manifest. */
export interface AppItems {
  profile: string;
  items: AppItem[];
  /** Migration state (Django's django_migrations, Prisma's _prisma_migrations, ...), when the profile knows it. */
  migrations?: { name: string; appliedAt?: string }[];
  /** Extra members the profile wrote under metadata/. */
  metadataMembers: string[];
}

/** What a profile is given at backup time: a connection inside the dump's snapshot. */
export interface ProfileContext {
  database: string;
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
  readDatabase(ctx: ProfileContext): Promise<{ items: AppItem[]; migrations?: AppItems['migrations']; metadata?: Record<string, unknown> }>;
}
