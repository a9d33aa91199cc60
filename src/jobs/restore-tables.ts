// Restore of single tables into a live database: the table with its closure (partitions,
// what it needs) is restored alone into a scratch database and checked, staged beside the live
// table, and put in place in one transaction (restore-table-swap.ts).
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { DatabaseManifest } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { readTocWithLength, type TocEntry } from '../postgres/dump-index.ts';
import { runTool } from '../postgres/dump.ts';
import { ident } from '../postgres/introspect.ts';
import type { Job } from './job.ts';
import { trackStagingSchema } from './resources.ts';
import { compareNeeds, compareTree, liveTree, renamed, treeObjectNames } from './restore-table-checks.ts';
import { entryName, foreignKeyDefinition, tableClosure, type TableClosure, type TableRef } from './restore-table-closure.ts';
import { treeRows } from './restore-table-plan.ts';
import { restoreEntries, scratchDatabase, scratchIds, startsWith, type PlanScratch, type ScratchDatabase } from './restore-table-scratch.ts';
import { swapIn, type MoveItem, type ReplaceItem } from './restore-table-swap.ts';

export type { TableRef } from './restore-table-closure.ts';

/** `schema.table`, or `table` in public. */
export function parseTableRef(s: string): TableRef {
  const dot = s.indexOf('.');
  return dot > 0 ? { schema: s.slice(0, dot), name: s.slice(dot + 1) } : { schema: 'public', name: s };
}

export const tableName = (t: TableRef) => `${t.schema}.${t.name}`;

/** The manifest's tables that the refs name; unknown ones are refused with close matches. */
export function selectTables(db: DatabaseManifest, refs: string[]): DatabaseManifest['tables'] {
  return refs.map((raw) => {
    const ref = parseTableRef(raw);
    const found = db.tables.find((t) => t.schema === ref.schema && t.name === ref.name);
    if (found) return found;
    const near = db.tables.filter((t) => t.name.includes(ref.name) || ref.name.includes(t.name) || t.name.startsWith(ref.name.slice(0, 3))).map(tableName);
    throw new LifeboatError('E_NOT_FOUND', `database ${db.name} in the backup has no table ${tableName(ref)}`, {
      hint: `${near.length ? 'close matches' : 'tables in it'}: ${(near.length ? near : db.tables.map(tableName)).slice(0, 8).join(', ')}`,
    });
  });
}

export interface TableRestoreResult {
  table: string;
  restoredAs: string;
  /** Rows restored, its partitions' included. */
  rows: number;
  /** Foreign keys that could not be added back (their rows do not match), with why. */
  skippedForeignKeys: string[];
  /** Objects the table needs that the database lacked and the restore created (types, functions, sequences, ...). */
  created: string[];
}

