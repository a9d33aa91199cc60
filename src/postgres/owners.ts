import type pg from 'pg';

/** The roles a database's dump names: pg_restore makes them owners, or grants to them. */
export interface DumpRoles {
  /** Roles owning dumped objects: pg_restore runs ALTER ... OWNER TO each. */
  owners: string[];
  /** Roles named in the dumped objects' grants and default privileges: GRANT ... TO each. */
  grantees: string[];
}

// Dumped objects: outside the system schemas and outside extensions (pg_dump leaves an
// extension's members to CREATE EXTENSION). Built-in roles (pg_*) exist everywhere.
const DUMPED = `
  from objects o join pg_namespace n on n.oid = o.ns
 where n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
   and not exists (select 1 from pg_depend d where d.classid = o.classid and d.objid = o.objid and d.deptype = 'e')`;

const OBJECTS = `
  objects (classid, objid, owner, acl, ns) as (
    select 'pg_class'::regclass, oid, relowner, relacl, relnamespace from pg_class where relkind in ('r', 'p', 'v', 'm', 'S', 'f')
    union all select 'pg_class'::regclass, c.oid, c.relowner, a.attacl, c.relnamespace from pg_attribute a join pg_class c on c.oid = a.attrelid where a.attacl is not null
    union all select 'pg_proc'::regclass, oid, proowner, proacl, pronamespace from pg_proc
    union all select 'pg_type'::regclass, oid, typowner, typacl, typnamespace from pg_type where typtype in ('d', 'e', 'r', 'm') or (typtype = 'c' and typrelid in (select oid from pg_class where relkind = 'c'))
    union all select 'pg_namespace'::regclass, oid, nspowner, nspacl, oid from pg_namespace
  )`;

/**
 * The roles that own, or are granted, what pg_dump writes of the connected database. pg_restore
 * sets these unless --no-owner (Lifeboat adds --no-acl with it), so a restore's plan checks that
 * they exist on the target.
 */
export async function dumpRoles(client: pg.Client): Promise<DumpRoles> {
  const { rows } = await client.query<{ kind: 'owner' | 'grantee'; role: string }>(`
    with ${OBJECTS},
    named (kind, role) as (
      select 'owner', o.owner ${DUMPED}
      union all select 'grantee', g.grantee ${DUMPED.replace('from objects o', 'from objects o cross join aclexplode(o.acl) g')}
      union all select 'owner', defaclrole from pg_default_acl
      union all select 'grantee', g.grantee from pg_default_acl cross join aclexplode(defaclacl) g
    )
    select distinct kind, pg_get_userbyid(role) as role from named
     where role <> 0 and pg_get_userbyid(role) not like 'pg\\_%'
     order by 1, 2`);
  const owners = rows.filter((r) => r.kind === 'owner').map((r) => r.role);
  return { owners, grantees: rows.filter((r) => r.kind === 'grantee' && !owners.includes(r.role)).map((r) => r.role) };
}
