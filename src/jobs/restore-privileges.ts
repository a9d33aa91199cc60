// Whether the target role may do what the plan says, checked before anything starts: a restore
// that fails on a missing privilege halfway wastes the extraction and leaves the user guessing.
// Each failure names the SQL that grants what is missing.
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { connect, withDatabase } from '../postgres/connection.ts';
import { ident } from '../postgres/introspect.ts';
import { formatBytes } from '../util/format.ts';
import type { RestoreContext, RestoreOptions } from './restore-context.ts';
import type { Check, PlannedDatabase, RestorePlan } from './restore-plan.ts';

/**
 * Connections a restore holds at its peak: its own admin connection, pg_restore's leader and its
 * two workers (--jobs=2).
 */
export const CONNECTIONS_NEEDED = 4;

interface Me {
  name: string;
  superuser: boolean;
  createdb: boolean;
  createrole: boolean;
  connlimit: number;
}

const grant = (sql: string) => `; to grant it, run as a superuser: ${sql}`;

/**
 * The privilege, connection and space checks for a plan: CREATEDB for whole databases (each is
 * restored into a new scratch database first), ownership of a database or table replaced in
 * place, the roles that own the restored objects (unless --no-owner), connection limits, and
 * free space where the server keeps its data. `client` is on the target's maintenance database.
 */
export async function privilegeChecks(ctx: RestoreContext, client: pg.Client, databases: PlannedDatabase[], tables: RestorePlan['tables'], options: RestoreOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const { rows } = await client.query<{ name: string; superuser: boolean; createdb: boolean; createrole: boolean; connlimit: number }>(
    'select rolname as name, rolsuper as superuser, rolcreatedb as createdb, rolcreaterole as createrole, rolconnlimit as connlimit from pg_roles where rolname = current_user',
  );
  const me: Me = rows[0]!;
  const role = ident(me.name);

  if (databases.length) {
    checks.push({
      name: 'privilege to create databases',
      ok: me.superuser || me.createdb,
      detail: me.superuser ? `${me.name} is a superuser` : me.createdb ? `${me.name} has CREATEDB` : `${me.name} lacks CREATEDB, needed to create ${databases.map((d) => d.database).join(', ')} (each is restored into a new database first)${grant(`ALTER ROLE ${role} CREATEDB;`)}`,
    });
  }
  if (options.globals) {
    checks.push({
      name: 'privilege to create roles',
      ok: me.superuser || me.createrole,
      detail: me.superuser || me.createrole ? `${me.name} may create the roles --globals restores` : `${me.name} lacks CREATEROLE, needed by --globals${grant(`ALTER ROLE ${role} CREATEROLE;`)}`,
    });
  }
  for (const d of databases.filter((x) => x.action === 'replace')) checks.push(...(await replaceChecks(client, me, d.database)));
  if (databases.length && !options.noOwner) checks.push(...(await ownerChecks(ctx, client, me, databases, options)));
  for (const [database, planned] of groupBy(tables, (t) => t.database)) checks.push(...(await tableChecks(ctx, me, database, planned)));
  checks.push(await connectionCheck(client, me, [...new Set(tables.map((t) => t.database))]));
  if (databases.length) checks.push(await spaceCheck(ctx, client, me, databases));
  return checks;
}

