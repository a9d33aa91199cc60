// The plan of a table restore: the table's closure read from the dump's table of contents, and
// each part of it held against the live database. The table's definition is restored alone
// (no rows) into a scratch database first, so "identical" is a comparison of two catalogs; a real
// run keeps that database and loads the rows into it (restore-table-scratch.ts).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { keysFor, keysForBundle } from '../bundle/codec.ts';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { readBundle } from '../bundle/reader.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { connect, withDatabase } from '../postgres/connection.ts';
import { readTocWithLength, type TocEntry } from '../postgres/dump-index.ts';
import { serverVersion } from '../postgres/introspect.ts';
import type { RestoreContext } from './restore-context.ts';
import { createTempDir, removeTempDir } from './resources.ts';
import type { Check } from './restore-plan.ts';
import { restoreTools } from './restore-tools.ts';
import { closureNames, entryName, foreignKeyDefinition, tableClosure, taggedName, type TableClosure, type TableRef } from './restore-table-closure.ts';
import { compareNeeds, compareTree, dependentViews, liveForeignKeys, liveTree, objectSignature, renamed, type NeedStatus } from './restore-table-checks.ts';
import { definitionIds, keepPlanScratch, prepareScratch, restoreEntries, rowsLoadAfterDefinitions, scratchDatabase, type ScratchDatabase } from './restore-table-scratch.ts';

/** One --table in a plan. */
export interface PlannedTable {
  /** `schema.table` in the backup. */
  table: string;
  database: string;
  /** `replace`: the live table's rows are replaced; `create`: the database lacks it; `beside`: --rename-to. */
  action: 'replace' | 'create' | 'beside';
  /** `schema.table` it is restored as. */
  as: string;
  /** Rows restored, its partitions' included. */
  rows: number;
  /** What the table brings and needs; absent when the dump's table of contents could not be read. */
  closure?: PlannedClosure;
}

/** A table's closure as the plan shows it. */
export interface PlannedClosure {
  /** Partitions and sub-partitions, each restored with the table. */
  partitions: { table: string; as: string; rows: number }[];
  /** What comes with the table, counted by kind: `2 index`, `1 trigger`, `1 policy`, ... */
  with: string[];
  /** Objects outside the table it needs (types, domains, functions, sequences, schemas, extensions). */
  needs: NeedStatus[];
  /** Foreign keys from and to the table, and what the restore does with each. */
  foreignKeys: { name: string; table: string; references: string; direction: 'incoming' | 'outgoing'; handling: string }[];
  /** Views and materialized views reading the live table. */
  views: { name: string; kind: 'view' | 'materialized view'; handling: string }[];
}

/** A dump's table of contents, and the bytes that hold it: an archive pg_restore reads schema from. */
export interface DumpToc {
  entries: TocEntry[];
  bytes: Buffer;
}

/**
 * Reads the start of a database's dump from the bundle, up to the end of its table of
 * contents, and stops: the header, the TOC and the bundle members before the dump (a few KB).
 */
export async function readDumpToc(ctx: RestoreContext, db: DatabaseManifest): Promise<DumpToc> {
  const keys = keysForBundle(keysFor(ctx.loaded.config.targets[ctx.backup.target]?.encryption), ctx.manifest.encryption);
  const chunks: Buffer[] = [];
  let size = 0;
  let tryAt = db.dumpIndex?.tocLength ?? 64 * 1024;
  const attempt = () => {
    const bytes = Buffer.concat(chunks);
    const toc = readTocWithLength(bytes);
    return toc && { entries: toc.entries, bytes: bytes.subarray(0, toc.length) };
  };
  for await (const entry of readBundle(await ctx.storage.get(ctx.key), path.basename(ctx.key), keys)) {
    if (!db.dumpMembers.includes(entry.name)) continue;
    for await (const chunk of entry.stream) {
      chunks.push(chunk);
      size += chunk.length;
      if (size < tryAt) continue;
      const toc = attempt();
      if (toc) return toc;
      tryAt = size * 2;
    }
  }
  const toc = attempt();
  if (!toc) throw new LifeboatError('E_BUNDLE_CORRUPT', `the dump of ${db.name} has no table of contents this version reads`);
  return toc;
}

