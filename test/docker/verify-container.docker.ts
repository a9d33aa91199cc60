import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { Catalog } from '../../src/catalog/catalog.ts';
import { dockerUnavailable, startTestDocker, type TestDocker } from '../support/docker.ts';
import { runPostgres, type PostgresContainer } from '../support/postgres-image.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const skip = dockerUnavailable();

type Report = { ok: boolean; checks: { name: string; ok: boolean; expected?: string; actual?: string }[] };

describe('verification in a throwaway container from the database container\'s image', { skip }, () => {
  let d: TestDocker;
  let db: PostgresContainer;
  let noServer: string;
  const spaces: Workspace[] = [];
  const env = () => ({ DOCKER_HOST: d.host });
  const scratchLeft = async () => (await d.docker(['ps', '-a', '--filter', 'label=io.lifeboat.scratch', '--format', '{{.Names}}'])).split('\n').filter(Boolean);

  /** A workspace backing the container up, with one backup; `verification` as given. */
  async function backedUp(verification: string): Promise<{ w: Workspace; id: string }> {
    const w = workspace();
    spaces.push(w);
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  app:\n    postgres: { container: app-db, databases: [app] }\n    storage: local\n    verification: ${verification}\n`);
    const r = await w.run(['backup', 'app', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    return { w, id: r.json<{ id: string }>().id };
  }

  before(async () => {
    // A directory with no server binaries: "no fitting PostgreSQL server on this host".
    noServer = mkdtempSync(path.join(os.tmpdir(), 'lb-noserver-'));
    d = await startTestDocker();
    db = await runPostgres(d, { name: 'app-db' });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`create table orders (id serial primary key, total numeric(10,2), note text);
      insert into orders (total, note) select i * 1.5, 'order ' || i from generate_series(1, 2000) i;`);
    await client.end();
  });
  after(async () => {
    await d?.stop();
    for (const w of spaces) w.remove();
    rmSync(noServer, { recursive: true, force: true });
  });

  test('with no fitting server binaries the test restore runs in a container of the source image; a leftover from a killed run is removed first; none remains', async () => {
    // A scratch container whose Lifeboat was killed: its owner pid is not alive.
    await d.docker(['run', '-d', '--network', 'host', '--name', 'lifeboat-scratch-dead', '--label', 'io.lifeboat.scratch=999999999', '--label', `io.lifeboat.scratch.host=${os.hostname()}`, '--entrypoint', 'sleep', 'postgres:15', 'infinity']);
    const { w, id } = await backedUp(`{ binDir: ${noServer} }`);
    const r = await w.run(['verify', id, '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = r.json<Report>();
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    assert.deepEqual(byName.get('app: table public.orders'), { name: 'app: table public.orders', ok: true, expected: '2000 rows', actual: '2000 rows' });
    assert.deepEqual(await scratchLeft(), [], 'the scratch container and the leftover are gone');
    const show = await w.run(['show', id]);
    assert.match(show.stdout, /verified +passed \(full\) at /);
  });

  test('Ctrl-C during the test restore removes the scratch container', async () => {
    const { w, id } = await backedUp('{ scratch: container }');
    const child = w.spawnCli(['verify', id], { env: env() });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 60_000;
    while ((await scratchLeft()).length === 0) {
      assert.ok(Date.now() < deadline, `no scratch container appeared: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const code = await exited;
    assert.notEqual(code, 0, out);
    assert.deepEqual(await scratchLeft(), [], `the scratch container is removed on Ctrl-C: ${out}`);
  });

  test('kill -9 while a scratch database exists on the container\'s server, or a scratch container: the next command drops and removes them through the engine', async () => {
    const { w, id } = await backedUp('{ scratch: container }');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const scratchDbs = async () => (await client.query<{ datname: string }>("select datname from pg_database where datname ~ '^lifeboat_|_lifeboat_'")).rows.map((r) => r.datname);
    const reaped = () => {
      const catalog = Catalog.open(w.home);
      try {
        return catalog.listEvents({ kind: 'resources_reaped' }).map((e) => e.message);
      } finally {
        catalog.close();
      }
    };
    /** Starts the CLI, kills it with SIGKILL once `ready` says so; returns what it printed. */
    const killWhen = async (args: string[], ready: () => Promise<boolean>) => {
      const child = w.spawnCli(args, { env: env() });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      const exited = new Promise((resolve) => child.on('close', resolve));
      while (child.exitCode === null && !(await ready())) await new Promise((r) => setTimeout(r, 10));
      assert.equal(child.exitCode, null, `it ended before the kill point: ${out}`);
      child.kill('SIGKILL');
      await exited;
      return out;
    };
    try {
      // A table restore makes its scratch database on the target's server, through the exec tunnel.
      let seen: string[] = [];
      await killWhen(['restore', id, '--database', 'app', '--table', 'public.orders', '--rename-to', 'orders_k', '--yes'], async () => (seen = await scratchDbs()).length > 0);
      assert.notDeepEqual(seen, []);
      const next = await w.run(['list', '--json'], { env: env() });
      assert.equal(next.code, 0, next.stderr);
      assert.deepEqual(await scratchDbs(), [], 'the scratch database is dropped through the container');
      assert.match(reaped().join('\n'), new RegExp(`removed \\d+ resource\\(s\\) .*: scratch database ${seen[0]} on container app-db`));

      // A verification's throwaway container.
      await killWhen(['verify', id], async () => (await scratchLeft()).length > 0);
      assert.notDeepEqual(await scratchLeft(), [], 'the killed run left its scratch container');
      assert.equal((await w.run(['list', '--json'], { env: env() })).code, 0);
      assert.deepEqual(await scratchLeft(), [], 'the next command removes it');
      assert.match(reaped().join('\n'), /container lifeboat-scratch-[0-9a-f]+/);
      const catalog = Catalog.open(w.home);
      try {
        assert.deepEqual(catalog.listResources(), [], 'nothing stays recorded');
      } finally {
        catalog.close();
      }
    } finally {
      await client.end();
    }
  });
});