/** Replacing a database renames and drops it: only its owner (or a superuser) may. */
async function replaceChecks(client: pg.Client, me: Me, database: string): Promise<Check[]> {
  const { rows } = await client.query<{ owner: string; mine: boolean; others: number; signal: boolean }>(
    `select pg_get_userbyid(datdba) as owner, pg_has_role(current_user, datdba, 'MEMBER') as mine,
            (select count(*)::int from pg_stat_activity a where a.datname = d.datname and a.usename <> current_user) as others,
            pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') as signal
       from pg_database d where datname = $1`,
    [database],
  );
  const r = rows[0];
  if (!r) return [];
  const checks: Check[] = [{
    name: `privilege to replace ${database}`,
    ok: me.superuser || r.mine,
    detail: me.superuser || r.mine ? `${me.name} ${me.superuser ? 'is a superuser' : `owns it (as ${r.owner})`}` : `${database} is owned by ${r.owner}; replacing it needs its owner or a superuser${grant(`ALTER DATABASE ${ident(database)} OWNER TO ${ident(me.name)};`)}`,
  }];
  // The swap ends the database's other sessions; another role's need pg_signal_backend.
  if (r.others > 0 && !me.superuser && !r.signal) {
    checks.push({
      name: `privilege to end sessions on ${database}`, ok: false,
      detail: `${r.others} session(s) of other roles are connected and the swap ends them; ${me.name} may not${grant(`GRANT pg_signal_backend TO ${ident(me.name)};`)} (or close those sessions first)`,
    });
  }
  return checks;
}

/**
 * pg_restore makes each object's recorded owner its owner and repeats its grants: those roles
 * must exist on the target (or come from the backup's roles with --globals), and a non-superuser
 * must be a member of each owner.
 */
