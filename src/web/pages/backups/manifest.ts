// The parts of a backup's manifest (GET /api/v1/backups/{id}, `manifest`) the detail tabs read.
// The API types it as unknown; this is the shape src/bundle/manifest.ts writes.

export interface ManifestTable {
  schema: string;
  name: string;
  kind: 'table' | 'partitioned';
  columns: { name: string; type: string; nullable: boolean }[];
  rows: number | null;
  dataExcluded?: boolean;
}

export interface ManifestDatabase {
  name: string;
  sizeBytes: number;
  encoding: string;
  dumpSize: number;
  tables: ManifestTable[];
  extensions: { name: string; version: string }[];
}

export interface ManifestFile {
  set: string;
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  size: number;
  mtime: string;
  sha256?: string;
  linkTarget?: string;
}

export interface Manifest {
  id: string;
  target: string;
  lifeboatVersion: string;
  profile: string;
  host: { hostname: string; platform: string };
  compression: { algorithm: string; level?: number };
  encryption: { kind: string };
  postgres?: { serverVersion: string; pgDumpVersion: string; globals: boolean; databases: ManifestDatabase[] };
  files: ManifestFile[];
  skipped: { set: string; path: string; reason: string }[];
  app: {
    profile: string;
    items: { kind: string; id: string; name: string; database?: string; updatedAt?: string; details?: Record<string, unknown> }[];
    migrations?: { name: string; appliedAt?: string; checksum?: string }[];
    info?: Record<string, unknown>;
  };
  warnings: string[];
}

/** The manifest of an answer, or undefined for a backup that has none (failed, running). */
export function asManifest(m: unknown): Manifest | undefined {
  return m && typeof m === 'object' && 'files' in m ? (m as Manifest) : undefined;
}
