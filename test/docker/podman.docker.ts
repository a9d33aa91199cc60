import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDocker } from '../support/docker.ts';
import { podmanUnavailable, startTestPodman } from '../support/podman.ts';
import { runPostgres, type PostgresContainer, pathWithoutPostgres, query } from '../support/postgres-image.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

// Podman's Docker-compatible API, driven exactly as Docker's: the same PostgreSQL image made from
// this machine's files, the same CLI commands, only DOCKER_HOST names Podman's socket.
const skip = podmanUnavailable();

describe('Podman\'s Docker-compatible socket', { skip }, () => {
  let d: TestDocker;
  let db: PostgresContainer;
  let w: Workspace;
  let noPgPath: string;
  const env = () => ({ DOCKER_HOST: d.host, PATH: noPgPath });

  before(async () => {
    noPgPath = pathWithoutPostgres();
    w = workspace();
    d = await startTestPodman();
    db = await runPostgres(d, { name: 'n8n-postgres-1', user: 'n8n', database: 'n8n', labels: { 'com.docker.compose.project': 'n8n', 'com.docker.compose.service': 'postgres' } });
    await query(db, `
      create table workflow_entity (id varchar(36) primary key, name text not null, active boolean not null default false);
      create table credentials_entity (id varchar(36) primary key, name text not null, type text not null, data text not null);
      insert into workflow_entity select 'wf-' || i, 'Workflow ' || i, i % 2 = 0 from generate_series(1, 25) i;
      insert into credentials_entity select 'cr-' || i, 'Cred ' || i, 'httpBasicAuth', 'U2FsdGVkX1' || md5(i::text) from generate_series(1, 4) i;`);
    // No user or password: the login comes from the container's POSTGRES_* environment.
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { container: n8n-postgres-1, databases: [n8n] }\n    storage: local\n`);
  });
  after(async () => {
    await d?.stop();
    w?.remove();
    if (noPgPath) rmSync(noPgPath, { recursive: true, force: true });
  });

  test('lifeboat discover finds the PostgreSQL container: image, version asked inside, Compose project, database', async () => {
    const r = await w.run(['discover', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const found = r.json<{ containers: { name: string; image: string; version: string; project: string; database: string }[]; fragment: string }>();
    assert.deepEqual(found.containers.map((c) => [c.name, c.project, c.database]), [['n8n-postgres-1', 'n8n', 'n8n']]);
    // Podman names images in full where Docker says postgres:15 (README: Podman): a pulled one
    // docker.io/library/postgres:15, one loaded from an archive (the tests' image cache) localhost/.
    assert.match(found.containers[0]!.image, /^(docker\.io\/library|localhost)\/postgres:15$/);
    assert.match(found.containers[0]!.version, /^15\.\d+$/);
    assert.match(found.fragment, /container: n8n-postgres-1 /);
  });

  test('backs up in exec mode with no pg_dump on PATH, logged in with the container\'s own env; restores one table', async () => {
    const r = await w.cli(['backup', 'n8n'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /using pg_dump 15\.\d+ from container n8n-postgres-1/);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(db.password), 'the password is never printed');
    const id = (await w.run(['list', 'n8n', '--json'])).json<{ id: string }[]>()[0]!.id;
    type Shown = { manifest: { postgres: { databases: { name: string; tables: { name: string; rows: number }[] }[] } } };
    const shown = (await w.run(['show', id, '--json'])).json<Shown>();
    const tables = shown.manifest.postgres.databases[0]!.tables;
    assert.deepEqual(tables.map((t) => [t.name, t.rows]).sort(), [['credentials_entity', 4], ['workflow_entity', 25]]);

    await query(db, "delete from credentials_entity; update workflow_entity set name = 'kept'");
    const one = await w.run(['restore', id, '--database', 'n8n', '--table', 'public.credentials_entity', '--yes'], { env: env() });
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(await query(db, 'select id, name from credentials_entity order by id'), [1, 2, 3, 4].map((i) => ({ id: `cr-${i}`, name: `Cred ${i}` })));
    assert.equal((await query<{ n: string }>(db, "select count(*) as n from workflow_entity where name = 'kept'"))[0]!.n, '25', 'the other table is left alone');
  });

  test('verifies in a throwaway container of the source\'s image, found and removed by its label', async () => {
    const v = workspace();
    try {
      v.writeConfig(`storages:\n  local: { type: local, path: ${v.storage} }\ntargets:\n  n8n:\n    postgres: { container: n8n-postgres-1, databases: [n8n] }\n    storage: local\n    verification: { scratch: container }\n`);
      const r = await v.run(['backup', 'n8n', '--json'], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      const verified = await v.run(['verify', r.json<{ id: string }>().id, '--json'], { env: env() });
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      const report = verified.json<{ ok: boolean; checks: { name: string; ok: boolean; actual?: string }[] }>();
      assert.equal(report.ok, true, JSON.stringify(report.checks));
      assert.equal(report.checks.find((c) => c.name === 'n8n: table public.workflow_entity')?.actual, '25 rows');
      assert.deepEqual((await d.docker(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean), ['n8n-postgres-1'], 'the scratch container is gone');
    } finally {
      v.remove();
    }
  });

  test('a named volume is a file set through its mountpoint and through a helper container (the archive API)', async () => {
    await d.docker(['volume', 'create', 'n8n_data']);
    await d.docker(['run', '--rm', '--network', 'host', '--entrypoint', 'sh', '-v', 'n8n_data:/d', 'postgres:15', '-c', 'echo \'{"encryptionKey":"k3y"}\' > /d/config && mkdir /d/nodes && echo custom > /d/nodes/package.json']);
    const mountpoint = JSON.parse(await d.docker(['volume', 'inspect', 'n8n_data', '--format', '{{json .Mountpoint}}'])) as string;
    const v = workspace();
    try {
      for (const via of ['mountpoint', 'helper']) {
        v.writeConfig(`storages:\n  local: { type: local, path: ${v.storage} }\ntargets:\n  n8n:\n    files:\n      n8n-data: { volume: n8n_data, via: ${via} }\n    storage: local\n`);
        const r = await v.run(['backup', 'n8n', '--json'], { env: env() });
        assert.equal(r.code, 0, `${via}: ${r.stderr}`);
        const out = path.join(v.dir, via);
        const restored = await v.run(['restore', r.json<{ id: string }>().id, '--file', 'n8n-data', '--to-dir', out], { env: env() });
        assert.equal(restored.code, 0, `${via}: ${restored.stderr}`);
        assert.equal(readFileSync(path.join(out, mountpoint, 'config'), 'utf8'), '{"encryptionKey":"k3y"}\n', via);
        assert.equal(readFileSync(path.join(out, mountpoint, 'nodes', 'package.json'), 'utf8'), 'custom\n', via);
      }
      assert.deepEqual((await d.docker(['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean), ['n8n-postgres-1'], 'the helper container is gone');
    } finally {
      v.remove();
    }
  });
});
