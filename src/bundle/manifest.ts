import type { DatabaseInfo } from '../postgres/introspect.ts';
import type { DumpIndex } from '../postgres/dump-index.ts';
import type { AppItems } from '../profiles/profile.ts';

export const MANIFEST_MEMBER = 'manifest.json';
export const MANIFEST_FORMAT = 'lifeboat-bundle';
export const MANIFEST_VERSION = 1;

/** One tar member: written before manifest.json, so the manifest can vouch for it. */
export interface MemberRecord {
  name: string;
  size: number;
  sha256: string;
}

/** One database in the bundle, described in the dump's own snapshot. */
export interface DatabaseManifest extends DatabaseInfo {
  /** The dump's members in order; several when it was cut into parts (`cat` joins them). */
  dumpMembers: string[];
  /** Size and sha256 of the whole pg_dump custom-format output (all parts joined). */
  dumpSize: number;
  dumpSha256: string;
  /**
   * Where the dump's TOC ends and each table's data block lies in it (offsets in the joined
   * dump), when pg_dump's output could be read as it streamed: lets a restore of one table read
   * only those bytes. Absent in older bundles; never needed to restore everything.
   */
  dumpIndex?: DumpIndex;
}

export interface FileRecord {
  set: string;
  /** The original absolute path. */
  path: string;
  member: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: string;
  sha256?: string;
  linkTarget?: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: typeof MANIFEST_VERSION;
  id: string;
  target: string;
  lifeboatVersion: string;
  startedAt: string;
  finishedAt: string;
  host: { hostname: string; platform: string };
  profile: string;
  compression: { algorithm: 'zstd' | 'gzip' | 'none'; level?: number };
  /** How the bundle is encrypted: the kind and the public recipients; never a secret. */
  encryption: { kind: 'none' } | { kind: 'recipients'; recipients: string[] } | { kind: 'passphrase' };
  postgres?: {
    serverVersion: string;
    pgDumpVersion: string;
    globals: boolean;
    databases: DatabaseManifest[];
  };
  files: FileRecord[];
  /** Files left out because they could not be read (onUnreadable: skip). */
  skipped: { set: string; path: string; reason: string }[];
  app: AppItems;
  warnings: string[];
  members: MemberRecord[];
}

/**
 * Serializes a manifest with one member per line, so restore.sh can check checksums with grep
 * and sha256sum on a machine that has no JSON tool.
 */
export function serializeManifest(manifest: Manifest): string {
  const { members, ...rest } = manifest;
  const body = JSON.stringify(rest, null, 2).replace(/\n}$/, '');
  const lines = members.map((m) => '    ' + JSON.stringify(m));
  return `${body},\n  "members": [\n${lines.join(',\n')}\n  ]\n}\n`;
}

export function parseManifest(text: string): Manifest {
  const m = JSON.parse(text) as Manifest;
  if (m.format !== MANIFEST_FORMAT || typeof m.formatVersion !== 'number') {
    throw new Error('not a Lifeboat manifest');
  }
  if (m.formatVersion > MANIFEST_VERSION) {
    throw new Error(`manifest format ${m.formatVersion} is newer than this Lifeboat understands (${MANIFEST_VERSION}); upgrade Lifeboat`);
  }
  return m;
}
