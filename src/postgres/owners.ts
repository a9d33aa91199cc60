import type pg from 'pg';

/**
 * The roles that own what pg_dump writes of the connected database: schemas, relations,
 * functions and types outside the system schemas and outside extensions (pg_dump leaves an
 * extension's members to CREATE EXTENSION). pg_restore sets these owners unless --no-owner, so a
 * restore's plan checks that they exist on the target. Built-in roles (pg_*) are left out.
 */
export async function objectOwners(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ owner: string }>(`
    with owned (classid, objid, owner, ns) as (
      select 'pg_class'::regclass, oid, relowner, relnamespace from pg_class where relkind in ('r', 'p', 'v', 'm', 'S', 'f')
      union all select 'pg_proc'::regclass, oid, proowner, pronamespace from pg_proc
      union all select 'pg_type'::regclass, oid, typowner, typnamespace from pg_type where typtype in ('d', 'e', 'r', 'm') or (typtype = 'c' and typrelid in (select oid from pg_class where relkind = 'c'))
      union all select 'pg_namespace'::regclass, oid, nspowner, oid from pg_namespace
    )
    select distinct pg_get_userbyid(o.owner) as owner
      from owned o join pg_namespace n on n.oid = o.ns
     where n.nspname not in ('pg_catalog', 'information_schema')
       and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
       and not exists (select 1 from pg_depend d where d.classid = o.classid and d.objid = o.objid and d.deptype = 'e')
       and pg_get_userbyid(o.owner) not like 'pg\\_%'
     order by 1`);
  return rows.map((r) => r.owner);
}
