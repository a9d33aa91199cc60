// The one transaction that puts restored tables in place. Everything before it works on copies
// (a scratch database, a staging schema); here the live database changes, and all of it commits
// or none: the connection is the transaction, so a crash or kill -9 of Lifeboat rolls it back.
import type pg from 'pg';
import { LifeboatError } from '../errors.ts';
import { ident } from '../postgres/introspect.ts';
import { liveForeignKeys, liveTree, type LiveForeignKey, type TreeRelation } from './restore-table-checks.ts';
import type { TableRef } from './restore-table-closure.ts';

/** A table whose live rows are replaced by the staged copy of the same name. */
export interface ReplaceItem {
  ref: TableRef;
  /** Rows each relation of the tree must hold after the load, by name (the backup's counts). */
  expected: Map<string, number>;
}

/** A table moved from the staging schema into its own, already under its final names. */
export interface MoveItem {
  ref: TableRef;
  /** Its final name, and its partitions'. */
  tables: string[];
  expected: Map<string, number>;
  /** Its outgoing foreign keys, added if its rows satisfy them. */
  foreignKeys: { name: string; definition: string }[];
}

export interface SwapResult {
  /** Per moved table, the foreign keys left out because the restored rows do not satisfy them. */
  skippedForeignKeys: Map<string, string[]>;
}

const q = (schema: string, name: string) => `${ident(schema)}.${ident(name)}`;

/**
 * In one transaction: moves the staged tables to their place, and replaces the rows of the live
 * ones. A replaced table keeps its definition, grants, dependent views and the foreign keys
 * that point at it; before a row changes, every foreign key from or to it is checked against
 * the staged rows, and a violation refuses naming the key. Foreign keys are dropped and added
 * back (PostgreSQL validates them again), user triggers are off meanwhile (the rows are the
 * backup's, not new writes), and each relation's row count must equal the backup's, or
 * nothing commits.
 */
