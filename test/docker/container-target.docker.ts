import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { dockerUnavailable, startTestDocker, type TestDocker } from '../support/docker.ts';
import { postgresImage, runPostgres, type PostgresContainer, pathWithoutPostgres, query } from '../support/postgres-image.ts';
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

/** Workspaces made by a describe's tests with their config written, kept in `spaces` for its after(). */
function workspaces(): { ws: (yaml: (w: Workspace) => string) => Workspace; spaces: Workspace[] } {
  const spaces: Workspace[] = [];
  const ws = (yaml: (w: Workspace) => string): Workspace => {
    const w = workspace();
    spaces.push(w);
    w.writeConfig(yaml(w));
    return w;
  };
  return { ws, spaces };
}

describe('containers as targets', { skip }, () => {
  let d: TestDocker;
  let db: PostgresContainer;
  const { ws, spaces } = workspaces();
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

describe('exec mode through a FIFO in the container (/proc/<pid>/root)', { skip }, () => {
  let d: TestDocker;
  let db: PostgresContainer;
  const { ws, spaces } = workspaces();
  const target = (container: string) => ws((w) => `storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  app:\n    postgres: { container: ${container}, databases: [n8n] }\n    storage: local\n`);
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ DOCKER_HOST: d.host, ...extra });
  /** What Lifeboat left in the container's /tmp. */
  const leftovers = async (name: string) => (await d.docker(['exec', name, 'ls', '-a', '/tmp'])).split('\n').filter((f) => f.startsWith('lifeboat-'));
  /** The container's processes by name (the test image has no ps). */
  const processes = async (name: string) => (await d.docker(['exec', name, 'sh', '-c', 'cat /proc/[0-9]*/comm 2>/dev/null; true'])).split('\n').filter(Boolean);
  type Shown = { manifest: { postgres: { databases: { name: string; dumpSize: number; dumpIndex?: unknown; tables: { name: string; rows: number }[] }[] } } };

  before(async () => {
    d = await startTestDocker();
    // The official images have mkfifo (coreutils; busybox on Alpine); the one made from this
    // machine's files gets it here, under the same tag (ls, already there, needs the same libraries).
    const { tag } = await postgresImage(d);
    const id = (await d.docker(['create', tag])).trim();
    await d.docker(['cp', '-L', '/usr/bin/mkfifo', `${id}:/usr/bin/mkfifo`]);
    // And a /tmp (the entrypoint makes it at start, too late for a read-only root).
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'lb-tmp-'));
    chmodSync(tmp, 0o1777);
    await d.docker(['cp', tmp, `${id}:/tmp`]);
    rmSync(tmp, { recursive: true });
    await d.docker(['commit', id, tag]);
    await d.docker(['rm', id]);
    db = await runPostgres(d, { name: 'fifo-postgres', database: 'n8n', user: 'n8n' });
    await seed(db);
  });
  after(async () => {
    await d?.stop();
    for (const w of spaces) w.remove();
  });

  test('backup and restore take the FIFO; the bundle holds the same dump as through the exec stream; nothing is left in /tmp', async () => {
    const w = target('fifo-postgres');
    const piped = await w.cli(['backup', 'app'], { env: env() });
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stdout + piped.stderr, /using pg_dump 15\.\d+ from container fifo-postgres through a FIFO/);
    const streamed = await w.cli(['backup', 'app'], { env: env({ LIFEBOAT_DOCKER_TRANSPORT: 'stream' }) });
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.match(streamed.stdout + streamed.stderr, /from container fifo-postgres through the exec stream \(LIFEBOAT_DOCKER_TRANSPORT=stream\)/);

    // The same data in the same archive layout: only pg_dump's timestamp in the header differs.
    const [second, first] = (await w.run(['list', 'app', '--json'])).json<{ id: string }[]>();
    const dumpOf = async (id: string) => (await w.run(['show', id, '--json'])).json<Shown>().manifest.postgres.databases[0]!;
    const [viaFifo, viaStream] = [await dumpOf(first!.id), await dumpOf(second!.id)];
    assert.ok(viaFifo.dumpIndex, 'the dump was indexed as it streamed');
    assert.deepEqual({ ...viaFifo, dumpSha256: undefined }, { ...viaStream, dumpSha256: undefined });
    assert.equal(viaFifo.tables.find((t) => t.name === 'execution_entity')!.rows, 3000);
    assert.deepEqual(await leftovers('fifo-postgres'), []);

    // The whole database: the dump goes into the container through a FIFO, then pg_restore.
    await query(db, "delete from workflow_entity where id <> 'wf-1'; update credentials_entity set name = 'changed'");
    const plan = await w.cli(['restore', first!.id, '--dry-run'], { env: env() });
    assert.match(plan.stdout + plan.stderr, /pass {2}pg_restore: 15\.\d+ from container fifo-postgres through a FIFO/);
    const whole = await w.cli(['restore', first!.id, '--yes'], { env: env() });
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal((await query<{ n: string }>(db, 'select count(*) as n from workflow_entity'))[0]!.n, '25');
    assert.equal((await query<{ n: string }>(db, "select count(*) as n from credentials_entity where name = 'changed'"))[0]!.n, '0');

    // One table: its data block streamed into pg_restore's input.
    await query(db, 'delete from credentials_entity');
    const one = await w.cli(['restore', first!.id, '--database', 'n8n', '--table', 'public.credentials_entity', '--yes'], { env: env() });
    assert.equal(one.code, 0, one.stderr);
    assert.equal((await query<{ n: string }>(db, 'select count(*) as n from credentials_entity'))[0]!.n, '4');
    assert.deepEqual(await leftovers('fifo-postgres'), []);
  });

  test('a container whose root file system is read-only: the exec stream, said why, and a good backup', async () => {
    // Initialised in a volume first: the entrypoint itself needs a writable /tmp.
    const ro = await runPostgres(d, { name: 'ro-init', database: 'n8n', user: 'n8n', volume: 'ro_data' });
    await seed(ro);
    await d.docker(['rm', '-f', ro.name]);
    await d.docker(['run', '-d', '--network', 'host', '--read-only', '--tmpfs', '/var/run/postgresql:mode=1777', '--name', 'ro-postgres',
      '-e', `PGPORT=${ro.port}`, '-e', 'POSTGRES_USER=n8n', '-e', `POSTGRES_PASSWORD=${ro.password}`, '-e', 'POSTGRES_DB=n8n',
      '-v', 'ro_data:/var/lib/postgresql/data', '--entrypoint', 'setpriv', 'postgres:15',
      '--reuid=postgres', '--regid=postgres', '--init-groups', 'postgres', '-c', 'listen_addresses=*']);
    const w = target('ro-postgres');
    let r;
    for (let i = 0; i < 100; i++) {
      r = await w.cli(['backup', 'app'], { env: env() });
      if (!/starting up|not yet accepting|cannot reach|Connection terminated/.test(r.stderr)) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(r!.code, 0, r!.stderr);
    assert.match(r!.stderr + r!.stdout, /from container ro-postgres through the exec stream \(cannot make a FIFO in the container's \/tmp: mkfifo: .*Read-only file system\)/);
    const shown = (await w.run(['show', (await w.run(['list', 'app', '--json'])).json<{ id: string }[]>()[0]!.id, '--json'])).json<Shown>();
    assert.equal(shown.manifest.postgres.databases[0]!.tables.find((t) => t.name === 'execution_entity')!.rows, 3000);
    const forced = await w.cli(['backup', 'app'], { env: env({ LIFEBOAT_DOCKER_TRANSPORT: 'pipe' }) });
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stderr, /LIFEBOAT_DOCKER_TRANSPORT=pipe, but no FIFO reaches into the container ro-postgres: cannot make a FIFO/);
  });

  test('a pg_dump that fails fails with its own message, at once, and leaves no FIFO', async () => {
    const { containerEndpoint } = await import('../../src/docker/target.ts');
    const { runTool } = await import('../../src/postgres/dump.ts');
    const endpoint = await containerEndpoint({ container: 'fifo-postgres', databases: ['n8n'] } as Parameters<typeof containerEndpoint>[0], env());
    assert.match((await endpoint.exec!.tools()).dir, /through a FIFO/);
    const run = runTool('pg_dump', ['--format=custom', '--no-password', `--dbname=${endpoint.url.replace(/\/n8n$/, '/nowhere')}`], endpoint);
    const out: Buffer[] = [];
    for await (const chunk of run.stdout) out.push(chunk as Buffer);
    await assert.rejects(run.done, /pg_dump failed on .* in the container fifo-postgres: .*database "nowhere" does not exist/);
    assert.equal(Buffer.concat(out).length, 0);
    assert.deepEqual(await leftovers('fifo-postgres'), []);
  });

  test('Ctrl-C stops pg_dump in the container even while it waits on a lock, and removes the FIFO', async () => {
    const w = target('fifo-postgres');
    // A lock pg_dump waits on, so it writes nothing: closing the FIFO alone would not end it.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin; lock table workflow_entity in access exclusive mode');
      const child = w.spawnCli(['backup', 'app'], { env: env() });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const deadline = Date.now() + 60_000;
      while (!(await processes('fifo-postgres')).includes('pg_dump')) {
        assert.ok(Date.now() < deadline, `pg_dump did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(out, /through a FIFO/);
      child.kill('SIGINT');
      assert.notEqual(await exited, 0, out);
      // The signal is sent before Lifeboat exits; the engine reaps the process a moment later.
      for (let i = 0; (await processes('fifo-postgres')).includes('pg_dump'); i++) {
        assert.ok(i < 50, `pg_dump still runs in the container after the cancel: ${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(await leftovers('fifo-postgres'), []);
    } finally {
      await locker.end();
    }
  });
});