/** The header and table of contents of a dump file, read without reading its data. */
async function tocOfFile(file: string): Promise<TocEntry[]> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    for (let want = 256 * 1024; ; want *= 4) {
      const buf = Buffer.alloc(Math.min(want, size));
      await fh.read(buf, 0, buf.length, 0);
      const toc = readTocWithLength(buf);
      if (toc) return toc.entries;
      if (buf.length >= size) throw new LifeboatError('E_BUNDLE_CORRUPT', `${path.basename(file)} has no table of contents this version reads`);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Restores tables into a live database. Each table, with its partitions, indexes, constraints,
 * triggers, policies, owned sequences and the objects it needs, is restored alone into a scratch
 * database and its row counts checked against the manifest; needed objects are compared with
 * the database's (a difference refuses). The tables then go to a staging schema of the target
 * and, in one transaction, either replace the live tables' rows or move beside them under
 * their new names. Objects the database lacks are created first, in their own transaction.
 * With `planned`, the plan's scratch database (its definitions restored there) takes the rows.
 */
export async function restoreTables(
  server: PgEndpoint,
  database: string,
  tools: PgTools,
  m: DatabaseManifest,
  tables: DatabaseManifest['tables'],
  dump: string,
  job: Job,
  options: { renameTo?: string; noOwner?: boolean; planned?: PlanScratch },
): Promise<TableRestoreResult[]> {
  const signal = job.signal;
  const noOwner = options.noOwner ?? false;
  const entries = await tocOfFile(dump);
  const closures = tables.map((t) => tableClosure(entries, t));
  const suffix = randomBytes(4).toString('hex');
  const staging = `lifeboat_staging_${suffix}`;
  const target = await connect(withDatabase(server, database));
  let scratch: ScratchDatabase | undefined;
  let scratchClient: pg.Client | undefined;
  let stagingRecord: ReturnType<typeof trackStagingSchema> | undefined;
  const created: string[] = [];
  try {
    const ids = scratchIds(closures, { rows: true, acl: !noOwner });
    // The plan's definitions came from the TOC it read before any checksum was checked: used
    // only if the checked dump starts with the same bytes, and restored the way this run restores.
    const planned = options.planned;
    scratch = await planned?.ready.catch(() => undefined);
    const reuse = planned !== undefined && scratch !== undefined && planned.database === database && planned.owners === !noOwner && (await startsWith(dump, planned.toc));
    if (scratch && !reuse) {
      const unused = scratch;
      scratch = undefined;
      await unused.drop().catch(() => undefined);
    }
    if (reuse) for (const id of planned.restored) ids.delete(id);
    scratch ??= await scratchDatabase(server, m.encoding, 'tables');
    job.log('info', `restoring ${tables.map(tableName).join(', ')} with ${closures.reduce((n, c) => n + c.tree.length - 1, 0)} partition(s) and ${closures.reduce((n, c) => n + c.needs.length, 0)} object(s) they need alone into scratch database ${scratch.name}${reuse ? ', where the plan restored their definitions' : ''}`);
    await restoreEntries(tools, dump, entries, ids, scratch.endpoint, { noOwner }, signal);
    scratchClient = await connect(scratch.endpoint);
    await checkScratchCounts(scratchClient, m, closures);

    const needs = uniqueNeeds(closures);
    const statuses = await compareNeeds(scratchClient, target, needs);
    const differs = statuses.filter((s) => s.action === 'differs');
    if (differs.length) throw new LifeboatError('E_RESTORE_CHECK', `the database has other definitions of what the tables need: ${differs.map((d) => `${d.kind} ${d.name}: ${d.detail}`).join('; ')}; nothing was changed`);

    await scratchClient.query(`create schema ${ident(staging)}`);
    const replace: ReplaceItem[] = [];
    const move: MoveItem[] = [];
    for (const [i, t] of tables.entries()) {
      const c = closures[i]!;
      // A partitioned table holds no rows of its own: its partitions are counted.
      const expected = (names: (n: string) => string) => new Map(c.tree.flatMap((x): [string, number][] => {
        const rows = m.tables.find((y) => y.schema === x.schema && y.name === x.tag)?.rows;
        return rows === null || rows === undefined ? [] : [[names(x.tag), rows]];
      }));
      const live = await liveTree(target, t);
      if (!options.renameTo && live.length) {
        const diffs = await compareTree(scratchClient, target, t);
        if (diffs.length) throw new LifeboatError('E_RESTORE_CHECK', `${tableName(t)} differs from the backup, its rows cannot replace the live ones: ${diffs.join('; ')}; nothing was changed`);
        for (const x of c.tree) await scratchClient.query(`alter table ${ident(x.schema)}.${ident(x.tag)} set schema ${ident(staging)}`);
        replace.push({ ref: t, expected: expected((n) => n) });
        continue;
      }
      const newName = options.renameTo ?? t.name;
      const rename = (n: string) => renamed(n, t.name, newName);
      const names = await treeObjectNames(scratchClient, t);
      for (const x of c.tree) await scratchClient.query(`alter table ${ident(x.schema)}.${ident(x.tag)} set schema ${ident(staging)}`);
      // Index and sequence names are unique per schema: the copy's take its new name as prefix.
      for (const n of names.indexes) if (rename(n) !== n) await scratchClient.query(`alter index ${ident(staging)}.${ident(n)} rename to ${ident(rename(n))}`);
      for (const n of names.sequences) if (rename(n) !== n) await scratchClient.query(`alter sequence ${ident(staging)}.${ident(n)} rename to ${ident(rename(n))}`);
      for (const n of names.tables) if (rename(n) !== n) await scratchClient.query(`alter table ${ident(staging)}.${ident(n)} rename to ${ident(rename(n))}`);
      const foreignKeys = c.foreignKeys.flatMap((e) => {
        const fk = foreignKeyDefinition(e);
        const owner = c.tree.find((x) => e.tag.startsWith(`${x.tag} `));
        return fk && owner === c.table ? [{ name: rename(fk.name), definition: fk.definition }] : [];
      });
      move.push({ ref: t, tables: names.tables.map(rename), expected: expected(rename), foreignKeys });
    }
    const missing = needs.filter((e, k) => statuses[k]!.action === 'create');
    if (missing.length) {
      const ids = new Set(missing.map((e) => e.dumpId));
      for (const c of closures) for (const e of c.needExtras) if (e.deps.every((d) => ids.has(d)) && (!noOwner || e.desc !== 'ACL')) ids.add(e.dumpId);
      await restoreEntries(tools, dump, entries, ids, withDatabase(server, database), { noOwner, singleTransaction: true }, signal);
      created.push(...missing.map((e) => `${e.desc.toLowerCase()} ${entryName(e)}`));
      job.log('info', `created what ${database} lacked: ${created.join(', ')}`);
    }
    job.log('info', `staging the restored rows in schema ${staging} of ${database}`);
    stagingRecord = trackStagingSchema(server, database, staging); // before pg_restore makes it: a kill leaves it recorded
    await copySchema(tools, scratch.endpoint, withDatabase(server, database), staging, noOwner, signal);

    job.log('info', `putting ${tables.map(tableName).join(', ')} in place in one transaction`);
    const swapped = await swapIn(target, staging, replace, move);
    const results = tables.map((t, i): TableRestoreResult => {
      const moved = move.find((x) => x.ref === t);
      const as = moved ? `${t.schema}.${moved.tables[0]}` : tableName(t);
      return { table: tableName(t), restoredAs: as, rows: treeRows(m, closures[i]!).reduce((n, r) => n + r.rows, 0), skippedForeignKeys: swapped.skippedForeignKeys.get(as) ?? [], created };
    });
    for (const r of results) job.log('info', `restored ${r.table} as ${r.restoredAs}: ${r.rows} rows${r.skippedForeignKeys.length ? `; foreign keys not added: ${r.skippedForeignKeys.join('; ')}` : ''}`);
    return results;
  } catch (err) {
    const e = asLifeboatError(err, 'E_RESTORE_FAILED');
    const left = created.length ? `; created beforehand and left in place: ${created.join(', ')}` : '';
    const message = e.code === 'E_RESTORE_CHECK' || /nothing was changed/.test(e.message) ? e.message : `restoring the tables failed, the live tables were not changed: ${e.message}`;
    throw new LifeboatError(e.code === 'E_ABORTED' ? 'E_ABORTED' : e.code === 'E_RESTORE_CHECK' ? 'E_RESTORE_CHECK' : 'E_RESTORE_FAILED', message + left, { cause: err, hint: e.hint });
  } finally {
    await target.query(`drop schema if exists ${ident(staging)} cascade`).then(() => stagingRecord?.release(), () => undefined);
    await target.end().catch(() => undefined);
    await scratchClient?.end().catch(() => undefined);
    await scratch?.drop().catch(() => undefined);
  }
}

/**
 * Copies a schema from one database to another on the same server: pg_dump's custom format
 * piped into pg_restore, which reads it in the order it is written, so neither waits for the
 * other nor for a file. The first tool to fail for a reason of its own is the one reported.
 */
async function copySchema(tools: PgTools, from: PgEndpoint, to: PgEndpoint, schema: string, noOwner: boolean, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const dump = runTool(tools.pgDump, ['--format=custom', '--compress=0', '--no-password', `--schema=${schema}`, `--dbname=${from.url}`], from, stop.signal);
    const load = runTool(tools.pgRestore, ['--dbname', to.url, '--exit-on-error', '--no-password', ...(noOwner ? ['--no-owner', '--no-acl'] : [])], to, signal, { input: true });
    let dumpFailedFirst = false;
    dump.done.catch(() => {
      dumpFailedFirst = !stop.signal.aborted;
    });
    // A pg_restore that stopped reads no more: pg_dump would wait on a full pipe.
    load.done.catch(() => stop.abort());
    dump.stdout.pipe(load.stdin!);
    load.stdout.resume();
    const [dumped, loaded] = await Promise.allSettled([dump.done, load.done]);
    if (dumped.status === 'rejected' && dumpFailedFirst) throw dumped.reason;
    if (loaded.status === 'rejected') throw loaded.reason;
    if (dumped.status === 'rejected') throw dumped.reason;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Each needed object once, in the dump's order, over all the tables restored. */
function uniqueNeeds(closures: TableClosure[]): TocEntry[] {
  const seen = new Map<number, TocEntry>();
  for (const c of closures) for (const e of c.needs) seen.set(e.dumpId, e);
  return [...seen.values()].sort((a, b) => a.dumpId - b.dumpId);
}

/** Row counts in the scratch copy against the backup's, table by table, partitions included. */
async function checkScratchCounts(client: pg.Client, m: DatabaseManifest, closures: TableClosure[]): Promise<void> {
  const wrong: string[] = [];
  for (const c of closures) {
    for (const t of c.tree) {
      const rows = m.tables.find((x) => x.schema === t.schema && x.name === t.tag)?.rows;
      if (rows === null || rows === undefined) continue;
      const { rows: r } = await client.query<{ n: string }>(`select count(*) as n from only ${ident(t.schema)}.${ident(t.tag)}`);
      if (Number(r[0]!.n) !== rows) wrong.push(`${entryName(t)}: ${r[0]!.n} rows, the backup's manifest says ${rows}`);
    }
  }
  if (wrong.length) throw new LifeboatError('E_RESTORE_FAILED', `the restored tables do not match the backup: ${wrong.join('; ')}; nothing was changed`);
}
