import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dockerUnavailable, startTestDocker, type TestDocker } from '../support/docker.ts';
import { runPostgres, type PostgresContainer } from '../support/postgres-image.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const skip = dockerUnavailable();
const BIN = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));

/** An n8n-like schema with rows, in the container's database. */
async function seed(c: PostgresContainer): Promise<void> {
  const client = new pg.Client({ connectionString: c.url });
  await client.connect();
  try {
    await client.query(`
      create table workflow_entity (id varchar(36) primary key, name text not null, active boolean not null default false, nodes json);
      create table credentials_entity (id varchar(36) primary key, name text not null, type text not null, data text not null);
      create table execution_entity (id serial primary key, "workflowId" varchar(36), finished boolean, "startedAt" timestamptz default now());
      insert into workflow_entity select 'wf-' || i, 'Workflow ' || i, i % 2 = 0, '[]' from generate_series(1, 25) i;
      insert into credentials_entity select 'cr-' || i, 'Cred ' || i, 'httpBasicAuth', 'U2FsdGVkX1' || md5(i::text) from generate_series(1, 4) i;
      insert into execution_entity ("workflowId", finished) select 'wf-' || (i % 25 + 1), true from generate_series(1, 3000) i;`);
  } finally {
    await client.end();
  }
}

async function query<T extends pg.QueryResultRow>(c: PostgresContainer, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: c.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A PATH for the Lifeboat process with no PostgreSQL client tool on it (only the container has
 * them): /usr/bin's other commands, linked into a folder of their own.
 */
function pathWithoutPostgres(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-nopg-'));
  for (const name of readdirSync('/usr/bin')) {
    if (/^(pg_|psql|pgbench|createdb|dropdb|createuser|dropuser|clusterdb|reindexdb|vacuumdb)/.test(name)) continue;
    symlinkSync(path.join('/usr/bin', name), path.join(dir, name));
  }
  return dir;
}

describe('containers as targets', { skip }, () => {
  let d: TestDocker;
  let db: PostgresContainer;
  const spaces: Workspace[] = [];
  const ws = (yaml: (w: Workspace) => string): Workspace => {
    const w = workspace();
    spaces.push(w);
    w.writeConfig(yaml(w));
    return w;
  };
  let noPgPath: string;
  const env = () => ({ DOCKER_HOST: d.host, PATH: noPgPath });

  before(async () => {
    noPgPath = pathWithoutPostgres();
    d = await startTestDocker();
    db = await runPostgres(d, { name: 'n8n-postgres-1', database: 'n8n', user: 'n8n', labels: { 'com.docker.compose.project': 'n8n', 'com.docker.compose.service': 'postgres' } });
    await seed(db);
  });
  after(async () => {
    await d?.stop();
    for (const w of spaces) w.remove();
    rmSync(noPgPath, { recursive: true, force: true });
  });

  test('backs up through the exec API with no pg_dump on PATH; the bundle has the shape of a host-tools one; restores whole and one table', async () => {
    const w = ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { container: n8n-postgres-1, databases: [n8n], globals: true }\n    storage: local\n  host:\n    postgres: { url: "postgres://n8n@127.0.0.1:${db.port}/n8n", databases: [n8n], globals: true }\n    storage: local\n`);
    const r = await w.cli(['backup', 'n8n'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const id = (await w.run(['list', 'n8n', '--json'])).json<{ id: string }[]>()[0]!.id;
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(db.password), 'the password is never printed');
    assert.match((await w.run(['show', id])).stdout, /pg_dump 15\.\d+/);
    assert.match(r.stdout + r.stderr, /using pg_dump 15\.\d+ from container n8n-postgres-1/);

    const host = await w.cli(['backup', 'host', '--json'], { env: { PGPASSWORD: db.password } });
    assert.equal(host.code, 0, host.stderr);
    type Shown = { manifest: { postgres: { serverVersion: string; pgDumpVersion: string; globals: boolean; databases: { name: string; tables: { name: string; rows: number; columns: unknown[] }[]; dumpIndex?: unknown }[] } } };
    const shape = (s: Shown) => ({
      ...s.manifest.postgres,
      databases: s.manifest.postgres.databases.map((x) => ({ name: x.name, indexed: x.dumpIndex !== undefined, tables: x.tables.map((t) => [t.name, t.rows, t.columns]) })),
    });
    const inContainer = (await w.run(['show', id, '--json'])).json<Shown>();
    const onHost = (await w.run(['show', host.json<{ id: string }>().id, '--json'])).json<Shown>();
    assert.deepEqual(shape(inContainer), shape(onHost));
    assert.equal(inContainer.manifest.postgres.databases[0]!.tables.find((t) => t.name === 'execution_entity')!.rows, 3000);

    const listed = await w.cli(['list', 'n8n', '--json'], { env: env() });
    assert.doesNotMatch(listed.stdout, new RegExp(db.password));

    // Whole database, in place, through pg_restore inside the container.
    await query(db, "delete from workflow_entity where id <> 'wf-1'; update credentials_entity set name = 'changed'");
    const whole = await w.cli(['restore', id, '--yes'], { env: env() });
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal((await query<{ n: string }>(db, 'select count(*) as n from workflow_entity'))[0]!.n, '25');
    assert.equal((await query<{ n: string }>(db, "select count(*) as n from credentials_entity where name = 'changed'"))[0]!.n, '0');

    // One table.
    await query(db, 'delete from credentials_entity');
    const one = await w.cli(['restore', id, '--database', 'n8n', '--table', 'public.credentials_entity', '--yes'], { env: env() });
    assert.equal(one.code, 0, one.stderr);
    assert.equal((await query<{ n: string }>(db, 'select count(*) as n from credentials_entity'))[0]!.n, '4');
    assert.equal((await query<{ n: string }>(db, 'select count(*) as n from execution_entity'))[0]!.n, '3000');
  });

  test('finds the container by pattern and by label; LIFEBOAT_POSTGRES_CONTAINER for env-only setups', async () => {
    for (const sel of ['{ pattern: "n8n-postgres" }', '{ label: "com.docker.compose.project=n8n" }']) {
      const w = ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { container: ${sel}, databases: [n8n] }\n    storage: local\n`);
      const r = await w.run(['backup', 'n8n', '--json'], { env: env() });
      assert.equal(r.code, 0, `${sel}: ${r.stderr}`);
    }
    const w = ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { databases: [n8n] }\n    storage: local\n`);
    const r = await w.run(['backup', 'n8n', '--json'], { env: { ...env(), LIFEBOAT_POSTGRES_CONTAINER: 'n8n-postgres-1' } });
    assert.equal(r.code, 0, r.stderr);
    const none = await w.run(['backup', 'n8n'], { env: env() });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /neither url nor container/);
  });

  test('errors: no match, several matches, a stopped container, no socket, permission denied, wrong credentials in env', async () => {
    const target = (sel: string, extra = '') => ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  t:\n    postgres: { container: ${sel}${extra} }\n    storage: local\n`);

    const none = await target('nothing-here').run(['backup', 't'], { env: env() });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no container "nothing-here" at unix:\/\/.*; running: n8n-postgres-1 \(postgres:15\)/);

    const other = await runPostgres(d, { name: 'shop-postgres-1' });
    const two = await target('{ pattern: "postgres" }').run(['backup', 't'], { env: env() });
    assert.equal(two.code, 2, two.stderr);
    assert.match(two.stderr, /2 running containers matching \/postgres\/: (n8n-postgres-1, shop-postgres-1|shop-postgres-1, n8n-postgres-1)/);

    await d.docker(['stop', '-t', '2', other.name]);
    const stopped = await target('shop-postgres-1').run(['backup', 't'], { env: env() });
    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(stopped.stderr, /container "shop-postgres-1" is not running \(exited/);
    assert.match(stopped.stderr, /hint: start it \(docker start shop-postgres-1/);

    const socket = await target('n8n-postgres-1').run(['backup', 't'], { env: { ...env(), DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    assert.equal(socket.code, 1, socket.stderr);
    assert.match(socket.stderr, /no Docker socket at \/nonexistent\/docker.sock/);

    // An ordinary user, not in the socket's group: the engine refuses it.
    const user = target('n8n-postgres-1');
    chmodSync(user.dir, 0o777);
    chmodSync(user.storage, 0o777);
    const denied = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'backup', 't'], {
      cwd: user.dir, encoding: 'utf8', env: { ...process.env, ...env(), LIFEBOAT_CONFIG: user.config, LIFEBOAT_HOME: path.join(user.dir, 'home') },
    });
    assert.equal(denied.status, 1, denied.stderr);
    assert.match(denied.stderr, /permission denied on the Docker socket .*docker.sock\nhint: run Lifeboat as a user in the docker group/);

    // The volume was made with one password; the container's env now says another.
    await d.docker(['rm', other.name]);
    const drifted = await runPostgres(d, { name: 'drift-postgres', password: 'first-password', volume: 'drift_data' });
    await d.docker(['rm', '-f', drifted.name]);
    await d.docker(['run', '-d', '--network', 'host', '--name', 'drift-postgres', '-e', `PGPORT=${drifted.port}`, '-e', 'POSTGRES_USER=app', '-e', 'POSTGRES_PASSWORD=second-password', '-e', 'POSTGRES_DB=app', '-v', 'drift_data:/var/lib/postgresql/data', 'postgres:15']);
    let wrong;
    for (let i = 0; i < 50; i++) {
      wrong = await target('drift-postgres').run(['backup', 't'], { env: env() });
      if (!/not running|cannot reach|starting up|not yet accepting|Connection terminated/.test(wrong.stderr)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(wrong!.code, 1, wrong!.stderr);
    assert.match(wrong!.stderr, /password authentication failed for user "app"/);
    assert.doesNotMatch(wrong!.stderr, /second-password/);
  });
});
