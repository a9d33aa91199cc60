// The scratch database a table restore works in: the table's closure restored alone, on the
// target's server. The plan restores the definitions there to compare them with the live
// database; a real run keeps that database and loads the rows into it (restore-tables.ts), so
// the definitions are restored once and one scratch database is made instead of two.
import { randomBytes } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { PgTools } from '../postgres/binaries.ts';
import { connect, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import type { TocEntry } from '../postgres/dump-index.ts';
import { runTool } from '../postgres/dump.ts';
import { ident } from '../postgres/introspect.ts';
import type { RestoreContext } from './restore-context.ts';
import { useList, type TableClosure } from './restore-table-closure.ts';
import { releaseScratchDatabase, trackScratchDatabase } from './resources.ts';

/** A scratch database on the target's server, dropped by `drop`. */
export interface ScratchDatabase {
  name: string;
  endpoint: PgEndpoint;
  drop(): Promise<void>;
}

/** A scratch database on the target's server, recorded (resources.ts) before it exists. */
export async function scratchDatabase(server: PgEndpoint, encoding: string, purpose: string): Promise<ScratchDatabase> {
  const name = `lifeboat_${purpose}_${randomBytes(4).toString('hex')}`;
  const admin = await connect(server);
  trackScratchDatabase(server, name); // before it exists: a kill leaves it recorded
  try {
    await admin.query(`create database ${ident(name)} template template0 encoding '${encoding.replaceAll("'", "''")}'`);
  } catch (err) {
    releaseScratchDatabase(name);
    throw err;
  } finally {
    await admin.end().catch(() => undefined);
  }
  return {
    name,
    endpoint: withDatabase(server, name),
    drop: async () => {
      const c = await connect(server);
      await c.query(`drop database if exists ${ident(name)} with (force)`).finally(() => c.end().catch(() => undefined));
      releaseScratchDatabase(name);
    },
  };
}

/** Entries to restore into a scratch database: the definitions only, or with rows. */
export function scratchIds(closures: TableClosure[], options: { rows: boolean; acl: boolean }): Set<number> {
  const ids = new Set<number>();
  for (const c of closures) {
    for (const e of [...c.tree, ...c.members, ...c.needs, ...c.needExtras]) {
      if (!options.rows && (e.desc === 'TABLE DATA' || e.desc === 'SEQUENCE SET')) continue;
      if (!options.acl && e.desc === 'ACL') continue;
      ids.add(e.dumpId);
    }
  }
  return ids;
}

/**
 * What a plan whose scratch database is kept for the rows leaves out of its definitions, so the
 * rows load as pg_restore loads them: before the table's triggers (which would fire on them),
 * row security (which would filter them) and plain indexes (cheaper built once, afterwards).
 * The plan needs none of them: it compares columns, constraints and the needed objects, and
 * takes the index names from the dump's TOC. Comments and labels on them wait with them.
 */
const LOADED_WITH_ROWS = new Set(['INDEX', 'INDEX ATTACH', 'TRIGGER', 'POLICY', 'ROW SECURITY', 'STATISTICS']);

/** The plan's definitions: `scratchIds` without rows and grants, and, when kept for the rows, without what loads with them. */
export function definitionIds(closures: TableClosure[], keep: boolean): Set<number> {
  const ids = scratchIds(closures, { rows: false, acl: false });
  if (!keep) return ids;
  const entries = closures.flatMap((c) => [...c.tree, ...c.members, ...c.needs, ...c.needExtras]);
  const held = new Set(entries.filter((e) => LOADED_WITH_ROWS.has(e.desc)).map((e) => e.dumpId));
  for (const e of entries) if (held.has(e.dumpId) || e.deps.some((d) => held.has(d))) ids.delete(e.dumpId);
  return ids;
}

/**
 * Whether rows can load into a scratch database that already has the definitions: not when a
 * check of the table was added NOT VALID (pg_dump adds it after the rows, which it never
 * checks; loaded after it, the rows would be).
 */
export function rowsLoadAfterDefinitions(closures: TableClosure[]): boolean {
  return !closures.some((c) => c.members.some((e) => e.desc === 'CHECK CONSTRAINT' || (e.desc === 'CONSTRAINT' && /\bNOT VALID\s*;?\s*$/.test(e.definition))));
}

/** Restores the given entries of a dump into a database; pg_restore stops at the first error. */
export async function restoreEntries(tools: PgTools, dump: string, entries: TocEntry[], ids: Set<number>, endpoint: PgEndpoint, options: { noOwner: boolean; schemaOnly?: boolean; singleTransaction?: boolean }, signal: AbortSignal): Promise<void> {
  const list = path.join(path.dirname(dump), `list-${randomBytes(4).toString('hex')}.txt`);
  await writeFile(list, useList(entries, ids));
  const args = ['--dbname', endpoint.url, '--exit-on-error', '--no-password', '--use-list', list];
  if (options.noOwner) args.push('--no-owner', '--no-acl');
  if (options.schemaOnly) args.push('--schema-only');
  if (options.singleTransaction) args.push('--single-transaction');
  try {
    const run = runTool(tools.pgRestore, [...args, dump], endpoint, signal);
    run.stdout.resume();
    await run.done;
  } finally {
    await rm(list, { force: true });
  }
}

/**
 * Creates a scratch database and restores the given definitions into it while the caller goes
 * on (the rest of the plan, reading the bundle); `cleanup` runs once it has settled.
 */
export function prepareScratch(tools: PgTools, server: PgEndpoint, encoding: string, toc: { file: string; entries: TocEntry[] }, ids: Set<number>, owners: boolean, cleanup: () => Promise<void>): Promise<ScratchDatabase> {
  const ready = (async () => {
    try {
      const scratch = await scratchDatabase(server, encoding, 'tables');
      try {
        await restoreEntries(tools, toc.file, toc.entries, ids, scratch.endpoint, { noOwner: !owners, schemaOnly: true }, new AbortController().signal);
        return scratch;
      } catch (err) {
        await scratch.drop().catch(() => undefined);
        throw err;
      }
    } finally {
      await cleanup();
    }
  })();
  ready.catch(() => undefined); // awaited by the run, or by releasePlanScratch
  return ready;
}

/** A plan's scratch database, kept for the run that follows it. */
export interface PlanScratch {
  /** The database with the definitions restored; rejects when they could not be (the run then makes its own). */
  ready: Promise<ScratchDatabase>;
  /** The database the tables go to. */
  database: string;
  /** Entries the plan restored there. */
  restored: Set<number>;
  /** Whether they were restored with their owners (a run with --no-owner restores none). */
  owners: boolean;
  /** The dump's header and TOC the plan read them from, unchecked: the run uses them only if the checked dump starts with the same bytes. */
  toc: Buffer;
}

const kept = new WeakMap<RestoreContext, PlanScratch>();

/** Keeps a plan's scratch database for the run; `releasePlanScratch` drops it if nothing took it. */
export function keepPlanScratch(ctx: RestoreContext, held: PlanScratch): void {
  kept.set(ctx, held);
}

/** The plan's scratch database, now the caller's to drop; undefined when the plan kept none. */
export function takePlanScratch(ctx: RestoreContext): PlanScratch | undefined {
  const held = kept.get(ctx);
  kept.delete(ctx);
  return held;
}

/** Drops a plan's scratch database that no run took (a dry run, a refusal, a failure before the tables). */
export async function releasePlanScratch(ctx: RestoreContext): Promise<void> {
  await takePlanScratch(ctx)?.ready.then((s) => s.drop()).catch(() => undefined);
}

/**
 * Whether a dump file starts with the bytes the plan read its definitions from: the plan reads
 * the TOC before the bundle's checksums are checked, the run only after.
 */
export async function startsWith(file: string, bytes: Buffer): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(bytes.length);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return bytesRead === bytes.length && head.equals(bytes);
  } finally {
    await fh.close();
  }
}
