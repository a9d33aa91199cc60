import type { Manifest } from '../bundle/manifest.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.ts';

export type ContentKind = 'database' | 'table' | 'file' | 'workflow' | 'credential' | 'migration';
export const CONTENT_KINDS: readonly ContentKind[] = ['database', 'table', 'file', 'workflow', 'credential', 'migration'];

/** One thing a backup holds, as its manifest records it (the bundle is never opened). */
export type ContentEntry =
  | { kind: 'database'; name: string; dumpSize: number; tables: number; extensions: string[] }
  | { kind: 'table'; name: string; database: string; schema: string; table: string; rows: number | null; columns: number; dataExcluded: boolean }
  | { kind: 'file'; name: string; set: string; path: string; type: 'file' | 'directory' | 'symlink'; size: number; mode: string; mtime: string }
  | { kind: 'workflow'; name: string; id: string; database: string | null; active: boolean | null; tags: string[]; nodes: number | null; updatedAt: string | null }
  /** Names and types only: a credential's data is never in the manifest, and never here. */
  | { kind: 'credential'; name: string; id: string; database: string | null; type: string | null; updatedAt: string | null }
  | { kind: 'migration'; name: string; appliedAt: string | null };

export interface ContentQuery {
  /** Case-insensitive text in a name, path, id, schema or tag. */
  q?: string;
  kind?: ContentKind;
  /** 1 to 200; default 50. */
  limit?: number;
  cursor?: string;
}

export interface ContentPage {
  backupId: string;
  profile: string;
  items: ContentEntry[];
  nextCursor: string | null;
  /** Matches of every kind, before `kind` narrows them: what a UI shows on its tabs. */
  counts: Record<ContentKind, number>;
  total: number;
}

/**
 * Everything a manifest lists, in the order `lifeboat contents` prints it: databases with their
 * tables, files, app items (workflows, credentials), migrations.
 */
export function contentEntries(m: Manifest): ContentEntry[] {
  const out: ContentEntry[] = [];
  for (const d of m.postgres?.databases ?? []) {
    out.push({ kind: 'database', name: d.name, dumpSize: d.dumpSize, tables: d.tables.length, extensions: d.extensions.map((e) => `${e.name} ${e.version}`) });
    for (const t of d.tables) {
      out.push({ kind: 'table', name: `${t.schema}.${t.name}`, database: d.name, schema: t.schema, table: t.name, rows: t.rows, columns: t.columns.length, dataExcluded: t.dataExcluded === true });
    }
  }
  for (const f of m.files) out.push({ kind: 'file', name: f.path, set: f.set, path: f.path, type: f.type, size: f.size, mode: f.mode.toString(8), mtime: f.mtime });
  for (const i of m.app.items) {
    const details = i.details ?? {};
    if (i.kind === 'workflow') {
      out.push({
        kind: 'workflow', name: i.name, id: i.id, database: i.database ?? null,
        active: typeof details.active === 'boolean' ? details.active : null,
        tags: Array.isArray(details.tags) ? details.tags.filter((t): t is string => typeof t === 'string') : [],
        nodes: typeof details.nodes === 'number' ? details.nodes : null, updatedAt: i.updatedAt ?? null,
      });
    } else if (i.kind === 'credential') {
      // Only these fields, whatever a profile may one day add to details.
      out.push({ kind: 'credential', name: i.name, id: i.id, database: i.database ?? null, type: typeof details.type === 'string' ? details.type : null, updatedAt: i.updatedAt ?? null });
    }
  }
  for (const mg of m.app.migrations ?? []) out.push({ kind: 'migration', name: mg.name, appliedAt: mg.appliedAt ?? null });
  return out;
}

function matches(e: ContentEntry, needle: string): boolean {
  const fields: string[] = [e.name];
  if (e.kind === 'table') fields.push(e.database, e.table);
  if (e.kind === 'file') fields.push(e.set);
  if (e.kind === 'workflow') fields.push(e.id, ...e.tags);
  if (e.kind === 'credential') fields.push(e.id, e.type ?? '');
  return fields.some((f) => f.toLowerCase().includes(needle));
}

/**
 * Searches what a backup holds (its manifest, from the catalog): `GET /api/v1/backups/:id/contents`.
 * `backupId` may be a unique prefix. E_NOT_FOUND when the backup has no manifest (failed, running).
 */
export function searchContents(catalog: Catalog, backupId: string, query: ContentQuery = {}): ContentPage {
  const b = catalog.resolveBackup(backupId);
  const m = catalog.getManifest(b.id);
  if (!m) throw new LifeboatError('E_NOT_FOUND', `backup ${b.id} has no contents: it ${b.status === 'failed' ? `failed (${b.error ?? 'unknown error'})` : 'is not complete'}`);
  if (query.kind !== undefined && !CONTENT_KINDS.includes(query.kind)) throw new LifeboatError('E_USAGE', `kind "${String(query.kind)}": use one of ${CONTENT_KINDS.join(', ')}`);
  const limit = pageLimit(query.limit);
  const needle = query.q?.trim().toLowerCase() ?? '';
  const found = contentEntries(m).filter((e) => !needle || matches(e, needle));
  const counts = Object.fromEntries(CONTENT_KINDS.map((k) => [k, 0])) as Record<ContentKind, number>;
  for (const e of found) counts[e.kind]++;
  const selected = query.kind ? found.filter((e) => e.kind === query.kind) : found;
  // A manifest never changes: an offset is a stable position. The listing names the search, so
  // a cursor is only good for the question it came from.
  const listing = `contents:${b.id}:${query.kind ?? ''}:${needle}`;
  const start = query.cursor === undefined ? 0 : (decodeCursor(listing, query.cursor, ['number'])[0] as number);
  const items = selected.slice(start, start + limit);
  const next = start + limit;
  return { backupId: b.id, profile: m.app.profile, items, nextCursor: next < selected.length ? encodeCursor(listing, [next]) : null, counts, total: selected.length };
}
