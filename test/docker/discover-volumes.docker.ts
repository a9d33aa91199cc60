import assert from 'node:assert/strict';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { instanceIdOf } from '../../src/profiles/n8n.ts';
import { dockerUnavailable, importImage, startTestDocker, type TestDocker } from '../support/docker.ts';
import { appImage, libraries, runPostgres } from '../support/postgres-image.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const skip = dockerUnavailable();

type Found = {
  name: string; image: string; version: string; project: string; database: string;
  volumes: { name: string; destination: string }[];
  apps: { name: string; image: string; profile: string; volumes: { name: string; destination: string }[] }[];
};

describe('discover, init --docker, and volumes as file sets', { skip }, () => {
  let d: TestDocker;
  const spaces: Workspace[] = [];
  const ws = (): Workspace => {
    const w = workspace();
    spaces.push(w);
    return w;
  };
  const env = () => ({ DOCKER_HOST: d.host });
  const scratchLeft = async () => (await d.docker(['ps', '-a', '--filter', 'label=io.lifeboat.scratch', '--format', '{{.Names}}'])).split('\n').filter(Boolean);
  const compose = (project: string, service: string) => ['--label', `com.docker.compose.project=${project}`, '--label', `com.docker.compose.service=${service}`];

  before(async () => {
    d = await startTestDocker();
    await Promise.all([appImage(d, 'n8nio/n8n:1.70.0'), appImage(d, 'acme/shop-web:2.3')]);
    await runPostgres(d, { name: 'n8n-postgres-1', user: 'n8n', database: 'n8n', volume: 'n8n_pgdata', labels: { 'com.docker.compose.project': 'n8n', 'com.docker.compose.service': 'postgres' } });
    await runPostgres(d, { name: 'shop-db-1', user: 'shop', database: 'shop', labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'db' } });
    await d.docker(['run', '-d', '--network', 'host', '--name', 'n8n-n8n-1', ...compose('n8n', 'n8n'), '-e', 'N8N_ENCRYPTION_KEY=k3y', '-v', 'n8n_data:/home/node/.n8n', 'n8nio/n8n:1.70.0']);
    await d.docker(['exec', 'n8n-n8n-1', 'sh', '-c', 'echo \'{"encryptionKey":"k3y"}\' > /home/node/.n8n/config && mkdir -p /home/node/.n8n/nodes && echo custom > /home/node/.n8n/nodes/package.json']);
    await d.docker(['run', '-d', '--network', 'host', '--name', 'shop-web-1', ...compose('shop', 'web'), '-w', '/app', 'acme/shop-web:2.3']);
    await d.docker(['exec', 'shop-web-1', 'sh', '-c', 'echo "#!/usr/bin/env python" > /app/manage.py']);
  });
  after(async () => {
    await d?.stop();
    for (const w of spaces) w.remove();
  });

  test('discover lists the PostgreSQL containers with version, project, volumes and the apps beside them; init --docker writes a file config check accepts', async () => {
    const w = ws();
    const r = await w.run(['discover', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const found = r.json<{ containers: Found[]; fragment: string }>();
    assert.deepEqual(found.containers.map((c) => [c.name, c.image, c.project, c.database]), [['n8n-postgres-1', 'postgres:15', 'n8n', 'n8n'], ['shop-db-1', 'postgres:15', 'shop', 'shop']]);
    assert.match(found.containers[0]!.version, /^15\.\d+$/);
    assert.deepEqual(found.containers[0]!.volumes.map((v) => [v.name, v.destination]), [['n8n_pgdata', '/var/lib/postgresql/data']]);
    assert.deepEqual(found.containers[0]!.apps.map((a) => [a.name, a.profile, a.volumes.map((v) => v.name)]), [['n8n-n8n-1', 'n8n', ['n8n_data']]]);
    assert.deepEqual(found.containers[1]!.apps.map((a) => [a.name, a.profile]), [['shop-web-1', 'django']]);

    const text = await w.run(['discover'], { env: env() });
    assert.match(text.stdout, /n8n-postgres-1\s+postgres:15\s+15\.\d+\s+n8n\s+n8n_pgdata\s+n8n-n8n-1 \(n8n\)/);
    assert.match(text.stdout, /# for lifeboat.yaml:\ntargets:\n {2}n8n:\n/);

    const init = await w.run(['init', '--docker', '--storage-path', w.storage], { env: env() });
    assert.equal(init.code, 0, init.stderr);
    const yaml = readFileSync(w.config, 'utf8');
    assert.match(yaml, / {2}n8n:\n.*\n {4}postgres:\n {6}container: n8n-postgres-1 .*\n {6}databases: \[n8n\]\n {4}profile: n8n\n {4}files:\n {6}n8n_data: \{ volume: n8n_data \}/);
    assert.match(yaml, / {2}shop:\n(.*\n){4} {4}profile: django\n/);
    assert.doesNotMatch(yaml, /secret-pw/, 'no password is written');
    const check = await w.run(['config', 'check'], { env: env() });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  test('a named volume is a file set: backed up through its mountpoint, restored to a directory; a running database\'s volume is refused', async () => {
    const w = ws();
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { container: n8n-postgres-1, databases: [n8n] }\n    files:\n      n8n-data: { volume: n8n_data, exclude: ["**/nodes/**"] }\n    storage: local\n`);
    const r = await w.run(['backup', 'n8n', '--json'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const { id } = r.json<{ id: string }>();
    const out = path.join(w.dir, 'out');
    const restored = await w.run(['restore', id, '--file', 'n8n-data', '--to-dir', out], { env: env() });
    assert.equal(restored.code, 0, restored.stderr);
    const mountpoint = JSON.parse(await d.docker(['volume', 'inspect', 'n8n_data', '--format', '{{json .Mountpoint}}'])) as string;
    assert.equal(readFileSync(path.join(out, mountpoint, 'config'), 'utf8'), '{"encryptionKey":"k3y"}\n');
    const contents = await w.run(['contents', id, '--json']);
    assert.doesNotMatch(contents.stdout, /nodes\/package.json/, 'the set\'s exclude applies');

    // Where the mountpoint cannot be read (Lifeboat in a container of its own, rootless Docker):
    // a helper container copies the volume out; the bundle says the same paths.
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    files:\n      n8n-data: { volume: n8n_data, via: helper, exclude: ["**/nodes/**"] }\n    storage: local\n`);
    const viaHelper = await w.run(['backup', 'n8n', '--json'], { env: env() });
    assert.equal(viaHelper.code, 0, viaHelper.stderr);
    const helperId = viaHelper.json<{ id: string }>().id;
    type Files = { files: { path: string; size: number; sha256?: string; mode: number }[] };
    const filesOf = async (backup: string) => (await w.run(['show', backup, '--json'])).json<{ manifest: Files }>().manifest.files.map((f) => [f.path, f.size, f.sha256, f.mode]);
    assert.deepEqual(await filesOf(helperId), await filesOf(id));
    const out2 = path.join(w.dir, 'out2');
    assert.equal((await w.run(['restore', helperId, '--file', 'n8n-data', '--to-dir', out2], { env: env() })).code, 0);
    assert.equal(readFileSync(path.join(out2, mountpoint, 'config'), 'utf8'), '{"encryptionKey":"k3y"}\n');
    assert.deepEqual(await scratchLeft(), [], 'the helper container is removed');

    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    files:\n      pgdata: { volume: n8n_pgdata }\n    storage: local\n`);
    const refused = await w.run(['backup', 'n8n'], { env: env() });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /volume "n8n_pgdata" is in use by the running PostgreSQL container n8n-postgres-1; a copy of a live data directory is not a backup/);
    assert.match(refused.stderr, /hint: back the database up as the target's database instead: postgres: \{ container: n8n-postgres-1 \}/);

    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    files:\n      x: { volume: no_such_volume }\n    storage: local\n`);
    const missing = await w.run(['backup', 'n8n'], { env: env() });
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /file set x: no Docker volume "no_such_volume"/);
  });

  test('a volume file set is restored into the volume, through its mountpoint and through a helper container: contents, modes and owners back, a safety copy of what it replaced; refused under a running database, and under a running app without --force', async () => {
    await d.docker(['volume', 'create', 'shop_media']);
    const mp = JSON.parse(await d.docker(['volume', 'inspect', 'shop_media', '--format', '{{json .Mountpoint}}'])) as string;
    const put = (rel: string, text: string, mode: number, owner: number) => {
      mkdirSync(path.dirname(path.join(mp, rel)), { recursive: true });
      writeFileSync(path.join(mp, rel), text);
      chmodSync(path.join(mp, rel), mode);
      chownSync(path.join(mp, rel), owner, owner);
    };
    put('a.txt', 'one\n', 0o640, 1000);
    put('sub/b.txt', 'two\n', 0o600, 999);
    chownSync(path.join(mp, 'sub'), 999, 999);
    chmodSync(path.join(mp, 'sub'), 0o750);
    const state = () => ['a.txt', 'sub', 'sub/b.txt'].map((rel) => {
      const st = lstatSync(path.join(mp, rel));
      return [rel, st.isFile() ? readFileSync(path.join(mp, rel), 'utf8') : 'dir', (st.mode & 0o7777).toString(8), st.uid, st.gid];
    });
    const original = state();
    const w = ws();
    const config = (via: string) => w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  shop:\n    files:\n      media: { volume: shop_media, via: ${via} }\n    storage: local\n`);
    config('auto');
    const b = await w.run(['backup', 'shop', '--json'], { env: env() });
    assert.equal(b.code, 0, b.stderr);
    const id = b.json<{ id: string }>().id;
    const damage = (text: string) => {
      put('a.txt', text, 0o644, 0);
      rmSync(path.join(mp, 'sub'), { recursive: true });
      writeFileSync(path.join(mp, 'extra.txt'), 'kept\n');
    };
    const safetyHolds = async (safety: string, text: string) => {
      const out = path.join(w.dir, `safety-${safety}`);
      const r = await w.run(['restore', safety, '--to-dir', out], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(path.join(out, mp, 'a.txt'), 'utf8'), text, 'the safety backup holds the file as it was before the restore');
    };

    // A running app on the volume: refused unless --force, and the plan names the volume.
    damage('changed\n');
    await d.docker(['run', '-d', '--network', 'host', '--name', 'shop-media-1', '-v', 'shop_media:/srv/media', 'acme/shop-web:2.3']);
    const busy = await w.run(['restore', id, '--file', 'media', '--yes'], { env: env() });
    assert.equal(busy.code, 3, busy.stderr);
    assert.match(busy.stderr, /volume shop_media in use: mounted by the running container\(s\) shop-media-1: stop it first \(docker stop shop-media-1\), or pass --force/);
    const dry = await w.run(['restore', id, '--file', 'media', '--dry-run'], { env: env() });
    assert.match(dry.stdout, new RegExp(`OVERWRITE ${mp}/a.txt \\(4 B\\) in volume shop_media`));
    assert.match(dry.stdout, new RegExp(`pass {2}volume shop_media: file set media: written at its mountpoint ${mp}`));
    assert.equal(readFileSync(path.join(mp, 'a.txt'), 'utf8'), 'changed\n', 'nothing was written');
    await d.docker(['rm', '-f', 'shop-media-1']);

    // Through the mountpoint (root on the Docker host).
    const direct = await w.run(['restore', id, '--file', 'media', '--yes', '--json'], { env: env() });
    assert.equal(direct.code, 0, direct.stderr);
    assert.deepEqual(state(), original);
    assert.equal(readFileSync(path.join(mp, 'extra.txt'), 'utf8'), 'kept\n', 'files the backup does not hold are left alone');
    await safetyHolds(direct.json<{ safetyBackupId: string }>().safetyBackupId, 'changed\n');

    // Through a helper container: first with no local image that has a shell and mv.
    config('helper');
    damage('changed again\n');
    const noTools = await w.run(['restore', id, '--file', 'media', '--yes'], { env: env() });
    assert.equal(noTools.code, 1, noTools.stderr);
    assert.match(noTools.stderr, /cannot write into volume "shop_media": no local image with \/bin\/sh and mv/);
    assert.equal(readFileSync(path.join(mp, 'a.txt'), 'utf8'), 'changed again\n', 'nothing was written');
    const tools = ['sh', 'dash', 'mv', 'mkdir', 'rm', 'chown', 'chmod'].map((t) => `/usr/bin/${t}`);
    await importImage(d, 'lifeboat-test/tools', ['/bin', '/lib', '/lib64', '/etc/passwd', '/etc/group', ...new Set([...tools, ...(await libraries(tools))])]);
    const plan = await w.run(['restore', id, '--file', 'media', '--dry-run'], { env: env() });
    assert.match(plan.stdout, /pass {2}volume shop_media: file set media: written through a helper container/);
    assert.match(plan.stdout, new RegExp(`OVERWRITE ${mp}/a.txt \\(4 B\\) in volume shop_media\n {2}create ${mp}/sub/ in volume shop_media`));
    const helped = await w.run(['restore', id, '--file', 'media', '--yes', '--json'], { env: env() });
    assert.equal(helped.code, 0, helped.stderr);
    assert.deepEqual(state(), original);
    assert.equal(readFileSync(path.join(mp, 'extra.txt'), 'utf8'), 'kept\n');
    await safetyHolds(helped.json<{ safetyBackupId: string }>().safetyBackupId, 'changed again\n');
    assert.deepEqual(readdirSync(mp).filter((n) => n.startsWith('.lifeboat-restore-')), [], 'the staging folder is gone');

    // One file of the set, its folder gone: the folder is made on the way.
    rmSync(path.join(mp, 'sub'), { recursive: true });
    const one = await w.run(['restore', id, '--file', `media:${mp}/sub/b.txt`, '--yes'], { env: env() });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(readFileSync(path.join(mp, 'sub/b.txt'), 'utf8'), 'two\n');
    assert.deepEqual(state().slice(2), original.slice(2));
    assert.deepEqual(await scratchLeft(), [], 'every helper container is removed');

    // kill -9 while the files sit in the volume's staging folder: the next command removes the
    // folder and the helper (whether the kill came before the helper started, or while it ran).
    damage('changed once more\n');
    const child = w.spawnCli(['restore', id, '--file', 'media', '--yes'], { env: env() });
    let killed = false;
    const poll = setInterval(() => {
      if (!killed && readdirSync(mp).some((n) => n.startsWith('.lifeboat-restore-'))) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 2);
    await new Promise((r) => child.on('close', r));
    clearInterval(poll);
    assert.ok(killed, 'the staging folder appeared');
    assert.equal((await w.run(['list', '--json'], { env: env() })).code, 0);
    assert.deepEqual(readdirSync(mp).filter((n) => n.startsWith('.lifeboat-restore-')), [], 'the next command removed the staging folder');
    assert.deepEqual(await scratchLeft(), [], 'and the helper');

    // A running database's data directory is never written into.
    const pgdata = JSON.parse(await d.docker(['volume', 'inspect', 'n8n_pgdata', '--format', '{{json .Mountpoint}}'])) as string;
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  shop:\n    files:\n      pgdata: [${pgdata}/PG_VERSION]\n    storage: local\n`);
    const pb = await w.run(['backup', 'shop', '--json'], { env: env() });
    assert.equal(pb.code, 0, pb.stderr);
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  shop:\n    files:\n      pgdata: { volume: n8n_pgdata }\n    storage: local\n`);
    const live = await w.run(['restore', pb.json<{ id: string }>().id, '--file', 'pgdata', '--yes', '--force'], { env: env() });
    assert.equal(live.code, 3, live.stderr);
    assert.match(live.stderr, /volume n8n_pgdata: in use by the running PostgreSQL container n8n-postgres-1: files written under a live data directory corrupt it/);
  });

  test('the n8n profile finds the encryption key in the n8n container beside the database: its environment, else its config in the volume', async () => {
    const url = (await d.docker(['inspect', 'n8n-postgres-1', '--format', '{{range .Config.Env}}{{println .}}{{end}}'])).split('\n');
    const get = (k: string) => url.find((l) => l.startsWith(`${k}=`))!.slice(k.length + 1);
    const client = new pg.Client({ connectionString: `postgres://n8n:${encodeURIComponent(get('POSTGRES_PASSWORD'))}@127.0.0.1:${get('PGPORT')}/n8n` });
    await client.connect();
    await client.query(`create table workflow_entity (id varchar(36) primary key, name text not null, active boolean not null default false, nodes json, connections json);
      create table credentials_entity (id varchar(36) primary key, name text not null, type text not null, data text not null);
      insert into workflow_entity values ('wf1', 'Hello', false, '[]', '{}');
      insert into credentials_entity values ('c1', 'Basic', 'httpBasicAuth', 'U2FsdGVkX1abc');`);
    await client.end();
    const w = ws();
    w.writeConfig(`storages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  n8n:\n    postgres: { container: n8n-postgres-1, databases: [n8n] }\n    profile: n8n\n    storage: local\n`);
    const expected = instanceIdOf('k3y');
    const instanceOf = async () => {
      const r = await w.run(['backup', 'n8n', '--json'], { env: env() });
      assert.equal(r.code, 0, r.stderr);
      const shown = (await w.run(['show', r.json<{ id: string }>().id, '--json'])).json<{ manifest: { app: { info?: { instanceId: string | null } }; warnings: string[] } }>();
      return shown.manifest;
    };
    const fromEnv = await instanceOf();
    assert.equal(fromEnv.app.info?.instanceId, expected);
    assert.ok(!fromEnv.warnings.some((x) => /no encryption key was found/.test(x)), fromEnv.warnings.join('; '));

    // The same n8n without the variable: the key n8n wrote into its user folder (the volume).
    await d.docker(['rm', '-f', 'n8n-n8n-1']);
    await d.docker(['run', '-d', '--network', 'host', '--name', 'n8n-n8n-1', ...compose('n8n', 'n8n'), '-v', 'n8n_data:/home/node/.n8n', 'n8nio/n8n:1.70.0']);
    const fromFile = await instanceOf();
    assert.equal(fromFile.app.info?.instanceId, expected);
  });
});
