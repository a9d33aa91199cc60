import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { startScratchCluster } from '../../src/postgres/scratch-cluster.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
let n = 0;

/** A login role without CREATEDB, not a superuser, owning nothing. */
async function plainRole(): Promise<{ name: string; url: (db: string) => string }> {
  const name = `lb_plain_${process.pid}_${++n}`;
  await suite.server.query('postgres', `create role ${name} login password 'pw'`);
  return { name, url: (db) => suite.server.urlFor(db, { user: name, password: 'pw' }) };
}

/** A database with a table owned by the superuser, backed up by a workspace whose target connects as `url`. */
async function backedUp(url?: (db: string) => string): Promise<{ ws: Workspace; db: string; id: string }> {
  const db = await suite.server.createDatabase('privs');
  await suite.server.query(db, 'create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 200) g');
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${(url ?? suite.server.urlFor)(db)}", databases: [${db}] }\n    storage: local\n`);
  const b = await ws.run(['backup', 'app', '--json']);
  assert.equal(b.code, 0, b.stderr);
  return { ws, db, id: b.json<{ id: string }>().id };
}

/** The SQL a failed check says to run ("run as a superuser: <SQL>"), run as the superuser. */
async function runTheFix(output: string, check: string, db = 'postgres'): Promise<string> {
  const line = output.split('\n').find((l) => l.includes(check))!;
  assert.ok(line, `a line for ${check} in:\n${output}`);
  const sql = /run as a superuser: ([^;]+;)/.exec(line)?.[1];
  assert.ok(sql, `the fix in: ${line}`);
  await suite.server.query(db, sql);
  return sql;
}

