// Compares what a table restore needs with what the target database has, through the catalogs
// of two databases on one server: a scratch copy of the table's definition (from the dump) and
// the target. Catalog text (pg_get_functiondef, pg_get_constraintdef, format_type) is what makes
// "identical" decidable: the same object prints the same on both sides.
import type pg from 'pg';
import type { TocEntry } from '../postgres/dump-index.ts';
import { ident } from '../postgres/introspect.ts';
import { entryName, type TableRef } from './restore-table-closure.ts';

/** What the restore does with one object the table needs. */
export interface NeedStatus {
  kind: string;
  name: string;
  /** `use`: the target has it, identical; `create`: it lacks it; `differs`: it has another one; `present`: it has one, of a kind not compared. */
  action: 'use' | 'create' | 'differs' | 'present';
  detail?: string;
}

const TYPE_SIGNATURE = `
  select case t.typtype
    when 'e' then 'enum (' || coalesce((select string_agg(quote_literal(enumlabel), ', ' order by enumsortorder) from pg_enum where enumtypid = t.oid), '') || ')'
    when 'd' then 'domain over ' || format_type(t.typbasetype, t.typtypmod) || case when t.typnotnull then ' not null' else '' end
      || coalesce(' default ' || t.typdefault, '')
      || coalesce((select ' ' || string_agg(pg_get_constraintdef(c.oid), ' ' order by c.conname) from pg_constraint c where c.contypid = t.oid), '')
    when 'c' then 'composite (' || coalesce((select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum)
      from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped), '') || ')'
    when 'r' then 'range over ' || (select format_type(rngsubtype, null) from pg_range where rngtypid = t.oid)
    else 'type with input ' || t.typinput::text || ' and output ' || t.typoutput::text end as sig
  from pg_type t join pg_namespace n on n.oid = t.typnamespace where n.nspname = $1 and t.typname = $2`;

/**
 * A text equal in two databases exactly when the object is defined the same; null when the
 * database has no such object; undefined for kinds not compared (only their presence is known).
 */
export async function objectSignature(client: pg.Client, e: TocEntry): Promise<string | null | undefined> {
  const one = async (sql: string, params: unknown[]) => {
    const { rows } = await client.query<{ sig: string | null }>(sql, params);
    return rows.length ? (rows[0]!.sig ?? '') : null;
  };
  switch (e.desc) {
    case 'SCHEMA':
      return one("select 'schema' as sig from pg_namespace where nspname = $1", [e.tag]);
    case 'EXTENSION':
      return one("select 'extension' as sig from pg_extension where extname = $1", [e.tag]);
    case 'TYPE':
    case 'DOMAIN':
      return one(TYPE_SIGNATURE, [e.schema, e.tag]);
    case 'FUNCTION':
    case 'PROCEDURE':
    case 'AGGREGATE': {
      const open = e.tag.indexOf('(');
      const signature = `${ident(e.schema)}.${ident(e.tag.slice(0, open))}${e.tag.slice(open)}`;
      return one(
        `select case when p.prokind in ('f', 'p', 'w') then pg_get_functiondef(p.oid)
                     else p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') aggregate' end as sig
           from pg_proc p where p.oid = to_regprocedure($1)`,
        [signature],
      );
    }
    case 'SEQUENCE':
      return one(
        `select format_type(seqtypid, null) || ' increment ' || seqincrement || ' minvalue ' || seqmin || ' maxvalue ' || seqmax
                || ' start ' || seqstart || ' cache ' || seqcache || case when seqcycle then ' cycle' else '' end as sig
           from pg_sequence where seqrelid = to_regclass($1)`,
        [`${ident(e.schema)}.${ident(e.tag)}`],
      );
    case 'COLLATION':
      return one("select 'collation ' || collprovider as sig from pg_collation c join pg_namespace n on n.oid = c.collnamespace where n.nspname = $1 and c.collname = $2", [e.schema, e.tag]);
    default:
      return undefined;
  }
}