async function ownerChecks(ctx: RestoreContext, client: pg.Client, me: Me, databases: PlannedDatabase[], options: RestoreOptions): Promise<Check[]> {
  const owners = new Set<string>();
  const grantees = new Set<string>();
  for (const d of databases) {
    const m = ctx.selected.find((s) => s.name === d.source);
    for (const o of m?.owners ?? []) owners.add(o);
    for (const g of m?.grantees ?? []) grantees.add(g);
  }
  for (const o of owners) grantees.delete(o);
  if (!owners.size && !grantees.size) return [];
  const { rows } = await client.query<{ name: string; exists: boolean; member: boolean }>(
    `select o as name, r.oid is not null as exists, r.oid is not null and pg_has_role(current_user, r.oid, 'MEMBER') as member
       from unnest($1::text[]) o left join pg_roles r on r.rolname = o order by 1`,
    [[...owners, ...grantees]],
  );
  const missing = rows.filter((r) => !r.exists).map((r) => r.name);
  // Giving an object to a role needs membership in it; granting to one only needs it to exist.
  const foreign = me.superuser ? [] : rows.filter((r) => owners.has(r.name) && r.exists && !r.member).map((r) => r.name);
  const problems: string[] = [];
  // With --globals they come from the backup's roles (the check on CREATEROLE is the other one).
  if (missing.length && !options.globals) {
    problems.push(`missing on the target: ${missing.join(', ')}${grant(missing.map((m) => `CREATE ROLE ${ident(m)};`).join(' '))}${ctx.manifest.postgres?.globals ? ' (or restore them with --globals)' : ''}`);
  }
  if (foreign.length) problems.push(`${me.name} is not a member of ${foreign.join(', ')}, so it cannot give them objects${grant(foreign.map((f) => `GRANT ${ident(f)} TO ${ident(me.name)};`).join(' '))}`);
  return [{
    name: 'roles owning the restored objects',
    ok: problems.length === 0,
    detail: problems.length
      ? `${problems.join('; ')}; or pass --no-owner to make ${me.name} the owner of everything, without the grants`
      : `${[...owners].join(', ') || 'none'}${grantees.size ? `; granted to ${[...grantees].join(', ')}` : ''}${missing.length ? ` (${missing.join(', ')} created from the backup's roles)` : ''}`,
  }];
}

/** A table replaced in place needs its owner; one created needs CREATE on its schema. */
async function tableChecks(ctx: RestoreContext, me: Me, database: string, planned: RestorePlan['tables']): Promise<Check[]> {
  if (me.superuser) return [];
  const client = await connect(withDatabase(ctx.server!, database));
  try {
    const checks: Check[] = [];
    for (const t of planned) {
      if (t.action === 'replace') {
        const { rows } = await client.query<{ owner: string; mine: boolean }>(
          "select pg_get_userbyid(relowner) as owner, pg_has_role(current_user, relowner, 'MEMBER') as mine from pg_class where oid = to_regclass($1)",
          [quoted(t.table)],
        );
        const r = rows[0];
        if (!r) continue;
        // The replace drops and re-adds the foreign keys that point at the table: altering a
        // referencing table needs its owner too.
        const { rows: referencing } = await client.query<{ schema: string; name: string; owner: string }>(
          `select distinct n.nspname as schema, c.relname as name, pg_get_userbyid(c.relowner) as owner
             from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
            where k.contype = 'f' and k.confrelid = to_regclass($1) and k.conrelid <> k.confrelid
              and not pg_has_role(current_user, c.relowner, 'MEMBER') order by 1, 2`,
          [quoted(t.table)],
        );
        const problems: string[] = [];
        const fixes: string[] = [];
        if (!r.mine) {
          problems.push(`${t.table} is owned by ${r.owner}; replacing its rows needs its owner or a superuser`);
          fixes.push(`ALTER TABLE ${quoted(t.table)} OWNER TO ${ident(me.name)};`);
        }
        for (const x of referencing) {
          problems.push(`${x.schema}.${x.name} (owned by ${x.owner}) has a foreign key to it, which the replace drops and adds back`);
          fixes.push(`ALTER TABLE ${ident(x.schema)}.${ident(x.name)} OWNER TO ${ident(me.name)};`);
        }
        checks.push({
          name: `privilege to replace ${t.table}`, ok: problems.length === 0,
          detail: problems.length ? `${problems.join('; ')}${grant(fixes.join(' '))}` : `${me.name} owns it (as ${r.owner})`,
        });
      } else {
        const schema = t.as.slice(0, t.as.indexOf('.'));
        const { rows } = await client.query<{ ok: boolean | null }>("select case when to_regnamespace($1) is null then null else has_schema_privilege($1, 'CREATE') end as ok", [ident(schema)]);
        if (rows[0]?.ok === null || rows[0]?.ok === undefined) continue;
        checks.push({
          name: `privilege to create ${t.as}`, ok: rows[0].ok,
          detail: rows[0].ok ? `${me.name} may create tables in ${schema}` : `${me.name} may not create tables in schema ${schema}${grant(`GRANT CREATE ON SCHEMA ${ident(schema)} TO ${ident(me.name)};`)}`,
        });
      }
    }
    return checks;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Free connections for the restore: under the role's limit, under the server's max_connections
 * (less the slots reserved for superusers), and under the limit of a live database that tables
 * are restored into. Counts change while the restore runs, so this one can be forced past.
 */
async function connectionCheck(client: pg.Client, me: Me, liveDatabases: string[]): Promise<Check> {
  const { rows } = await client.query<{ mine: number; total: number; max: number; reserved: number }>(
    `select (select count(*)::int from pg_stat_activity where usename = current_user and pid <> pg_backend_pid()) as mine,
            (select count(*)::int from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()) as total,
            current_setting('max_connections')::int as max, current_setting('superuser_reserved_connections')::int as reserved`,
  );
  const r = rows[0]!;
  const problems: string[] = [];
  // Superusers are not held to a role's or a database's connection limit.
  if (!me.superuser && me.connlimit >= 0 && me.connlimit - r.mine < CONNECTIONS_NEEDED) {
    problems.push(`${me.name} may hold ${me.connlimit} connection(s) and has ${r.mine} open besides this one, the restore needs ${CONNECTIONS_NEEDED}${grant(`ALTER ROLE ${ident(me.name)} CONNECTION LIMIT ${r.mine + CONNECTIONS_NEEDED};`)}`);
  }
  const slots = r.max - (me.superuser ? 0 : r.reserved) - r.total;
  if (slots < CONNECTIONS_NEEDED) {
    problems.push(`the server has ${Math.max(0, slots)} free connection slot(s) of max_connections ${r.max}, the restore needs ${CONNECTIONS_NEEDED}; close idle sessions, or run as a superuser: ALTER SYSTEM SET max_connections = ${r.max + CONNECTIONS_NEEDED}; and restart the server`);
  }
  if (liveDatabases.length) {
    const { rows: dbs } = await client.query<{ name: string; limit: number; allow: boolean; used: number }>(
      `select datname as name, datconnlimit as limit, datallowconn as allow,
              (select count(*)::int from pg_stat_activity a where a.datname = d.datname) as used
         from pg_database d where datname = any($1)`,
      [liveDatabases],
    );
    for (const d of dbs) {
      if (!d.allow) problems.push(`${d.name} does not allow connections${grant(`ALTER DATABASE ${ident(d.name)} ALLOW_CONNECTIONS true;`)}`);
      else if (!me.superuser && d.limit >= 0 && d.limit - d.used < CONNECTIONS_NEEDED) problems.push(`${d.name} allows ${d.limit} connection(s) and has ${d.used}, the restore needs ${CONNECTIONS_NEEDED}${grant(`ALTER DATABASE ${ident(d.name)} CONNECTION LIMIT ${d.used + CONNECTIONS_NEEDED};`)}`);
    }
  }
  return {
    name: 'connections', ok: problems.length === 0, overridable: true,
    detail: problems.length ? problems.join('; ') : `${CONNECTIONS_NEEDED} free for ${me.name}`,
  };
}

/**
 * Free space where the server keeps its data, against the size of what is restored (the source
 * databases' size at backup time). A replaced database is dropped only after its replacement is
 * in place, so both must fit at once. Measurable only when the server's data directory is on this
 * machine and readable as a setting (superuser or pg_read_all_settings); the size is an estimate
 * (a restored database has no bloat), so --force overrides it.
 */
async function spaceCheck(ctx: RestoreContext, client: pg.Client, me: Me, databases: PlannedDatabase[]): Promise<Check> {
  const needed = databases.reduce((n, d) => n + (ctx.selected.find((s) => s.name === d.source)?.sizeBytes ?? d.dumpSize), 0);
  const name = 'space at the destination';
  // The server sees a Unix socket (null) or loopback when it runs on this machine; a server in a
  // container sees the bridge address, and its data directory's path here is not its own.
  const { rows } = await client.query<{ dir: string | null; major: string; local: boolean }>(
    `select case when pg_has_role(current_user, 'pg_read_all_settings', 'MEMBER') or $1 then current_setting('data_directory') end as dir,
            current_setting('server_version_num') as major, coalesce(host(inet_server_addr()) in ('127.0.0.1', '::1'), true) as local`,
    [me.superuser],
  );
  const r = rows[0]!;
  const version = r.dir && r.local ? await fs.readFile(path.join(r.dir, 'PG_VERSION'), 'utf8').catch(() => undefined) : undefined;
  const dir = r.dir!;
  const space = version?.trim() === String(Math.floor(Number(r.major) / 10000)) ? await fs.statfs(dir).catch(() => undefined) : undefined;
  if (!space) {
    const why = !r.local ? 'the server runs on another machine' : !r.dir ? `reading data_directory needs pg_read_all_settings${grant(`GRANT pg_read_all_settings TO ${ident(me.name)};`)}` : `${r.dir} is not readable here`;
    return { name, ok: true, detail: `${formatBytes(needed)} to restore; the server's free space is not measurable: ${why}` };
  }
  const free = space.bavail * space.bsize;
  return {
    name, ok: free >= needed, overridable: true,
    detail: `${formatBytes(free)} free in ${dir}, ${formatBytes(needed)} to restore (the source's size at backup time)${free >= needed ? '' : '; free space there first, or restore elsewhere with --to'}`,
  };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const i of items) (out.get(key(i)) ?? out.set(key(i), []).get(key(i))!).push(i);
  return out;
}

/** `schema.table` (as plans name tables) as a quoted SQL name. */
function quoted(table: string): string {
  const dot = table.indexOf('.');
  return `${ident(table.slice(0, dot))}.${ident(table.slice(dot + 1))}`;
}
