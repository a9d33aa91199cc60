// metadata/restore-index.tsv: what restore.sh needs from the manifest, in lines that bash reads
// with `read` alone (no jq, no Python on a bare machine). README.md, "Bundle format", documents
// the records; manifest.json vouches for this member by its sha256, like for any other.

import type { DatabaseManifest, FileRecord, MemberRecord } from '../manifest.ts';

/** The member's name in the bundle. */
export const RESTORE_INDEX_MEMBER = 'metadata/restore-index.tsv';

/** Bumped when a record changes meaning; restore.sh reads the records it knows. */
export const RESTORE_INDEX_VERSION = 1;

/** What the index is written from: the manifest's parts known before manifest.json is. */
export interface RestoreIndexInput {
  id: string;
  target: string;
  startedAt: string;
  postgres?: { serverVersion: string; pgDumpVersion: string; globals: boolean; databases: DatabaseManifest[] };
  files: FileRecord[];
  /** Every member written before the index (all of them but the index and manifest.json). */
  members: readonly MemberRecord[];
}

const TYPE = { file: 'f', directory: 'd', symlink: 'l' } as const;

/**
 * One field: "-" stands for empty (bash's `read` with a tab IFS merges empty fields), and `%`,
 * `\`, control characters and a lone "-" are written as %XX, which restore.sh turns back with
 * printf %b.
 */
export function field(value: string | number | undefined | null): string {
  const s = value === undefined || value === null ? '' : String(value);
  if (s === '') return '-';
  if (s === '-') return '%2D';
  // eslint-disable-next-line no-control-regex
  return s.replace(/[%\\\u0000-\u001f\u007f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

const line = (...fields: (string | number | undefined | null)[]) => fields.map(field).join('\t') + '\n';

/** The text of metadata/restore-index.tsv. */
export function restoreIndex(input: RestoreIndexInput): string {
  let out = `# Lifeboat restore index: one record per line, tab-separated; see README "Bundle format"\n`;
  out += line('index', RESTORE_INDEX_VERSION);
  const pg = input.postgres;
  out += line('bundle', input.id, input.target, input.startedAt, pg?.serverVersion, pg?.pgDumpVersion, pg?.globals ? 1 : 0);
  for (const m of input.members) out += line('member', m.name, m.size, m.sha256);
  for (const db of pg?.databases ?? []) {
    const rows = db.tables.reduce((n, t) => n + (t.rows ?? 0), 0);
    out += line('database', db.name, db.tables.length, rows, db.dumpSize, db.dumpSha256, db.dumpMembers.length);
    for (const member of db.dumpMembers) out += line('part', db.name, member);
    // A partitioned parent holds no rows of its own: "-", not checked.
    for (const t of db.tables) out += line('table', db.name, t.schema, t.name, t.kind === 'partitioned' ? null : (t.rows ?? 0));
    for (const role of db.owners ?? []) out += line('role', db.name, role, 'owner');
    for (const role of db.grantees ?? []) out += line('role', db.name, role, 'grantee');
  }
  const sets = new Map<string, { entries: number; files: number; bytes: number }>();
  for (const f of input.files) {
    const s = sets.get(f.set) ?? { entries: 0, files: 0, bytes: 0 };
    s.entries++;
    if (f.type === 'file') {
      s.files++;
      s.bytes += f.size;
    }
    sets.set(f.set, s);
  }
  for (const [set, s] of sets) out += line('fileset', set, s.entries, s.files, s.bytes);
  for (const f of input.files) {
    const ms = Date.parse(f.mtime);
    const mtime = `${Math.floor(ms / 1000)}.${String(((ms % 1000) + 1000) % 1000).padStart(3, '0')}`;
    out += line('file', f.set, TYPE[f.type], f.mode.toString(8), f.uid, f.gid, f.size, mtime, f.sha256, f.member, f.path, f.linkTarget);
  }
  return out;
}