/** Rows of the tree's tables in the backup (a partitioned table holds none of its own). */
export function treeRows(m: DatabaseManifest, c: TableClosure): { table: string; rows: number }[] {
  return c.tree.map((t) => ({ table: entryName(t), rows: m.tables.find((x) => x.schema === t.schema && x.name === t.tag)?.rows ?? 0 }));
}

/**
 * What each --table does on the live database, with its closure; refusals become failed checks
 * that --force does not override: a needed object that differs in the database, a live table
 * whose partitions, columns or constraints differ, a --rename-to name (or one of its partitions',
 * indexes', sequences') that is taken.
 */
export async function planTables(ctx: RestoreContext, database: string, renameTo: string | undefined, checks: Check[], run: { dryRun?: boolean; noOwner?: boolean } = {}): Promise<PlannedTable[]> {
  const source = ctx.selected[0]!;
  const fallback = (): PlannedTable[] => ctx.selectedTables.map((t) => ({ table: `${t.schema}.${t.name}`, database, action: 'replace', as: `${t.schema}.${t.name}`, rows: t.rows ?? 0 }));
  let toc: DumpToc;
  for (;;) {
    try {
      toc = await readDumpToc(ctx, source);
      break;
    } catch (err) {
      const e = asLifeboatError(err);
      // A damaged or unreadable copy: the next copy, as the restore itself would.
      if (['E_BUNDLE_CORRUPT', 'E_STORAGE_READ', 'E_STORAGE_NOT_FOUND'].includes(e.code) && (await ctx.copies.fallBack(e.message))) {
        ({ storage: ctx.storage, key: ctx.key } = ctx.copies.current);
        continue;
      }
      checks.push({ name: 'table definitions', ok: false, detail: `cannot read the dump's table of contents: ${e.message}` });
      return fallback();
    }
  }
  const closures = ctx.selectedTables.map((t) => tableClosure(toc.entries, t));
  // A real run loads the rows into the scratch database the plan compares definitions in,
  // unless they are many: its primary and unique keys are built before the rows, not after
  // (1M rows: 2.0 s against 1.8-2.0 s, a cost that outgrows the ~0.5 s the reuse saves).
  const rows = closures.reduce((n, c) => n + treeRows(source, c).reduce((k, r) => k + r.rows, 0), 0);
  const keep = !run.dryRun && rows <= KEEP_MAX_ROWS && rowsLoadAfterDefinitions(closures);
  const target = await connect(withDatabase(ctx.server!, database));
  const dir = await createTempDir(ctx.loaded, 'lifeboat-plan-');
  let scratch: ScratchDatabase | undefined;
  let scratchClient: pg.Client | undefined;
  let kept = false;
  try {
    const version = await serverVersion(target);
    const tools = await restoreTools(version.major, Number(ctx.manifest.postgres!.pgDumpVersion.split('.')[0]), ctx.server);
    const tocFile = path.join(dir, 'toc.dump');
    await writeFile(tocFile, toc.bytes);
    try {
      if (await needsScratch(target, closures, renameTo)) scratch = await scratchDatabase(ctx.server!, source.encoding, 'plan');
    } catch (err) {
      checks.push({ name: 'table definitions', ok: false, detail: `cannot create a scratch database to compare the tables' definitions: ${asLifeboatError(err).message}` });
      return fallback();
    }
    const ids = definitionIds(closures, keep);
    // Kept for the rows, the definitions get the owners the run restores with; a failure
    // there (a role missing) is the run's to report, so the plan compares without them.
    let owners = keep && !run.noOwner;
    try {
      if (scratch) {
        try {
          await restoreEntries(tools, tocFile, toc.entries, ids, scratch.endpoint, { noOwner: !owners, schemaOnly: true }, new AbortController().signal);
        } catch (err) {
          if (!owners) throw err;
          owners = false;
          const failed = scratch;
          scratch = undefined;
          await failed.drop();
          scratch = await scratchDatabase(ctx.server!, source.encoding, 'plan');
          await restoreEntries(tools, tocFile, toc.entries, ids, scratch.endpoint, { noOwner: true, schemaOnly: true }, new AbortController().signal);
        }
        scratchClient = await connect(scratch.endpoint);
      }
    } catch (err) {
      checks.push({ name: 'table definitions', ok: false, detail: `the tables' definitions do not restore on their own in a scratch database: ${asLifeboatError(err).message}` });
      return fallback();
    }
    const planned: PlannedTable[] = [];
    for (const [i, t] of ctx.selectedTables.entries()) {
      planned.push(await planOne(ctx, t, closures[i]!, scratchClient, target, database, renameTo, checks));
    }
    if (keep) {
      // A plan that compared nothing through a scratch copy starts the run's now, so that it
      // is ready when the rows have been read out of the bundle.
      const ready = scratch ? Promise.resolve(scratch) : prepareScratch(tools, ctx.server!, source.encoding, { file: tocFile, entries: toc.entries }, ids, !run.noOwner, () => removeTempDir(dir));
      keepPlanScratch(ctx, { ready, database, restored: ids, owners: scratch ? owners : !run.noOwner, toc: toc.bytes });
      kept = true;
    }
    return planned;
  } finally {
    await scratchClient?.end().catch(() => undefined);
    if (!kept) await scratch?.drop().catch(() => undefined);
    await target.end().catch(() => undefined);
    if (!kept || scratch) await removeTempDir(dir); // else once the run's scratch copy is ready

  }
}

