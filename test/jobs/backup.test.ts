import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { useTestServer } from '../support/suite.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

const newWorkspace = () => suite.workspace();

/** Unpacks a bundle with the standard tools (age, zstd, tar) into a new directory. */
function unpack(ws: Workspace, key: string, opts: { identityFile?: string } = {}): string {
  const out = mkdtempSync(path.join(ws.dir, 'unpacked-'));
  const file = path.join(ws.storage, key);
  const decrypt = file.endsWith('.age') ? `age -d -i '${opts.identityFile}' '${file}' | ` : `cat '${file}' | `;
  const unzip = /\.tar\.zst/.test(file) ? 'zstd -dc | ' : /\.tar\.gz/.test(file) ? 'gzip -dc | ' : '';
  execFileSync('sh', ['-c', `${decrypt}${unzip}tar -x -C '${out}'`]);
  return out;
}

function pgRestore(args: string[]): void {
  execFileSync('pg_restore', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('backup', () => {
  // First in the file: `databases: all` dumps every database on the server, and the later tests'
  // (their seeds and restored copies) are not what it is about.
  test('databases: all, globals and file sets with include/exclude globs', async () => {
    const db1 = await suite.server.createDatabase('alpha');
    const db2 = await suite.server.createDatabase('beta');
    await suite.server.query(db1, 'create table a (x int); insert into a values (1), (2)');
    await suite.server.query(db2, 'create table b (y text); insert into b values (\'z\')');
    const role = `lifeboat_role_${process.pid}`;
    await suite.server.query('postgres', `create role ${role} login password 'rolepw'`);
    const ws = newWorkspace();
    const app = path.join(ws.dir, 'app');
    mkdirSync(path.join(app, 'media', 'cache'), { recursive: true });
    writeFileSync(path.join(app, '.env'), 'SECRET=1\n');
    chmodSync(path.join(app, '.env'), 0o600);
    utimesSync(path.join(app, '.env'), new Date('2025-01-02T03:04:05Z'), new Date('2025-01-02T03:04:05Z'));
    writeFileSync(path.join(app, 'media', 'photo.jpg'), Buffer.alloc(5000, 1));
    writeFileSync(path.join(app, 'media', 'notes.txt'), 'notes');
    writeFileSync(path.join(app, 'media', 'cache', 'thumb.jpg'), 'cached');
    symlinkSync('photo.jpg', path.join(app, 'media', 'latest.jpg'));
    ws.writeConfig(`storages:
  local: { type: local, path: ${ws.storage} }
targets:
  all:
    postgres: { url: "${suite.server.url}/postgres", databases: all, globals: true }
    files:
      config: [${app}/.env]
      media: { paths: [${app}/media], include: ["**/*.jpg"], exclude: ["**/cache/**"] }
    storage: local
    compression: { algorithm: gzip }
`);
    const r = await ws.run(['backup', 'all', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { key, id } = r.json<{ key: string; id: string }>();
    assert.ok(key.endsWith('.tar.gz'));
    const dir = unpack(ws, key);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const names = manifest.postgres!.databases.map((d) => d.name);
    assert.ok(names.includes(db1) && names.includes(db2) && names.includes('postgres'), names.join(','));
    assert.ok(!names.includes('template0') && !names.includes('template1'));
    assert.match(readFileSync(path.join(dir, 'databases/globals.sql'), 'utf8'), new RegExp(`CREATE ROLE ${role}`));

    const files = manifest.files.map((f) => `${f.set}:${path.relative(app, f.path)}:${f.type}`).sort();
    assert.deepEqual(files, ['config:.env:file', 'media:media/latest.jpg:symlink', 'media:media/photo.jpg:file', 'media:media:directory']);
    const env = manifest.files.find((f) => f.path.endsWith('.env'))!;
    assert.equal(env.mode, 0o600);
    assert.equal(env.mtime, '2025-01-02T03:04:05.000Z');
    assert.deepEqual(readFileSync(path.join(dir, 'files/config', app, '.env'), 'utf8'), 'SECRET=1\n');

    const contents = await ws.run(['contents', id.slice(0, 8)]);
    assert.equal(contents.code, 0, contents.stderr);
    assert.match(contents.stdout, new RegExp(`database ${db1}`));
    assert.match(contents.stdout, /photo\.jpg/);
    assert.doesNotMatch(contents.stdout, /thumb\.jpg|notes\.txt/);
  });

  test('round trip: the dump restores with pg_restore to the same tables, row counts and contents as the manifest', async () => {
    const db = await suite.server.createDatabase('shop');
    await seedShop(suite.server, db);
    const ws = newWorkspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);

    const r = await ws.cli(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.json<{ id: string; key: string; size: number; summary: { tables: number; rows: number } }>();
    assert.match(out.id, /^shop-\d{8}T\d{6}Z$/);
    assert.equal(out.summary.tables, 3);
    assert.equal(out.summary.rows, 6000);

    // Storage holds exactly the bundle and its sidecar manifest: no temp files.
    assert.deepEqual(readdirSync(path.join(ws.storage, 'shop')).sort(), [`${out.id}.tar.zst`, `${out.id}.tar.zst.manifest.json`]);

    const dir = unpack(ws, out.key);
    const tarOrder = execFileSync('sh', ['-c', `zstd -dc '${path.join(ws.storage, out.key)}' | tar -t`], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(tarOrder[0], 'README.txt', 'README.txt comes first');
    assert.equal(tarOrder.at(-1), 'manifest.json', 'manifest.json comes last');

    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const sidecar = JSON.parse(readFileSync(path.join(ws.storage, `${out.key}.manifest.json`), 'utf8')) as Manifest;
    assert.deepEqual(sidecar, manifest, 'the sidecar is the manifest');
    const dbm = manifest.postgres!.databases[0]!;
    assert.equal(dbm.name, db);
    assert.deepEqual(dbm.dumpMembers, [`databases/${db}.dump`]);
    assert.ok(dbm.sequences.some((s) => s.name === 'invoice_numbers' && s.lastValue === '1000'));
    const orders = dbm.tables.find((t) => t.name === 'orders')!;
    assert.deepEqual(orders.columns.map((c) => `${c.name}:${c.type}`), ['id:bigint', 'customer_id:integer', 'total:numeric(12,2)', 'placed_at:timestamp with time zone']);

    // restore.sh's own check of every member's sha256 passes on the unpacked bundle.
    execFileSync('bash', [path.join(dir, 'restore.sh'), '--no-databases']);

    const copy = await suite.server.createDatabase('shop_copy');
    pgRestore(['--dbname', suite.server.urlFor(copy), '--jobs=2', path.join(dir, `databases/${db}.dump`)]);
    const source = await tableFingerprints(suite.server, db);
    const restored = await tableFingerprints(suite.server, copy);
    assert.deepEqual(restored, source);
    for (const t of dbm.tables) assert.equal(t.rows, source[`${t.schema}.${t.name}`]!.rows, `manifest row count of ${t.name}`);

    // restore.sh refuses to touch an existing database unless told, and with --clean replaces it.
    await suite.server.query(db, 'delete from sales.orders where id % 2 = 0');
    assert.throws(() => execFileSync('bash', [path.join(dir, 'restore.sh'), '--url', suite.server.urlFor('postgres')], { stdio: 'pipe' }), /exists on the server: pass --clean/);
    execFileSync('bash', [path.join(dir, 'restore.sh'), '--url', suite.server.urlFor('postgres'), '--clean'], { stdio: 'pipe' });
    assert.deepEqual(await tableFingerprints(suite.server, db), source);

    const list = await ws.run(['list', '--json']);
    const rows = list.json<{ id: string; status: string; size: number }[]>();
    assert.deepEqual(rows.map((b) => [b.id, b.status, b.size]), [[out.id, 'ok', out.size]]);
  });

  test('row counts come from the dump\'s snapshot even while the app keeps writing', async () => {
    const db = await suite.server.createDatabase('busy');
    await suite.server.query(db, 'create table events (id bigserial primary key, payload text)');
    await suite.server.query(db, "insert into events (payload) select repeat('x', 200) from generate_series(1, 20000)");
    const ws = newWorkspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  busy:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    let writing = true;
    const writer = (async () => {
      while (writing) await suite.server.query(db, "insert into events (payload) select 'y' from generate_series(1, 200)");
    })();
    const r = await ws.cli(['backup', 'busy', '--json']);
    writing = false;
    await writer;
    assert.equal(r.code, 0, r.stderr);
    const { key } = r.json<{ key: string }>();
    const dir = unpack(ws, key);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const copy = await suite.server.createDatabase('busy_copy');
    // One member or several parts, joined as the manifest lists them.
    const joined = path.join(dir, 'joined.dump');
    writeFileSync(joined, Buffer.concat(manifest.postgres!.databases[0]!.dumpMembers.map((m) => readFileSync(path.join(dir, m)))));
    pgRestore(['--dbname', suite.server.urlFor(copy), joined]);
    const [restored] = await suite.server.query<{ n: string }>(copy, 'select count(*) as n from events');
    const [live] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from events');
    assert.equal(manifest.postgres!.databases[0]!.tables[0]!.rows, Number(restored!.n), 'manifest count equals the dump exactly');
    assert.ok(Number(live!.n) > Number(restored!.n), 'the app wrote more rows during the backup');
  });

  test('a dump cut into parts: cat joins them, and the join restores with -j2 and with -t from stdin', async () => {
    const db = await suite.server.createDatabase('parts');
    await seedShop(suite.server, db, 3);
    const ws = newWorkspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  parts:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const catalog = Catalog.open(loaded.home);
    const result = await runBackup(loaded, catalog, 'parts', { partSize: 64 * 1024 });
    catalog.close();
    const members = result.manifest.postgres!.databases[0]!.dumpMembers;
    assert.ok(members.length > 3, `expected several parts, got ${members.join(', ')}`);
    assert.equal(members[0], `databases/${db}.dump.part-0001`);

    const dir = unpack(ws, result.key);
    const joined = Buffer.concat(members.map((m) => readFileSync(path.join(dir, m))));
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(joined).digest('hex'), result.manifest.postgres!.databases[0]!.dumpSha256);
    writeFileSync(path.join(dir, 'joined.dump'), joined);

    const full = await suite.server.createDatabase('parts_full');
    pgRestore(['--dbname', suite.server.urlFor(full), '--jobs=2', path.join(dir, 'joined.dump')]);
    assert.deepEqual(await tableFingerprints(suite.server, full), await tableFingerprints(suite.server, db));

    const one = await suite.server.createDatabase('parts_one');
    // pg_restore -t stops reading stdin once it has its table: feed it through a pipe, as a user would.
    execFileSync('sh', ['-c', `cat '${path.join(dir, 'joined.dump')}' | pg_restore --dbname '${suite.server.urlFor(one)}' --schema=public --table=customers`]);
    const [count] = await suite.server.query<{ n: string }>(one, 'select count(*) as n from public.customers');
    assert.equal(Number(count!.n), 3000);

    // restore.sh joins the parts itself and recreates the database.
    const before = await tableFingerprints(suite.server, db);
    await suite.server.query('postgres', `drop database "${db}"`);
    execFileSync('bash', [path.join(dir, 'restore.sh'), '--url', suite.server.urlFor('postgres')], { stdio: 'pipe' });
    assert.deepEqual(await tableFingerprints(suite.server, db), before);
  });

  test('encrypted to an age recipient: the age CLI opens it; show says so; no secret in catalog or manifest', async () => {
    const db = await suite.server.createDatabase('secret');
    await suite.server.query(db, 'create table t (x int); insert into t values (42)');
    const ws = newWorkspace();
    const identity = await generateIdentity();
    const keyFile = path.join(ws.dir, 'key.txt');
    writeFileSync(keyFile, identity + '\n');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  sec:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    encryption: { recipients: [${await identityToRecipient(identity)}] }\n`);
    const r = await ws.run(['backup', 'sec', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { key, id } = r.json<{ key: string; id: string }>();
    assert.ok(key.endsWith('.tar.zst.age'));
    const sidecar = readFileSync(path.join(ws.storage, `${key}.manifest.json`));
    assert.equal(sidecar.subarray(0, 21).toString(), 'age-encryption.org/v1', 'the sidecar is encrypted too');
    const dir = unpack(ws, key, { identityFile: keyFile });
    assert.ok(readdirSync(path.join(dir, 'databases')).includes(`${db}.dump`));
    const show = await ws.run(['show', id]);
    assert.match(show.stdout, /age-encrypted/);
    const catalogBytes = readFileSync(path.join(ws.home, 'catalog.sqlite'));
    assert.equal(catalogBytes.includes(suite.server.password), false, 'no database password in the catalog');
    assert.equal(readFileSync(path.join(dir, 'manifest.json'), 'utf8').includes(suite.server.password), false, 'no password in the manifest');
  });

  test('the target config the catalog keeps holds no secret: API key, passwords, passphrase', async () => {
    const db = await suite.server.createDatabase('redacted');
    const ws = newWorkspace();
    const apiKey = 'n8n-api-key-that-must-stay-secret';
    const passphrase = 'passphrase-that-must-stay-secret';
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  red:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    n8n: { url: "http://127.0.0.1:5678", apiKey: ${apiKey} }\n    storage: local\n    encryption: { passphrase: ${passphrase} }\n`);
    const r = await ws.run(['backup', 'red', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const catalog = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'), { readOnly: true });
    const kept = String((catalog.prepare('select config_json from targets where name = ?').get('red') as { config_json: string }).config_json);
    catalog.close();
    assert.match(kept, /"apiKey":"\*\*\*"/, 'the key is named, its value hidden');
    for (const secret of [apiKey, passphrase, suite.server.password]) assert.equal(kept.includes(secret), false, `${secret.slice(0, 12)}... stays out of the catalog`);
  });

  test('two backups in the same second get distinct ids; a unique prefix works, an ambiguous one is refused', async () => {
    const ws = newWorkspace();
    writeFileSync(path.join(ws.dir, 'f.txt'), 'x');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  f:\n    files: { s: [${ws.dir}/f.txt] }\n    storage: local\n    compression: { algorithm: none }\n`);
    const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const catalog = Catalog.open(loaded.home);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await runBackup(loaded, catalog, 'f')).id);
    catalog.close();
    assert.equal(new Set(ids).size, 3);
    const prefix = ids[0]!.slice(0, 4);
    const amb = await ws.cli(['show', prefix]);
    assert.equal(amb.code, 2);
    assert.match(amb.stderr, /matches several backups/);
    const missing = await ws.run(['show', 'nope']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no backup matches "nope"/);
    const one = await ws.run(['show', ids[2]!, '--json']);
    assert.equal(one.json<{ id: string }>().id, ids[2]);
  });
});
