// `databases: all` holds the maintenance database `postgres`, which exists in every cluster: the
// test restore of a verification and a whole-cluster restore into another server must restore
// into it rather than fail to create it.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { useTestServer } from '../support/suite.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';

const suite = useTestServer();

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; expected?: string; actual?: string }[];
}

/** Every database of a server but the templates, each with its tables' row counts and md5s. */
async function clusterFingerprint(server: TestServer) {
  const names = (await server.query<{ datname: string }>('postgres', 'select datname from pg_database where not datistemplate order by 1')).map((r) => r.datname);
  const out: Record<string, Awaited<ReturnType<typeof tableFingerprints>>> = {};
  for (const db of names) out[db] = await tableFingerprints(server, db);
  return out;
}

describe('databases: all', () => {
  let shop = '';
  let docs = '';
  before(async () => {
    // Tables in `postgres` itself (people do put them there) and two other databases.
    await suite.server.query('postgres', `
      create schema ops;
      create table public.notes (id serial primary key, body text not null);
      insert into public.notes (body) select 'note ' || g from generate_series(1, 250) g;
      create table ops.settings (key text primary key, value jsonb);
      insert into ops.settings values ('mode', '{"on": true}'), ('limit', '42');
    `);
    shop = await suite.server.createDatabase('shop');
    await seedShop(suite.server, shop);
    docs = await suite.server.createDatabase('docs');
    await suite.server.query(docs, `
      create table pages (id bigint generated always as identity primary key, title text, content bytea);
      insert into pages (title, content) select 'page ' || g, decode(md5(g::text), 'hex') from generate_series(1, 800) g;
    `);
  });

  /** A workspace whose target backs up every database of the suite's server, and one backup of it. */
  async function backedUpAll() {
    const ws = suite.workspace({ sharedInitdb: true }); // verify's scratch cluster from a template, not initdb
    const tmp = path.join(ws.dir, 'tmp');
    mkdirSync(tmp);
    // As root the scratch cluster runs as the postgres user, which must be able to enter tempDir.
    chmodSync(ws.dir, 0o755);
    chmodSync(tmp, 0o755);
    ws.writeConfig(`tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  all:\n    postgres: { url: "${suite.server.urlFor('postgres')}", databases: all }\n    storage: local\n`);
    const r = await ws.run(['backup', 'all', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return { ws, id: r.json<{ id: string }>().id };
  }

  test('verification restores postgres like every other database and passes', async () => {
    const { ws, id } = await backedUpAll();
    const contents = (await ws.run(['contents', id, '--json'])).json<{ databases: { name: string }[] }>();
    assert.deepEqual(contents.databases.map((d) => d.name).sort(), [docs, 'postgres', shop].sort());
    const r = await ws.run(['verify', id, '--json']);
    const report = r.json<Report>();
    const failed = report.checks.filter((c) => !c.ok);
    assert.deepEqual(failed, [], 'no check fails');
    assert.equal(r.code, 0, r.stderr);
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    assert.equal(byName.get('restore of postgres')?.ok, true);
    assert.equal(byName.get('postgres: table public.notes')?.actual, '250 rows');
    assert.equal(byName.get('postgres: table ops.settings')?.actual, '2 rows');
    assert.equal(byName.get(`${shop}: table sales.orders`)?.actual, '5000 rows');
    assert.equal(byName.get(`${docs}: table public.pages`)?.actual, '800 rows');
  });

  test('in place, postgres is replaced like any other database: its connections terminated, the swap made from template1', async () => {
    const { ws, id } = await backedUpAll();
    const before = await clusterFingerprint(suite.server);
    await suite.server.query('postgres', 'delete from public.notes where id > 10');
    await suite.server.query(shop, 'delete from sales.orders where id > 100');
    // An app's session on postgres, as monitoring tools keep one.
    const held = new pg.Client({ connectionString: suite.server.urlFor('postgres') });
    await held.connect();
    const dropped = new Promise<Error>((resolve) => held.on('error', resolve));
    try {
      const r = await ws.run(['restore', id, '--yes']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /restored postgres: 2 tables, row counts verified, 1 connection\(s\) terminated/);
      assert.match((await dropped).message, /terminat/);
      assert.deepEqual(await clusterFingerprint(suite.server), before, 'every database as it was backed up');
      const leftovers = await suite.server.query<{ datname: string }>('postgres', "select datname from pg_database where datname like '%lifeboat%'");
      assert.deepEqual(leftovers, [], 'no scratch or old database left behind');
    } finally {
      await held.end().catch(() => undefined);
    }
  });

  describe('whole-cluster restore into another server', () => {
    let other: TestServer | undefined;
    before(async () => {
      other = await startTestServer();
    });
    after(async () => {
      await other?.stop();
    });

    test('--to a server URL without a database restores every database under its own name, postgres included', async () => {
      const { ws, id } = await backedUpAll();
      const source = await clusterFingerprint(suite.server);

      const named = await ws.run(['restore', id, '--to', other!.urlFor('somedb'), '--yes']);
      assert.equal(named.code, 2, 'a URL naming one database takes one database');
      assert.match(named.stderr, /--to .* names one database, and the backup has 3/);
      assert.match(named.stderr, /hint: .*every database under its own name: postgres:\/\/user@host:port\//);

      const template = await ws.run(['restore', id, '--database', docs, '--to', other!.urlFor('template1'), '--yes']);
      assert.equal(template.code, 2);
      assert.match(template.stderr, /--to names template1, a template database: it is never replaced/);

      const plan = await ws.run(['restore', id, '--to', `${other!.url}/`, '--dry-run']);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(plan.stdout, new RegExp(`REPLACE postgres on postgres://postgres@127\\.0\\.0\\.1:${other!.port}/postgres from postgres: 2 tables`));
      assert.match(plan.stdout, new RegExp(`create +${shop} on .* from ${shop}: 3 tables`));
      assert.ok(!plan.stdout.includes(other!.password), 'the password is not shown');
      // A fresh server's postgres holds no tables: there is no schema of its own to lose.
      assert.match(plan.stdout, /pass +schema of postgres: /);

      const r = await ws.run(['restore', id, '--to', `${other!.url}/`, '--yes']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /restored postgres: 2 tables, row counts verified/);
      // The safety backup belongs to the target, whose own server has databases of the same names: undoing goes --to this one.
      assert.match(r.stdout, new RegExp(`safety backup: (\\S+) \\(protected; to undo: lifeboat restore \\1 --to postgres://postgres:\\*\\*\\*@127\\.0\\.0\\.1:${other!.port}/ --yes\\)`));
      assert.deepEqual(await clusterFingerprint(other!), source, 'every table of every database equal to the source');
      const leftovers = await other!.query<{ datname: string }>('postgres', "select datname from pg_database where datname like '%lifeboat%'");
      assert.deepEqual(leftovers, [], 'no scratch or old database left behind');
      const [{ n }] = (await suite.server.query<{ n: string }>('postgres', 'select count(*) as n from pg_database')) as [{ n: string }];
      assert.equal(Number(n), 3 + 2, 'the source server was not touched');

      // The undo command brings the other server's postgres back as it was (empty); the source's stays.
      const undo = /to undo: lifeboat (restore .*--yes)\)/.exec(r.stdout)![1]!.split(' ').map((a) => a.replace(/^postgres:\/\/.*/, `${other!.url}/`));
      const undone = await ws.run([...undo, '--force']);
      assert.equal(undone.code, 0, undone.stderr);
      assert.deepEqual(await tableFingerprints(other!, 'postgres'), {});
      assert.deepEqual(await tableFingerprints(suite.server, 'postgres'), source.postgres);
    });
  });
});

describe('a database re-created in a scratch cluster', () => {
  test('postgres and template1 are made empty from template0 with the encoding asked for; template1 stays a template', async () => {
    const { freshDatabase } = await import('../../src/postgres/scratch-cluster.ts');
    const { parsePgUrl } = await import('../../src/postgres/connection.ts');
    const server = parsePgUrl(suite.server.urlFor('postgres'));
    await suite.server.query('template1', 'create table public.leftover (id int)');
    await freshDatabase(server, 'template1', 'LATIN1');
    await freshDatabase(server, 'postgres', 'SQL_ASCII');
    const rows = await suite.server.query<{ datname: string; t: boolean; e: string }>('template1', `
      select datname, datistemplate as t, pg_encoding_to_char(encoding) as e from pg_database where datname in ('postgres', 'template1') order by 1`);
    assert.deepEqual(rows, [{ datname: 'postgres', t: false, e: 'SQL_ASCII' }, { datname: 'template1', t: true, e: 'LATIN1' }]);
    assert.deepEqual(await tableFingerprints(suite.server, 'template1'), {});
    assert.deepEqual(await tableFingerprints(suite.server, 'postgres'), {});
  });
});