/** Rows up to which a real run loads them into the plan's scratch database (see planTables). */
const KEEP_MAX_ROWS = 1_000_000;

/** Kinds whose definitions are compared: only through a scratch copy's catalog. */
const COMPARED = new Set(['TYPE', 'DOMAIN', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'SEQUENCE']);

/**
 * Whether the plan needs the definitions restored into a scratch database: to compare a live
 * table with the backup's, or a needed object the database already has. Otherwise (a table
 * restored beside, whose needs are missing or only schemas) the dump's TOC says enough.
 */
async function needsScratch(target: pg.Client, closures: TableClosure[], renameTo: string | undefined): Promise<boolean> {
  for (const c of closures) {
    if (!renameTo && (await liveTree(target, { schema: c.table.schema, name: c.table.tag })).length) return true;
    for (const e of c.needs) if (COMPARED.has(e.desc) && (await objectSignature(target, e)) !== null) return true;
  }
  return false;
}

async function planOne(ctx: RestoreContext, t: TableRef, c: TableClosure, scratch: pg.Client | undefined, target: pg.Client, database: string, renameTo: string | undefined, checks: Check[]): Promise<PlannedTable> {
  const m = ctx.selected[0]!;
  const name = `${t.schema}.${t.name}`;
  const live = await liveTree(target, t);
  const action = renameTo ? 'beside' : live.length ? 'replace' : 'create';
  const newName = renameTo ?? t.name;
  const rows = treeRows(m, c);
  const partitions = rows.slice(1).map((r) => ({ table: r.table, as: `${t.schema}.${renamed(r.table.slice(t.schema.length + 1), t.name, newName)}`, rows: r.rows }));

  const needs = await compareNeeds(scratch, target, c.needs);
  for (const n of needs.filter((x) => x.action === 'differs')) {
    checks.push({ name: `${n.kind} ${n.name}`, ok: false, detail: `${name} needs it, and the database has another one: ${n.detail}; make them the same, or restore into another database with --to` });
  }
  const counts = new Map<string, number>();
  for (const e of c.members) if (!['TABLE DATA', 'SEQUENCE SET', 'SEQUENCE OWNED BY', 'TABLE ATTACH', 'INDEX ATTACH'].includes(e.desc)) counts.set(e.desc.toLowerCase(), (counts.get(e.desc.toLowerCase()) ?? 0) + 1);
  if (c.foreignKeys.length) counts.set('foreign key', c.foreignKeys.length);
  const withParts = [...counts].map(([kind, n]) => `${n} ${kind}`);

  const foreignKeys: PlannedClosure['foreignKeys'] = [];
  const views: PlannedClosure['views'] = [];
  if (action === 'replace') {
    const diffs = await compareTree(scratch!, target, t);
    checks.push({
      name: `table ${name}`, ok: diffs.length === 0,
      detail: diffs.length === 0 ? 'the live table has the backup\'s partitions, columns and constraints' : `differs from the backup, its rows cannot replace the live ones: ${diffs.slice(0, 3).join('; ')}${diffs.length > 3 ? `; and ${diffs.length - 3} more` : ''}`,
    });
    const oids = live.map((r) => r.oid);
    for (const fk of await liveForeignKeys(target, oids)) {
      const from = oids.includes(fk.table.oid);
      const to = oids.includes(fk.references.oid);
      foreignKeys.push({
        name: fk.name, table: `${fk.table.schema}.${fk.table.name}`, references: `${fk.references.schema}.${fk.references.name}`,
        direction: from && !to ? 'outgoing' : 'incoming',
        handling: from && !to ? 'restored rows checked against the live table before anything changes' : 'its rows checked against the restored rows before anything changes; dropped and added back in the same transaction',
      });
    }
    for (const v of await dependentViews(target, oids)) {
      views.push({ ...v, handling: v.kind === 'view' ? 'kept: it reads the restored rows' : `kept, not refreshed: run REFRESH MATERIALIZED VIEW ${v.name}` });
    }
    const owner = await target.query<{ table: string }>(
      `select format('%I.%I', n.nspname, c.relname) as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.oid = any($1::oid[]) and not pg_has_role(current_user, c.relowner, 'USAGE') order by 1`,
      [[...oids, ...(await liveForeignKeys(target, oids)).map((f) => f.table.oid)]],
    );
    if (owner.rows.length) {
      checks.push({ name: `ownership of ${name}`, ok: false, detail: `replacing rows in place alters ${owner.rows.map((r) => r.table).join(', ')}, which the restoring role does not own; connect as their owner or a superuser, or use --rename-to` });
    }
  } else {
    // From the dump's TOC: a scratch copy kept for the rows has no plain indexes yet.
    const names = closureNames(c);
    const wanted = [...names.tables, ...names.indexes, ...names.sequences].map((n) => renamed(n, t.name, newName));
    const taken = (await target.query<{ name: string }>(
      `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = any($2::text[]) order by 1`,
      [t.schema, wanted],
    )).rows.map((r) => r.name);
    checks.push({
      name: `table ${t.schema}.${newName}`, ok: taken.length === 0,
      detail: taken.length === 0 ? `free, with the names of its ${partitions.length} partition(s), ${names.indexes.length} index(es) and ${names.sequences.length} owned sequence(s)`
        : taken.includes(newName) ? `already exists; choose another --rename-to` : `names it needs are taken: ${taken.join(', ')}; choose another --rename-to`,
    });
    for (const e of c.foreignKeys) {
      const fk = foreignKeyDefinition(e);
      const owner = c.tree.find((x) => e.tag.startsWith(`${x.tag} `))!;
      foreignKeys.push({
        name: renamed(fk?.name ?? taggedName(e, owner.tag), t.name, newName), table: `${t.schema}.${renamed(owner.tag, t.name, newName)}`,
        references: /REFERENCES (\S+?)\(/.exec(fk?.definition ?? '')?.[1] ?? '?', direction: 'outgoing', handling: 'added if every restored row has its referenced row; otherwise left out and reported',
      });
    }
  }
  return {
    table: name, database, action, as: `${t.schema}.${newName}`, rows: rows.reduce((n, r) => n + r.rows, 0),
    closure: { partitions, with: withParts, needs, foreignKeys, views },
  };
}

/** The tables a table restore reads rows of: each planned table and its partitions. */
export function tablesToRead(tables: PlannedTable[]): TableRef[] {
  const refs: TableRef[] = [];
  for (const t of tables) {
    for (const name of [t.table, ...(t.closure?.partitions.map((p) => p.table) ?? [])]) {
      const dot = name.indexOf('.');
      refs.push({ schema: name.slice(0, dot), name: name.slice(dot + 1) });
    }
  }
  return refs;
}
