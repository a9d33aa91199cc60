import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig, parseConfig, type LoadedConfig } from '../../src/config/load.ts';
import { createObject, effectiveConfig, getObject, listObjects, refreshObjects, removeObject, testObject, updateObject } from '../../src/config/objects.ts';
import { LifeboatError } from '../../src/errors.ts';
import { startReceiver } from '../support/receiver.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
let receiver: Awaited<ReturnType<typeof startReceiver>>;
before(async () => {
  receiver = await startReceiver();
});
after(async () => receiver?.stop());

/** Known secrets: none may be found in the catalog's files or in any output. */
const DB_PASSWORD = 'Pw-target-7f3a91c2';
const S3_SECRET = 'S3secret-b81d44e0-key';
const HOOK_SECRET = 'whsec-objects-c0ffee42';
const SECRETS = [DB_PASSWORD, S3_SECRET, HOOK_SECRET];

function assertNoSecret(where: string, text: string): void {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${where} holds the secret ${s}`);
}

/** Every file under the home (catalog.sqlite, its -wal and -shm, keys), as bytes read as latin1. */
function homeBytes(home: string): string {
  return readdirSync(home, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(path.join(e.parentPath, e.name)).toString('latin1'))
    .join('\n');
}

function fails(code: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof LifeboatError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message + '\n' + (err.hint ?? ''), pattern);
    return true;
  };
}

/** The workspace's config and catalog, in this process, as the API's routes would hold them. */
function open(ws: Workspace, env: NodeJS.ProcessEnv = {}): { loaded: LoadedConfig; catalog: Catalog; close(): void } {
  const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home, ...env });
  const catalog = Catalog.open(loaded.home);
  return { loaded: effectiveConfig(loaded, catalog), catalog, close: () => catalog.close() };
}

describe('config objects created over the API', () => {
  // The CLI runs in process (ws.run: the same main(), output and exit code) but for one backup,
  // one listing and one refused start, which run as processes of their own.
  let ws: Workspace;
  let vault: string;
  let db: string;

  before(async () => {
    ws = suite.workspace();
    vault = path.join(ws.dir, 'vault');
    mkdirSync(vault, { mode: 0o700 });
    db = await suite.server.createDatabase('objects');
    await suite.server.query(db, `create role lb_objects login password '${DB_PASSWORD}'; create table items (id int primary key, name text); insert into items select g, 'item ' || g from generate_series(1, 50) g; grant select on items to lb_objects`);
    ws.writeConfig(`
storages:
  nas: { type: local, path: ./storage }
  s3file: { type: s3, bucket: acme, endpoint: "http://127.0.0.1:9", accessKeyId: AKIAFILE, secretAccessKey: "\${FILE_S3_SECRET}", region: "\${FILE_S3_REGION:-eu-central-1}" }
targets: {}
`);
  });

  test('a storage and a target created in the catalog are backed up by `lifeboat backup` like the file\'s', async () => {
    const { loaded, catalog, close } = open(ws);
    try {
      const storage = createObject(loaded, catalog, 'storage', 'vault', { type: 'local', path: vault }, 'admin');
      assert.equal(storage.source, 'api');
      assert.equal(storage.createdBy, 'admin');
      const url = suite.server.urlFor(db, { user: 'lb_objects', password: DB_PASSWORD });
      createObject(loaded, catalog, 'target', 'shop', { postgres: { url, databases: [db] }, storage: 'vault' }, 'admin');
      createObject(loaded, catalog, 'storage', 's3', { type: 's3', bucket: 'acme', endpoint: 'http://127.0.0.1:9', accessKeyId: 'AKIAAPI', secretAccessKey: S3_SECRET }, 'admin');
      createObject(loaded, catalog, 'channel', 'hook', { type: 'webhook', url: `${receiver.url}/hook`, secret: HOOK_SECRET, on: ['backup_succeeded'] }, 'admin');
      // The same `loaded` sees them at once: the daemon and the routes share it.
      assert.equal(loaded.config.targets.shop?.storage.primary, 'vault');
    } finally {
      close();
    }
    assert.equal(statSync(path.join(ws.home, 'secret.key')).mode & 0o777, 0o600, 'the key file is created 0600 at first need');

    const r = await ws.cli(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const backup = r.json<{ id: string; status: string }>();
    assert.equal(backup.status, 'ok');
    assert.ok(readdirSync(vault, { recursive: true }).some((f) => String(f).startsWith(backup.id) || String(f).includes(`/${backup.id}`)), `a bundle in ${vault}`);
    const restored = await ws.run(['contents', backup.id, '--json']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /items/);

    // The channel created over the API was sent the success, signed with its (decrypted) secret.
    const request = receiver.requests.find((x) => x.url === '/hook');
    assert.ok(request, 'the API channel was notified');
    const sig = String(request.headers['x-lifeboat-signature']);
    const t = /t=(\d+)/.exec(sig)![1]!;
    assert.equal(sig.replace(/^.*v1=/, ''), createHmac('sha256', HOOK_SECRET).update(`${t}.${request.body}`).digest('hex'));
    assertNoSecret('the backup output', r.stdout + r.stderr);
  });

  test('listings show each object\'s source and "set" for every secret, never the value', async () => {
    const r = await ws.cli(['config', 'list', '--json'], { env: { FILE_S3_SECRET: 'file-s3-secret-99' } });
    assert.equal(r.code, 0, r.stderr);
    const objects = r.json<{ kind: string; name: string; source: string; config: Record<string, unknown> }[]>();
    const by = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.name === name)!;
    assert.equal(by('storage', 'nas').source, 'file');
    assert.equal(by('storage', 'vault').source, 'api');
    assert.equal(by('target', 'shop').source, 'api');
    assert.equal(by('storage', 's3').config.secretAccessKey, 'set');
    assert.equal(by('storage', 's3').config.accessKeyId, 'AKIAAPI');
    assert.equal(by('storage', 's3file').config.secretAccessKey, 'set', 'a file secret is "set" too');
    assert.equal(by('storage', 's3file').config.region, 'set', 'so is any value the file takes from ${VAR}');
    assert.equal(by('storage', 's3file').config.accessKeyId, 'AKIAFILE');
    assert.equal(by('channel', 'hook').config.secret, 'set');
    const shopPg = by('target', 'shop').config.postgres as { url: string; databases: string[] };
    assert.match(shopPg.url, /^postgres:\/\/lb_objects:\*\*\*@127\.0\.0\.1:\d+\//);
    assert.deepEqual(shopPg.databases, [db]);
    assert.equal(by('storage', 'vault').config.path, vault);
    assert.doesNotMatch(r.stdout, /file-s3-secret-99/);
    assertNoSecret('config list', r.stdout + r.stderr);

    const text = await ws.run(['config', 'list']);
    assert.match(text.stdout, /storage +vault +local +api +in effect/);
    assert.match(text.stdout, /storage +nas +local +file +in effect/);

    const { loaded, catalog, close } = open(ws);
    try {
      const views = JSON.stringify([...listObjects(loaded, catalog, 'target'), getObject(loaded, catalog, 'storage', 's3'), getObject(loaded, catalog, 'channel', 'hook')]);
      assertNoSecret('listObjects/getObject', views);
      assert.match(views, /"secretAccessKey":"set"/);
    } finally {
      close();
    }
  });

  test('the known secrets are in no file of the home, and not in `lifeboat status --json`', async () => {
    const status = await ws.run(['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    assertNoSecret('status --json', status.stdout + status.stderr);
    const listing = await ws.run(['list', '--json']);
    assertNoSecret('list --json', listing.stdout + listing.stderr);
    const bytes = homeBytes(ws.home);
    assertNoSecret('the Lifeboat home (catalog, WAL, keys)', bytes);
    assert.match(bytes, /\$sealed":"v1:[0-9a-f]{8}:/, 'the secrets are there, sealed');
  });

  test('a partial update keeps omitted secrets, removes null ones, refuses "set"', async () => {
    const { loaded, catalog, close } = open(ws);
    try {
      updateObject(loaded, catalog, 'storage', 's3', { region: 'eu-west-1' }, 'ops');
      const s3 = loaded.config.storages.s3!;
      assert.ok(s3.type === 's3');
      assert.equal(s3.region, 'eu-west-1');
      assert.equal(s3.secretAccessKey, S3_SECRET, 'an omitted secret keeps its value');
      assert.equal(getObject(loaded, catalog, 'storage', 's3').updatedBy, 'ops');
      assert.throws(() => updateObject(loaded, catalog, 'storage', 's3', { secretAccessKey: 'set' }, 'ops'), fails('E_CONFIG', /storage "s3": secretAccessKey: "set" stands for a stored secret/));
      updateObject(loaded, catalog, 'storage', 's3', { secretAccessKey: null, accessKeyId: null }, 'ops');
      const after = loaded.config.storages.s3!;
      assert.ok(after.type === 's3' && after.secretAccessKey === undefined && after.region === 'eu-west-1');
      updateObject(loaded, catalog, 'storage', 's3', { accessKeyId: 'AKIAAPI', secretAccessKey: S3_SECRET }, 'ops');
      // Another process's view (the daemon's) catches up on refresh.
      const other = open(ws);
      try {
        updateObject(other.loaded, other.catalog, 'channel', 'hook', { on: ['failure'] }, 'ops');
      } finally {
        other.close();
      }
      refreshObjects(loaded, catalog);
      assert.deepEqual(loaded.config.notifications?.hook?.on, ['failure']);
      // Mappings merge key by key: the URL (a secret) stays when another postgres key changes.
      const url = loaded.config.targets.shop!.postgres!.url;
      updateObject(loaded, catalog, 'target', 'shop', { postgres: { globals: false, databases: [db] } }, 'ops');
      assert.equal(loaded.config.targets.shop!.postgres!.url, url);
      // A new type starts afresh: the local path does not linger into the s3 storage.
      createObject(loaded, catalog, 'storage', 'tmpx', { type: 'local', path: vault, quota: '1GB' }, 'ops');
      updateObject(loaded, catalog, 'storage', 'tmpx', { type: 's3', bucket: 'acme' }, 'ops');
      assert.deepEqual(getObject(loaded, catalog, 'storage', 'tmpx').config, { type: 's3', bucket: 'acme', prefix: '', region: 'us-east-1', pathStyle: false, partSize: '16MB', retry: { attempts: 4, delayMs: 500 } });
      removeObject(loaded, catalog, 'storage', 'tmpx');
      assert.equal(loaded.config.notifications?.hook?.type === 'webhook' && loaded.config.notifications.hook.secret, HOOK_SECRET);
    } finally {
      close();
    }
    assertNoSecret('the Lifeboat home after updates', homeBytes(ws.home));
  });

  test('objects from lifeboat.yaml are read-only here; names of the file cannot be taken', () => {
    const { loaded, catalog, close } = open(ws);
    try {
      assert.throws(() => updateObject(loaded, catalog, 'storage', 'nas', { quota: '1GB' }, 'admin'), fails('E_CONFLICT', /storage "nas" is defined in .*lifeboat\.yaml: objects from the file are read-only here\nedit .*lifeboat\.yaml/));
      assert.throws(() => removeObject(loaded, catalog, 'storage', 'nas'), fails('E_CONFLICT', /defined in .*lifeboat\.yaml/));
      assert.throws(() => createObject(loaded, catalog, 'storage', 'nas', { type: 'local', path: vault }, 'admin'), fails('E_CONFLICT', /a storage named "nas" is defined in .*lifeboat\.yaml/));
      assert.throws(() => createObject(loaded, catalog, 'storage', 'vault', { type: 'local', path: vault }, 'admin'), fails('E_CONFLICT', /a storage named "vault" exists already/));
      assert.equal(getObject(loaded, catalog, 'storage', 'nas').source, 'file');
    } finally {
      close();
    }
  });

  test('an unknown key, a bad value or a missing storage is refused with the file loader\'s message', () => {
    const { loaded, catalog, close } = open(ws);
    try {
      const tail = ': unknown key "colour" (check its spelling; README.md lists every key)';
      assert.throws(() => createObject(loaded, catalog, 'storage', 'x', { type: 'local', path: vault, colour: 'red' }, 'admin'), (err: unknown) => {
        assert.ok(err instanceof LifeboatError && err.code === 'E_CONFIG');
        assert.equal(err.message, `storage "x": colour${tail}`);
        return true;
      });
      const file = parseConfigError(`storages:\n  x: { type: local, path: /tmp/x, colour: red }\ntargets: {}\n`);
      assert.ok(file.endsWith(`storages.x.colour${tail}`), file);
      assert.throws(() => createObject(loaded, catalog, 'channel', 'bad', { type: 'webhook', url: 'ftp://x', attempts: 0 }, 'admin'), fails('E_CONFIG', /channel "bad": url: an http\(s\) URL; got "ftp:\/\/x"\nchannel "bad": attempts: Too small/));
      assert.throws(() => createObject(loaded, catalog, 'target', 'lost', { postgres: { url: 'postgres://h/db' }, storage: 'nowhere' }, 'admin'), fails('E_CONFIG', /target "lost": storage\.primary: no storage named "nowhere"; configured storages: nas, s3file, s3, vault/));
      assert.throws(() => createObject(loaded, catalog, 'storage', 'Bad Name', { type: 'local', path: vault }, 'admin'), fails('E_CONFIG', /storage "Bad Name": invalid name "Bad Name"/));
      assert.throws(() => createObject(loaded, catalog, 'storage', 'k', { type: 'local', path: '/proc/x' }, 'admin'), fails('E_CONFIG', /storage "k": path: \/proc\/x is under \/proc/));
      assert.throws(() => createObject(loaded, catalog, 'storage', 'l', [1], 'admin'), fails('E_CONFIG', /storage "l": expected a mapping of its keys, got a list/));
      assert.equal(catalog.listConfigObjects().length, 4, 'nothing was stored');
    } finally {
      close();
    }
  });

  test('testObject checks a target\'s server, a storage and a channel for real', async () => {
    const { loaded, catalog, close } = open(ws);
    try {
      const target = await testObject(loaded, catalog, 'target', 'shop');
      assert.equal(target.ok, true, JSON.stringify(target));
      assert.deepEqual(target.checks.map((c) => c.name), ['server reachable', 'databases exist', 'app profile', 'pg_dump fits the server']);
      const storage = await testObject(loaded, catalog, 'storage', 'vault');
      assert.equal(storage.ok, true, JSON.stringify(storage));
      assert.equal(storage.storage?.writable, true);
      const before = receiver.requests.length;
      const channel = await testObject(loaded, catalog, 'channel', 'hook');
      assert.equal(channel.ok, true, JSON.stringify(channel));
      assert.equal(receiver.requests.length, before + 1);
      const unreachable = await testObject(loaded, catalog, 'storage', 's3');
      assert.equal(unreachable.ok, false);

      createObject(loaded, catalog, 'target', 'wrongpw', { postgres: { url: suite.server.urlFor(db, { user: 'lb_objects', password: 'not-it-' + DB_PASSWORD }) }, storage: 'vault' }, 'admin');
      const bad = await testObject(loaded, catalog, 'target', 'wrongpw');
      assert.equal(bad.ok, false);
      assert.match(bad.checks[0]!.detail, /password|authentication/i);
      assertNoSecret('a failed test', JSON.stringify(bad));
      removeObject(loaded, catalog, 'target', 'wrongpw');
      await assert.rejects(testObject(loaded, catalog, 'target', 'wrongpw'), fails('E_NOT_FOUND', /no target named "wrongpw"/));
    } finally {
      close();
    }
  });

  test('removal: a storage a target uses is refused, a target with backups needs force', () => {
    const { loaded, catalog, close } = open(ws);
    try {
      assert.throws(() => removeObject(loaded, catalog, 'storage', 'vault'), fails('E_CONFLICT', /storage "vault" is used by target\(s\) shop/));
      assert.throws(() => removeObject(loaded, catalog, 'target', 'shop'), fails('E_CONFLICT', /target "shop" has 1 backup\(s\)\nremove it anyway with force/));
      removeObject(loaded, catalog, 'target', 'shop', { force: true });
      assert.equal(loaded.config.targets.shop, undefined);
      assert.throws(() => removeObject(loaded, catalog, 'storage', 'vault'), fails('E_CONFLICT', /storage "vault" holds 1 backup\(s\)/));
      removeObject(loaded, catalog, 'storage', 'vault', { force: true });
      assert.throws(() => getObject(loaded, catalog, 'storage', 'vault'), fails('E_NOT_FOUND', /no storage named "vault"/));
      assert.equal(catalog.listBackups('shop').length, 1, 'its backups stay in the catalog');
    } finally {
      close();
    }
  });

  test('a name the file gains later wins: the catalog\'s object is reported as shadowed', async () => {
    const text = readFileSync(ws.config, 'utf8').replace('storages:\n', `storages:\n  s3: { type: local, path: ./storage }\n`);
    ws.writeConfig(text);
    const check = await ws.run(['config', 'check', '--json'], { env: { FILE_S3_SECRET: 'x' } });
    assert.equal(check.code, 0, check.stderr);
    const report = check.json<{ warnings: string[]; apiObjects: number }>();
    assert.ok(report.warnings.some((w) => /storage "s3" created over the API is hidden by the storage of that name in .*lifeboat\.yaml, which wins/.test(w)), report.warnings.join('\n'));
    const list = await ws.run(['config', 'list', 'storage', '--json']);
    const s3 = list.json<{ name: string; source: string; shadowed?: boolean }[]>().filter((o) => o.name === 's3');
    assert.deepEqual(s3.map((o) => [o.source, o.shadowed ?? false]), [['file', false], ['api', true]]);
    assert.match((await ws.run(['config', 'list', 'storage'])).stdout, /storage +s3 +s3 +api +shadowed by the file/);
    const { loaded, catalog, close } = open(ws);
    try {
      assert.equal(loaded.config.storages.s3?.type, 'local', 'the file\'s object is in effect');
      removeObject(loaded, catalog, 'storage', 's3');
      assert.equal(catalog.getConfigObject('storage', 's3'), undefined, 'the shadowed copy can be removed');
      assert.equal(loaded.config.storages.s3?.type, 'local');
    } finally {
      close();
    }
  });

  test('an object the file no longer supports is left out, and said by every command', async () => {
    const base = readFileSync(ws.config, 'utf8');
    ws.writeConfig(base.replace('storages:\n', 'storages:\n  spare: { type: local, path: ./storage }\n'));
    const { loaded, catalog, close } = open(ws);
    try {
      createObject(loaded, catalog, 'target', 'orphan', { files: { cfg: [ws.config] }, storage: 'spare' }, 'admin');
    } finally {
      close();
    }
    ws.writeConfig(base);
    const list = await ws.run(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stderr, /warn: target "orphan": storage\.primary: no storage named "spare"; configured storages: .* \(left out\)/);
    const check = await ws.run(['config', 'check'], { env: { FILE_S3_SECRET: 'x' } });
    assert.equal(check.code, 2);
    assert.match(check.stderr, /catalog: target "orphan": storage\.primary: no storage named "spare"/);
    const objects = (await ws.run(['config', 'list', 'target', '--json'])).json<{ name: string; problem?: string }[]>();
    assert.match(objects.find((o) => o.name === 'orphan')?.problem ?? '', /no storage named "spare"/);
    assert.equal((await ws.run(['backup', 'orphan'])).code, 2);
  });

  test('a wrong LIFEBOAT_SECRET_KEY is a clear error naming what to do', async () => {
    const r = await ws.cli(['list'], { env: { LIFEBOAT_SECRET_KEY: randomBytes(32).toString('hex') } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the secrets in the catalog were encrypted with another key \(key id [0-9a-f]{8}\); the key from LIFEBOAT_SECRET_KEY has id [0-9a-f]{8}\nhint: set LIFEBOAT_SECRET_KEY to the key they were stored with/);
    const check = await ws.run(['config', 'check'], { env: { LIFEBOAT_SECRET_KEY: randomBytes(32).toString('hex'), FILE_S3_SECRET: 'x' } });
    assert.equal(check.code, 2);
    assert.match(check.stderr, /encrypted with another key/);
  });
});

function parseConfigError(yaml: string): string {
  try {
    parseConfig(yaml, '/tmp/lifeboat.yaml', {});
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the file loaded');
}
