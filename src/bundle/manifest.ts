import type { z } from 'zod';
import { LifeboatError } from '../errors.ts';
import type { DatabaseInfo } from '../postgres/introspect.ts';
import type { DumpIndex } from '../postgres/dump-index.ts';
import type { AppItems } from '../profiles/profile.ts';
import { manifestSchema, type macSchema } from './manifest-schema.ts';

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
  /**
   * HMAC-SHA256 of the manifest's canonical bytes (mac.ts) with a key only the installation that
   * made the bundle holds. Absent in bundles made before authenticated bundles, and in forgeries.
   */
  mac?: ManifestMac;
  members: MemberRecord[];
}

/** Who vouches for a manifest: see mac.ts. */
export type ManifestMac = z.infer<typeof macSchema>;

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

/**
 * Reads a manifest from its JSON text and checks it against the schema (manifest-schema.ts).
 * `source` names where it came from (a bundle or its sidecar), for the message of
 * E_BUNDLE_CORRUPT, which also names the first field that is wrong.
 */
export function parseManifest(text: string, source: string): Manifest {
  return checkManifest(parseJson(text, source), source);
}

/** The JSON value of a manifest's text; E_BUNDLE_CORRUPT naming `source` when it is not JSON. */
export function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `${source}: the manifest is not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

/** Checks an already parsed manifest (see parseManifest). */
export function checkManifest(raw: unknown, source: string): Manifest {
  const head = (raw ?? {}) as { format?: unknown; formatVersion?: unknown };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || head.format !== MANIFEST_FORMAT) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `${source}: not a Lifeboat manifest (field format is not "${MANIFEST_FORMAT}")`);
  }
  if (typeof head.formatVersion === 'number' && head.formatVersion > MANIFEST_VERSION) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `${source}: manifest format ${head.formatVersion} is newer than this Lifeboat understands (${MANIFEST_VERSION})`, { hint: 'upgrade Lifeboat' });
  }
  const result = manifestSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problem(s))` : '';
  throw new LifeboatError('E_BUNDLE_CORRUPT', `${source}: malformed manifest: field ${fieldPath(issue.path)}: ${issue.message}${more}`, {
    hint: 'the bundle was damaged or not written by Lifeboat; verify it, or restore another backup',
  });
}

/** `postgres.databases[0].tables[2].name`, as a person reads a field's place. */
function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(the manifest itself)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}