export async function swapIn(client: pg.Client, staging: string, replace: ReplaceItem[], move: MoveItem[]): Promise<SwapResult> {
  const skippedForeignKeys = new Map<string, string[]>();
  await client.query('begin');
  try {
    for (const m of move) {
      for (const name of m.tables) await client.query(`alter table ${q(staging, name)} set schema ${ident(m.ref.schema)}`);
      const skipped: string[] = [];
      for (const fk of m.foreignKeys) {
        await client.query('savepoint fk');
        try {
          await client.query(`alter table ${q(m.ref.schema, m.tables[0]!)} add constraint ${ident(fk.name)} ${fk.definition}`);
        } catch (err) {
          await client.query('rollback to savepoint fk');
          skipped.push(`${fk.name}: ${(err as Error).message}`);
        }
      }
      skippedForeignKeys.set(`${m.ref.schema}.${m.tables[0]}`, skipped);
    }
    if (replace.length) await replaceRows(client, staging, replace);
    for (const m of [...replace.map((r) => ({ schema: r.ref.schema, expected: r.expected })), ...move.map((m) => ({ schema: m.ref.schema, expected: m.expected }))]) {
      const wrong: string[] = [];
      for (const [name, rows] of m.expected) {
        const { rows: r } = await client.query<{ n: string }>(`select count(*) as n from only ${q(m.schema, name)}`);
        if (Number(r[0]!.n) !== rows) wrong.push(`${m.schema}.${name}: ${r[0]!.n} rows, the backup has ${rows}`);
      }
      if (wrong.length) throw new LifeboatError('E_RESTORE_FAILED', `the loaded rows do not match the backup: ${wrong.join('; ')}`);
    }
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
  return { skippedForeignKeys };
}

async function replaceRows(client: pg.Client, staging: string, replace: ReplaceItem[]): Promise<void> {
  const trees = new Map<string, TreeRelation[]>();
  for (const r of replace) trees.set(`${r.ref.schema}.${r.ref.name}`, await liveTree(client, r.ref));
  const roots = replace.map((r) => trees.get(`${r.ref.schema}.${r.ref.name}`)![0]!);
  // Partitions are locked with their parent; writers wait from here to the commit.
  await client.query(`lock table ${roots.map((t) => q(t.schema, t.name)).join(', ')} in access exclusive mode`);
  const all = [...trees.values()].flat();
  const oids = all.map((t) => t.oid);
  const fks = await liveForeignKeys(client, oids);
  // A partition restored alone: its ancestors' other partitions keep their rows.
  const ancestors = new Map<number, TreeRelation>();
  for (const root of roots) {
    const { rows } = await client.query<{ oid: number }>('select relid::int as oid from pg_partition_ancestors($1::oid) where relid <> $1::oid', [root.oid]);
    for (const a of rows) ancestors.set(a.oid, root);
  }
  const rowsOf = (rel: { oid: number; schema: string; name: string }, cols: string[]) => {
    const list = cols.map(ident).join(', ');
    if (oids.includes(rel.oid)) return `select ${list} from ${q(staging, rel.name)}`;
    const root = ancestors.get(rel.oid);
    if (root) return `select ${list} from ${q(rel.schema, rel.name)} where tableoid <> all('{${oids.join(',')}}'::oid[]) union all select ${list} from ${q(staging, root.name)}`;
    return `select ${list} from ${q(rel.schema, rel.name)}`;
  };
  for (const fk of fks) await checkForeignKey(client, fk, rowsOf, oids);

  for (const fk of fks) await client.query(`alter table ${q(fk.table.schema, fk.table.name)} drop constraint ${ident(fk.name)}`);
  const triggers = (await client.query<{ rel: string; name: string; enabled: string }>(
    "select tgrelid::regclass::text as rel, tgname as name, tgenabled::text as enabled from pg_trigger where tgrelid = any($1::oid[]) and not tgisinternal and tgenabled <> 'D' order by tgparentid <> 0, 1, 2",
    [oids],
  )).rows;
  for (const t of triggers) await client.query(`alter table ${t.rel} disable trigger ${ident(t.name)}`);
  await client.query(`truncate ${roots.map((t) => q(t.schema, t.name)).join(', ')}`);
  for (const root of roots) {
    const { rows } = await client.query<{ name: string }>("select attname as name from pg_attribute where attrelid = $1::oid and attnum > 0 and not attisdropped and attgenerated = '' order by attnum", [root.oid]);
    const cols = rows.map((r) => ident(r.name)).join(', ');
    await client.query(`insert into ${q(root.schema, root.name)} (${cols}) overriding system value select ${cols} from ${q(staging, root.name)}`);
  }
  // The owned sequences go back to the backup's values, with the rows they numbered.
  const sequences = await client.query<{ schema: string; name: string }>(
    `select distinct n.nspname as schema, s.relname as name from pg_depend d join pg_class s on s.oid = d.objid join pg_namespace n on n.oid = s.relnamespace
      where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjid = any($1::oid[]) and s.relkind = 'S' and d.deptype in ('a', 'i')`,
    [oids],
  );
  for (const s of sequences.rows) {
    await client.query(`select setval($1::regclass, last_value, is_called) from ${q(staging, s.name)}`, [q(s.schema, s.name)]);
  }
  for (const fk of fks) await client.query(`alter table ${q(fk.table.schema, fk.table.name)} add constraint ${ident(fk.name)} ${fk.definition}`);
  for (const t of triggers) {
    const how = t.enabled === 'R' ? 'enable replica' : t.enabled === 'A' ? 'enable always' : 'enable';
    await client.query(`alter table ${t.rel} ${how} trigger ${ident(t.name)}`);
  }
}

/** Refuses, before any row changes, when the restored rows and the live ones would break a foreign key. */
async function checkForeignKey(client: pg.Client, fk: LiveForeignKey, rowsOf: (rel: LiveForeignKey['table'], cols: string[]) => string, oids: number[]): Promise<void> {
  const match = fk.columns.map((c, i) => `p.${ident(fk.referencedColumns[i]!)} = c.${ident(c)}`).join(' and ');
  const present = fk.columns.map((c) => `c.${ident(c)} is not null`).join(' and ');
  const { rows } = await client.query<{ n: string }>(
    `select count(*) as n from (${rowsOf(fk.table, fk.columns)}) c where ${present} and not exists (select 1 from (${rowsOf(fk.references, fk.referencedColumns)}) p where ${match})`,
  );
  const n = Number(rows[0]!.n);
  if (n === 0) return;
  const table = `${fk.table.schema}.${fk.table.name}`;
  const references = `${fk.references.schema}.${fk.references.name}`;
  const outgoing = oids.includes(fk.table.oid);
  throw new LifeboatError(
    'E_RESTORE_CHECK',
    outgoing
      ? `restored rows would break foreign key ${fk.name}: ${n} row(s) of ${table} in the backup reference rows of ${references} that the database no longer has; nothing was changed`
      : `restored rows would break foreign key ${fk.name}: ${n} row(s) of ${table} reference rows of ${references} that the backup does not have; nothing was changed`,
    { hint: outgoing ? `restore ${references} too (another --table), or restore beside with --rename-to` : `restore ${table} too (another --table), remove those rows first, or restore beside with --rename-to` },
  );
}