describe('restore plan: privileges', () => {
  test('a role without CREATEDB is refused at plan time with the SQL that grants it; once granted, --no-owner restores', async () => {
    const role = await plainRole();
    const { ws, db, id } = await backedUp();
    const copy = `${db}_copy`;
    const r = await ws.run(['restore', id, '--to', role.url(copy), '--yes']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`privilege to create databases: ${role.name} lacks CREATEDB`));
    assert.equal(await runTheFix(r.stderr, 'privilege to create databases'), `ALTER ROLE "${role.name}" CREATEDB;`);
    const exists = await suite.server.query('postgres', 'select 1 from pg_database where datname = $1', [copy]);
    assert.deepEqual(exists, [], 'nothing was created');

    // Granted: the objects' owner (the superuser) is a role it cannot give objects to.
    const plan = await ws.run(['restore', id, '--to', role.url(copy), '--dry-run']);
    assert.equal(plan.code, 3, plan.stderr);
    assert.match(plan.stdout, /pass {2}privilege to create databases: .* has CREATEDB/);
    assert.match(plan.stdout, new RegExp(`FAIL {2}roles owning the restored objects: ${role.name} is not a member of postgres, so it cannot give them objects; .*GRANT "postgres" TO "${role.name}";.*or pass --no-owner`));

    const restored = await ws.run(['restore', id, '--to', role.url(copy), '--no-owner']);
    assert.equal(restored.code, 0, restored.stderr);
    const [count] = await suite.server.query<{ n: string }>(copy, 'select count(*) as n from items');
    assert.equal(Number(count!.n), 200);
  });

  test('replacing a database or a table needs its owner: refused, with the ALTER ... OWNER that fixes it', async () => {
    const role = await plainRole();
    const { ws, db, id } = await backedUp();
    // The same database, now through a target that connects as the plain role.
    await suite.server.query(db, `grant select on all tables in schema public to ${role.name}`);
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${role.url(db)}", databases: [${db}] }\n    storage: local\n`);
    await suite.server.query('postgres', `alter role ${role.name} createdb`);

    const whole = await ws.run(['restore', id, '--yes', '--no-owner']);
    assert.equal(whole.code, 3, whole.stderr);
    assert.match(whole.stderr, new RegExp(`privilege to replace ${db}: ${db} is owned by postgres; replacing it needs its owner or a superuser`));
    assert.equal(await runTheFix(whole.stderr, `privilege to replace ${db}`), `ALTER DATABASE "${db}" OWNER TO "${role.name}";`);
    const plan = await ws.run(['restore', id, '--dry-run', '--no-owner']);
    assert.match(plan.stdout, new RegExp(`pass {2}privilege to replace ${db}: ${role.name} owns it`));

    const table = await ws.run(['restore', id, '--database', db, '--table', 'public.items', '--yes', '--no-owner']);
    assert.equal(table.code, 3, table.stderr);
    assert.match(table.stderr, /privilege to replace public\.items: public\.items is owned by postgres; replacing its rows needs its owner/);
    assert.equal(await runTheFix(table.stderr, 'privilege to replace public.items', db), `ALTER TABLE "public"."items" OWNER TO "${role.name}";`);
    const tablePlan = await ws.run(['restore', id, '--database', db, '--table', 'public.items', '--dry-run', '--no-owner']);
    assert.match(tablePlan.stdout, new RegExp(`pass {2}privilege to replace public\\.items: ${role.name} owns it`));

    // A table of another owner whose foreign key points at it: the replace alters that table too.
    await suite.server.query(db, 'create table orders (id int primary key, item_id int references items (id))');
    const referenced = await ws.run(['restore', id, '--database', db, '--table', 'public.items', '--dry-run', '--no-owner']);
    assert.equal(referenced.code, 3, referenced.stdout);
    assert.match(referenced.stdout, new RegExp(`FAIL {2}privilege to replace public\\.items: public\\.orders \\(owned by postgres\\) has a foreign key to it, which the replace drops and adds back; to grant it, run as a superuser: ALTER TABLE "public"."orders" OWNER TO "${role.name}";`));
  });

  test('a role that owns restored objects and is gone from the target is refused, unless --no-owner', async () => {
    const owner = `lb_owner_${process.pid}`;
    const reader = `lb_reader_${process.pid}`;
    await suite.server.query('postgres', `create role ${owner}; create role ${reader}`);
    const db = await suite.server.createDatabase('owned');
    await suite.server.query(db, `create table things (id int); insert into things values (1); alter table things owner to ${owner}; grant select on things to ${reader}`);
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const b = await ws.run(['backup', 'app', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const id = b.json<{ id: string }>().id;
    await suite.server.query(db, `alter table things owner to postgres; revoke select on things from ${reader}`);
    await suite.server.query('postgres', `drop role ${owner}; drop role ${reader}`);

    const r = await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_copy`)]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`roles owning the restored objects: missing on the target: ${owner}, ${reader}; to grant it, run as a superuser: CREATE ROLE "${owner}"; CREATE ROLE "${reader}";.*or pass --no-owner`));
    assert.doesNotMatch(r.stderr, /pg_restore/, 'refused before pg_restore ran');
    const forced = await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--no-owner']);
    assert.equal(forced.code, 0, forced.stderr);
  });

  test('--globals needs CREATEROLE', async () => {
    const role = await plainRole();
    await suite.server.query('postgres', `alter role ${role.name} createdb`);
    const db = await suite.server.createDatabase('roles');
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}], globals: true }\n    storage: local\n`);
    const b = await ws.run(['backup', 'app', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const r = await ws.run(['restore', b.json<{ id: string }>().id, '--to', role.url(`${db}_copy`), '--globals', '--no-owner', '--dry-run']);
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, new RegExp(`FAIL {2}privilege to create roles: ${role.name} lacks CREATEROLE, needed by --globals; to grant it, run as a superuser: ALTER ROLE "${role.name}" CREATEROLE;`));
  });

  test('a role connection limit too low for the restore is a check that names the ALTER ROLE', async () => {
    const role = await plainRole();
    await suite.server.query('postgres', `alter role ${role.name} createdb connection limit 2`);
    const { ws, db, id } = await backedUp();
    const r = await ws.run(['restore', id, '--to', role.url(`${db}_copy`), '--dry-run', '--no-owner']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, new RegExp(`WARN {2}connections: ${role.name} may hold 2 connection\\(s\\) and has 0 open besides this one, the restore needs 4; to grant it, run as a superuser: ALTER ROLE "${role.name}" CONNECTION LIMIT 4;`));
    assert.match(r.stdout, /pass {2}space at the destination: \d.* to restore; the server's free space is not measurable: reading data_directory needs pg_read_all_settings/);
  });

  test('as a superuser on this machine: free space where the server keeps its data against the restored size', async () => {
    const { ws, db, id } = await backedUp();
    const r = await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /pass {2}space at the destination: [\d.]+ \w+ free in \/\S+, [\d.]+ \w+ to restore \(the source's size at backup time\)/);
    assert.match(r.stdout, /pass {2}connections: 4 free for postgres/);
  });

  test('a server whose disk cannot hold the restored database: refused at plan time, --force overrides', async (t) => {
    // A server on a small file system of its own (a 60 MB tmpfs; mounting needs root).
    const mnt = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-small-disk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=60m,mode=0755', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      rmSync(mnt, { recursive: true, force: true });
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    const templateDir = fileURLToPath(new URL('../../node_modules/.cache/lifeboat-initdb', import.meta.url));
    const small = await startScratchCluster({ minMajor: 0, tempDir: mnt, templateDir }).catch(async (err: unknown) => {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
      throw err;
    });
    try {
      const db = await suite.server.createDatabase('big');
      await suite.server.query(db, "create table blobs (id int, body text); insert into blobs select g, repeat(md5(g::text), 12) from generate_series(1, 100000) g");
      const ws = suite.workspace();
      ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
      const b = await ws.run(['backup', 'app', '--json']);
      assert.equal(b.code, 0, b.stderr);
      const id = b.json<{ id: string }>().id;
      const to = new URL(small.endpoint.url);
      to.password = encodeURIComponent(small.endpoint.password ?? '');
      to.pathname = '/copy';

      const r = await ws.run(['restore', id, '--to', to.toString(), '--dry-run']);
      assert.equal(r.code, 3, r.stdout);
      assert.match(r.stdout, new RegExp(`WARN {2}space at the destination: [\\d.]+ MB free in ${mnt}/\\S+, [\\d.]+ MB to restore \\(the source's size at backup time\\); free space there first, or restore elsewhere with --to`));
      const forced = await ws.run(['restore', id, '--to', to.toString(), '--dry-run', '--force']);
      assert.equal(forced.code, 0, forced.stderr);
    } finally {
      await small.stop();
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});
