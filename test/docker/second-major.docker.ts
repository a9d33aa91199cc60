import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { dockerUnavailable, startTestDocker, type TestDocker } from '../support/docker.ts';
import { postgresImageUnavailable, runPostgres, type PostgresContainer, pathWithoutPostgres, query } from '../support/postgres-image.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

// PostgreSQL 17 comes from Debian trixie (made once per machine and cached; `npm run test:prepare`).
const skip = dockerUnavailable() ?? (await postgresImageUnavailable(17));

/** Each table's rows as one digest, to compare a database before and after a restore. */
async function contents(c: PostgresContainer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of ['customers', 'orders', 'events']) {
    out[t] = (await query<{ d: string }>(c, `select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') as d from ${t} t`))[0]!.d;
  }
  return out;
}

describe('a PostgreSQL 17 container beside a 15 one', { skip }, () => {
  let d: TestDocker;
  let db15: PostgresContainer;
  let db17: PostgresContainer;
  let noPgPath: string;
  const spaces: Workspace[] = [];
  const env = () => ({ DOCKER_HOST: d.host, PATH: noPgPath });
  const ws = (yaml: (w: Workspace) => string): Workspace => {
    const w = workspace();
    spaces.push(w);
    w.writeConfig(yaml(w));
    return w;
  };

  before(async () => {
    noPgPath = pathWithoutPostgres();
    d = await startTestDocker();
    const compose = (project: string) => ({ 'com.docker.compose.project': project, 'com.docker.compose.service': 'db' });
    [db15, db17] = await Promise.all([
      runPostgres(d, { name: 'old-db-1', user: 'old', database: 'old', labels: compose('old') }),
      runPostgres(d, { name: 'shop-db-1', major: 17, user: 'shop', database: 'shop', labels: compose('shop') }),
    ]);
    // Things a 17 dump writes that a 15 one does not: identity columns, a generated column, a
    // NULLS NOT DISTINCT index (15+), a MERGE-fed table, JSON_TABLE-free but 17-dumped all the same.
    await query(db17, `
      create table customers (id int generated always as identity primary key, email text not null, name text);
      create unique index customers_email on customers (email) nulls not distinct;
      create table orders (id bigserial primary key, customer int references customers(id), total numeric(10,2), taxed numeric(10,2) generated always as (total * 1.2) stored, placed timestamptz default '2026-01-01');
      create table events (id serial primary key, payload jsonb, at timestamptz default '2026-01-01');
      insert into customers (email, name) select 'c' || i || '@example.com', 'Customer ' || i from generate_series(1, 300) i;
      insert into orders (customer, total) select i % 300 + 1, i * 0.5 from generate_series(1, 4000) i;
      insert into events (payload) select jsonb_build_object('n', i, 'kind', 'click') from generate_series(1, 2500) i;`);
  });
  after(async () => {
    await d?.stop();
    for (const w of spaces) w.remove();
    if (noPgPath) rmSync(noPgPath, { recursive: true, force: true });
  });

  test('discover reports both containers with their own versions', async () => {
    const w = ws(() => '');
    const r = await w.run(['discover', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const found = r.json<{ containers: { name: string; image: string; version: string }[] }>().containers;
    assert.deepEqual(found.map((c) => [c.name, c.image]), [['old-db-1', 'postgres:15'], ['shop-db-1', 'postgres:17']]);
    assert.match(found[0]!.version, /^15\.\d+$/);
    assert.match(found[1]!.version, /^17\.\d+$/);
    const text = await w.run(['discover'], { env: env() });
    assert.match(text.stdout, /shop-db-1\s+postgres:17\s+17\.\d+\s+shop/);
  });

  test('exec-mode backup with the container\'s pg_dump 17, verified in a throwaway 17 container, restored whole and one table', async () => {
    const w = ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  shop:\n    postgres: { container: shop-db-1, databases: [shop], globals: true }\n    storage: local\n  host:\n    postgres: { url: "postgres://shop@127.0.0.1:${db17.port}/shop", databases: [shop] }\n    storage: local\n`);
    // The host's own tools are 15: they cannot dump a 17 server, which is why the container's are used.
    const onHost = await w.cli(['backup', 'host'], { env: { PGPASSWORD: db17.password } });
    assert.notEqual(onHost.code, 0, onHost.stdout);
    assert.match(onHost.stderr, /the server runs PostgreSQL 17 but the newest pg_dump found is 15\.\d+/);

    const before = await contents(db17);
    const r = await w.cli(['backup', 'shop'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr + r.stdout, /using pg_dump 17\.\d+ from container shop-db-1/);
    const id = (await w.run(['list', 'shop', '--json'])).json<{ id: string }[]>()[0]!.id;
    type Shown = { manifest: { postgres: { serverVersion: string; pgDumpVersion: string; databases: { name: string; tables: { name: string; rows: number }[]; dumpIndex?: unknown }[] } } };
    const shown = (await w.run(['show', id, '--json'])).json<Shown>().manifest.postgres;
    assert.match(shown.serverVersion, /^17\./);
    assert.match(shown.pgDumpVersion, /^17\./);
    assert.ok(shown.databases[0]!.dumpIndex, 'the dump index read the 17 archive (format 1.16)');
    assert.deepEqual(shown.databases[0]!.tables.map((t) => [t.name, t.rows]).sort(), [['customers', 300], ['events', 2500], ['orders', 4000]]);

    // The host's PostgreSQL 15 server cannot take a 17 dump: the throwaway server is a 17 container.
    const scratchImages: string[] = [];
    const watching = (async () => {
      for (let i = 0; i < 600 && scratchImages.length === 0; i++) {
        const seen = (await d.docker(['ps', '-a', '--filter', 'label=io.lifeboat.scratch', '--format', '{{.Image}}']).catch(() => '')).split('\n').filter(Boolean);
        scratchImages.push(...seen);
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    const v = await w.cli(['verify', id, '--json'], { env: env() });
    scratchImages.push('(verify ended)');
    await watching;
    assert.equal(v.code, 0, v.stderr + v.stdout);
    const report = v.json<{ ok: boolean; checks: { name: string; ok: boolean; actual?: string }[] }>();
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    assert.equal(report.checks.find((c) => c.name === 'shop: table public.orders')?.actual, '4000 rows');
    // Made from the source container's image, by id.
    const image17 = (await d.docker(['image', 'inspect', 'postgres:17', '--format', '{{.Id}}'])).trim();
    assert.ok(scratchImages[0] && image17.replace(/^sha256:/, '').startsWith(scratchImages[0]), `the scratch container's image: ${scratchImages.join(', ')}; postgres:17 is ${image17}`);
    assert.equal((await d.docker(['ps', '-aq', '--filter', 'label=io.lifeboat.scratch'])).trim(), '', 'no scratch container is left');

    // One table, through pg_restore 17 inside the container.
    await query(db17, 'delete from events where id > 10');
    const one = await w.cli(['restore', id, '--database', 'shop', '--table', 'public.events', '--yes'], { env: env() });
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(await contents(db17), before);

    // The whole database.
    await query(db17, "delete from orders where id % 2 = 0; update customers set name = 'changed'; delete from events");
    const whole = await w.cli(['restore', id, '--yes'], { env: env() });
    assert.equal(whole.code, 0, whole.stderr);
    assert.deepEqual(await contents(db17), before);
    // The 15 container beside it was not touched.
    assert.equal((await query<{ n: string }>(db15, "select count(*) as n from pg_tables where schemaname = 'public'"))[0]!.n, '0');
  });
});