/** Each needed object: used as the target has it, created, or refused because it differs. */
export async function compareNeeds(scratch: pg.Client | undefined, target: pg.Client, needs: TocEntry[]): Promise<NeedStatus[]> {
  const out: NeedStatus[] = [];
  for (const e of needs) {
    // Without a scratch copy only presence is known: the caller has one whenever a definition is compared.
    const mine = scratch && (await objectSignature(scratch, e));
    const theirs = await objectSignature(target, e);
    const base = { kind: e.desc.toLowerCase(), name: entryName(e) };
    if (theirs === undefined) out.push({ ...base, action: 'present', detail: 'kind not compared; restored only with the table' });
    else if (theirs === null) out.push({ ...base, action: 'create' });
    else if (mine === theirs || mine === undefined || mine === null) out.push({ ...base, action: 'use' });
    else out.push({ ...base, action: 'differs', detail: difference(mine, theirs) });
  }
  return out;
}

/** The first line where the backup's text and the live one part, shortened for a one-line message. */
export function difference(backup: string, live: string): string {
  const a = backup.split('\n');
  const b = live.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const cut = (s: string | undefined) => (s === undefined ? '(nothing)' : s.trim().length > 120 ? s.trim().slice(0, 117) + '...' : s.trim());
  return `the backup has ${cut(a[i])}, the database has ${cut(b[i])}`;
}

/** A relation of a table's partition tree in a live database. */
export interface TreeRelation {
  oid: number;
  schema: string;
  name: string;
  /** 'r' a table, 'p' a partitioned table. */
  kind: string;
  /** The partition's parent; null for the tree's root. */
  parent: number | null;
}

/** The table and its partitions, sub-partitions included; empty when the database lacks the table. */
export async function liveTree(client: pg.Client, ref: TableRef): Promise<TreeRelation[]> {
  const { rows } = await client.query<{ oid: number; schema: string; name: string; kind: string; parent: number | null }>(
    `with recursive tree(oid, parent, depth) as (
       select to_regclass($1)::oid, null::oid, 0 where to_regclass($1) is not null
       union all select i.inhrelid, i.inhparent, t.depth + 1 from pg_inherits i join tree t on i.inhparent = t.oid)
     select c.oid::int as oid, n.nspname as schema, c.relname as name, c.relkind::text as kind, tree.parent::int as parent
       from tree join pg_class c on c.oid = tree.oid join pg_namespace n on n.oid = c.relnamespace order by tree.depth, c.relname`,
    [`${ident(ref.schema)}.${ident(ref.name)}`],
  );
  return rows;
}

/**
 * One line per relation of the tree: partition key and bound, columns (by name: rows load by
 * name), and the constraints rows must satisfy. What an in-place load needs to be the same.
 */
async function treeShape(client: pg.Client, ref: TableRef): Promise<Map<string, string>> {
  const tree = await liveTree(client, ref);
  const { rows } = await client.query<{ name: string; shape: string }>(
    `select c.relname as name,
            concat_ws(' | ',
              case c.relkind when 'p' then 'partitioned by ' || pg_get_partkeydef(c.oid) else 'table' end,
              case when c.relispartition and c.oid <> $2 then 'partition ' || pg_get_expr(c.relpartbound, c.oid) end,
              'columns ' || (select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
                                 || case when a.attnotnull then ' not null' else '' end
                                 || case when a.attgenerated <> '' then ' generated as ' || pg_get_expr(d.adbin, d.adrelid) else '' end, ', ' order by a.attname)
                               from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                              where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
              'constraints ' || coalesce((select string_agg(pg_get_constraintdef(k.oid), ', ' order by pg_get_constraintdef(k.oid))
                                            from pg_constraint k where k.conrelid = c.oid and k.contype in ('c', 'p', 'u', 'x')), 'none')) as shape
       from pg_class c where c.oid = any($1::oid[])`,
    // The root's own bound is left out: a partition restored alone is compared as a table.
    [tree.map((t) => t.oid), tree[0]?.oid ?? 0],
  );
  return new Map(rows.map((r) => [r.name, r.shape]));
}

/** How the live table differs from the backup's (partitions, columns, constraints); empty when it does not. */
export async function compareTree(scratch: pg.Client, target: pg.Client, ref: TableRef): Promise<string[]> {
  const mine = await treeShape(scratch, ref);
  const theirs = await treeShape(target, ref);
  const out: string[] = [];
  for (const [name, shape] of mine) {
    const live = theirs.get(name);
    if (live === undefined) out.push(`${ref.schema}.${name} is in the backup but not in the database`);
    else if (live !== shape) out.push(`${ref.schema}.${name}: ${difference(shape.replaceAll(' | ', '\n'), live.replaceAll(' | ', '\n'))}`);
  }
  for (const name of theirs.keys()) if (!mine.has(name)) out.push(`${ref.schema}.${name} is in the database but not in the backup`);
  return out;
}

