import type pg from 'pg';
import { dumpRoles } from './owners.ts';

/** What the manifest records of one table, read in the dump's snapshot. */
export interface TableInfo {
  schema: string;
  name: string;
  /** 'table' or 'partitioned' (a partitioned parent holds no rows of its own). */
  kind: 'table' | 'partitioned';
  columns: { name: string; type: string; nullable: boolean }[];
  /** Exact row count in the dump's snapshot; null for a partitioned parent. */
  rows: number | null;
  /** Dumped schema-only (a profile's choice, e.g. n8n's execution data): restores empty, rows 0. */
  dataExcluded?: boolean;
}

export interface DatabaseInfo {
  name: string;
  sizeBytes: number;
  encoding: string;
  tables: TableInfo[];
  sequences: { schema: string; name: string; lastValue: string | null }[];
  extensions: { name: string; version: string }[];
  /** The roles owning the dumped objects (owners.ts), which pg_restore sets; absent in older bundles. */
  owners?: string[];
  /** Other roles the dump grants privileges to; absent in older bundles. */
  grantees?: string[];
}

export async function serverVersion(client: pg.Client): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "select current_setting('server_version_num') as num, current_setting('server_version') as version",
  );
  const row = rows[0]!;
  return { major: Math.floor(Number(row.num) / 10000), version: row.version.split(' ')[0]! };
}

/** Every database that can be connected to, templates excluded. */
export async function listDatabases(client: pg.Client): Promise<{ name: string; sizeBytes: number }[]> {
  const { rows } = await client.query<{ datname: string; size: string }>(
    'select datname, pg_database_size(oid) as size from pg_database where not datistemplate and datallowconn order by datname',
  );
  return rows.map((r) => ({ name: r.datname, sizeBytes: Number(r.size) }));
}

/**
 * Describes the connected database. Run it inside the repeatable-read transaction whose snapshot
 * pg_dump uses, so the row counts are those of the dump exactly. `known` gives counts already
 * taken (`schema.name` to rows), which are not taken again.
 */
export async function describeDatabase(client: pg.Client, signal?: AbortSignal, options: { counts?: boolean; known?: ReadonlyMap<string, number> } = {}): Promise<DatabaseInfo> {
  const db = await client.query<{ name: string; size: string; encoding: string }>(
    'select current_database() as name, pg_database_size(current_database()) as size, pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()',
  );
  const columns = await client.query<{
    schema: string;
    table: string;
    relkind: string;
    column: string | null;
    type: string | null;
    nullable: boolean | null;
  }>(`
    select n.nspname as schema, c.relname as table, c.relkind,
           a.attname as column, format_type(a.atttypid, a.atttypmod) as type, not a.attnotnull as nullable
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where c.relkind in ('r', 'p')
       and n.nspname not in ('pg_catalog', 'information_schema')
       and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
     order by n.nspname, c.relname, a.attnum`);
  const tables = new Map<string, TableInfo>();
  for (const r of columns.rows) {
    const key = `${r.schema}.${r.table}`;
    let t = tables.get(key);
    if (!t) {
      t = { schema: r.schema, name: r.table, kind: r.relkind === 'p' ? 'partitioned' : 'table', columns: [], rows: null };
      tables.set(key, t);
    }
    if (r.column !== null) t.columns.push({ name: r.column, type: r.type!, nullable: r.nullable! });
  }
  for (const t of tables.values()) {
    signal?.throwIfAborted();
    if (t.kind !== 'table' || options.counts === false) continue;
    const known = options.known?.get(`${t.schema}.${t.name}`);
    if (known !== undefined) {
      t.rows = known;
      continue;
    }
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from only ${ident(t.schema)}.${ident(t.name)}`);
    t.rows = Number(rows[0]!.n);
  }
  const sequences = await client.query<{ schema: string; name: string; last_value: string | null }>(
    'select schemaname as schema, sequencename as name, last_value::text from pg_sequences order by 1, 2',
  );
  const extensions = await client.query<{ name: string; version: string }>(
    'select extname as name, extversion as version from pg_extension order by 1',
  );
  const info = db.rows[0]!;
  return {
    name: info.name,
    sizeBytes: Number(info.size),
    encoding: info.encoding,
    tables: [...tables.values()],
    sequences: sequences.rows.map((s) => ({ schema: s.schema, name: s.name, lastValue: s.last_value })),
    extensions: extensions.rows,
    ...(await dumpRoles(client)),
  };
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}