/** A foreign key in a live database, at the top of its partition clones. */
export interface LiveForeignKey {
  name: string;
  /** The referencing table and the referenced one. */
  table: { oid: number; schema: string; name: string };
  references: { oid: number; schema: string; name: string };
  columns: string[];
  referencedColumns: string[];
  /** pg_get_constraintdef: enough to add it back exactly. */
  definition: string;
}

/** Foreign keys from or to any of the given relations (a partition's reach the root constraint). */
export async function liveForeignKeys(client: pg.Client, oids: number[]): Promise<LiveForeignKey[]> {
  const { rows } = await client.query<{ name: string; t_oid: number; t_schema: string; t_name: string; r_oid: number; r_schema: string; r_name: string; cols: string[]; rcols: string[]; def: string }>(
    `with recursive touching as (
       select oid, conparentid from pg_constraint where contype = 'f' and (conrelid = any($1::oid[]) or confrelid = any($1::oid[]))
       union select p.oid, p.conparentid from pg_constraint p join touching t on p.oid = t.conparentid)
     select distinct k.conname as name, k.conrelid::int as t_oid, tn.nspname as t_schema, tc.relname as t_name,
            k.confrelid::int as r_oid, rn.nspname as r_schema, rc.relname as r_name,
            array(select a.attname::text from unnest(k.conkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as cols,
            array(select a.attname::text from unnest(k.confkey) with ordinality u(n, i) join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) as rcols,
            pg_get_constraintdef(k.oid) as def
       from touching t join pg_constraint k on k.oid = t.oid
       join pg_class tc on tc.oid = k.conrelid join pg_namespace tn on tn.oid = tc.relnamespace
       join pg_class rc on rc.oid = k.confrelid join pg_namespace rn on rn.oid = rc.relnamespace
      where k.conparentid = 0 order by 1`,
    [oids],
  );
  return rows.map((r) => ({
    name: r.name, table: { oid: r.t_oid, schema: r.t_schema, name: r.t_name }, references: { oid: r.r_oid, schema: r.r_schema, name: r.r_name },
    columns: r.cols, referencedColumns: r.rcols, definition: r.def,
  }));
}

/** Views and materialized views that read any of the given relations. */
export async function dependentViews(client: pg.Client, oids: number[]): Promise<{ name: string; kind: 'view' | 'materialized view' }[]> {
  const { rows } = await client.query<{ name: string; kind: string }>(
    `select distinct format('%I.%I', n.nspname, v.relname) as name, v.relkind::text as kind
       from pg_depend d join pg_rewrite r on r.oid = d.objid join pg_class v on v.oid = r.ev_class join pg_namespace n on n.oid = v.relnamespace
      where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjid = any($1::oid[]) and v.oid <> all($1::oid[])
      order by 1`,
    [oids],
  );
  return rows.map((r) => ({ name: r.name, kind: r.kind === 'm' ? 'materialized view' : 'view' }));
}

/** Names a copy of the tree takes in its schema: its tables, indexes and owned sequences. */
export async function treeObjectNames(client: pg.Client, ref: TableRef): Promise<{ tables: string[]; indexes: string[]; sequences: string[] }> {
  const tree = await liveTree(client, ref);
  const oids = tree.map((t) => t.oid);
  const indexes = await client.query<{ name: string }>('select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = any($1::oid[]) order by 1', [oids]);
  const sequences = await client.query<{ name: string }>(
    `select s.relname as name from pg_depend d join pg_class s on s.oid = d.objid
      where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjid = any($1::oid[]) and s.relkind = 'S' and d.deptype in ('a', 'i') order by 1`,
    [oids],
  );
  return { tables: tree.map((t) => t.name), indexes: indexes.rows.map((r) => r.name), sequences: [...new Set(sequences.rows.map((r) => r.name))] };
}

/** `orders_pkey` of table `orders` renamed to `orders_restored` becomes `orders_restored_pkey`. */
export function renamed(name: string, table: string, newTable: string): string {
  if (table === newTable) return name;
  if (name === table) return newTable;
  return (name.startsWith(`${table}_`) ? newTable + name.slice(table.length) : `${newTable}_${name}`).slice(0, 63);
}
