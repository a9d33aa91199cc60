import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { decrypt } from '../../src/bundle/codec.ts';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { migrations } from '../../src/catalog/migrations.ts';
import { repack } from '../support/repack.ts';
import { shopCopy, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

interface Listed { id: string; trust: 'trusted' | 'untrusted'; trustReason: string | null }
interface Rebuilt { added: string[]; updated: string[]; untrusted: { id: string; reason: string }[]; unreadable: { key: string; error: string }[] }

/** A target with a database and a file set (an app's .env); `encryption` as YAML, when set. */
async function setup(name: string, encryption?: string): Promise<{ ws: Workspace; db: string; env: string }> {
  const db = await shopCopy(suite.server, name);
  const ws = suite.workspace();
  const env = path.join(ws.dir, 'app', '.env');
  mkdirSync(path.dirname(env));
  writeFileSync(env, 'SECRET_KEY=original\n');
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    files: { config: [${env}] }\n    storage: local\n${encryption ? `    encryption: ${encryption}\n` : ''}`);
  return { ws, db, env };
}

async function backup(ws: Workspace): Promise<{ id: string; file: string }> {
  const r = await ws.run(['backup', 'app', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { id, key } = r.json<{ id: string; key: string }>();
  return { id, file: path.join(ws.storage, key) };
}

/** Runs `catalog rebuild` against a catalog made from storage alone (the key, if any, is kept). */
async function rebuildFresh(ws: Workspace, env?: NodeJS.ProcessEnv): Promise<Rebuilt> {
  const home = env?.LIFEBOAT_HOME ?? ws.home;
  for (const f of existsSync(home) ? readdirSync(home).filter((n) => n.startsWith('catalog.sqlite')) : []) rmSync(path.join(home, f));
  const r = await ws.run(['catalog', 'rebuild', '--json'], { env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.json<Rebuilt>();
}

async function listed(ws: Workspace, id: string, env?: NodeJS.ProcessEnv): Promise<Listed> {
  return (await ws.run(['list', '--json'], { env })).json<Listed[]>().find((b) => b.id === id)!;
}

const withoutMac = (m: Manifest): Manifest => {
  const { mac: _mac, ...rest } = m;
  void _mac;
  return rest;
};

describe('authenticated bundles', () => {
  test('a forged manifest with valid checksums but no MAC is untrusted after a rebuild: restore needs --trust-foreign, and puts files only under --to-dir', async () => {
    const { ws, db, env } = await setup('forged');
    const { id, file } = await backup(ws);
    const keyId = (await ws.cli(['key', 'show', '--json'])).json<{ id: string }[]>()[0]!.id;

    // Both manifests carry the MAC; restore.sh still reads its checksums from manifest.json.
    const sidecar = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as Manifest;
    assert.deepEqual({ alg: sidecar.mac?.alg, key: sidecar.mac?.key, keyId: sidecar.mac?.keyId }, { alg: 'HMAC-SHA256', key: 'installation', keyId });
    const dir = mkdtempSync(path.join(ws.dir, 'unpacked-'));
    execFileSync('sh', ['-c', `zstd -dc '${file}' | tar -x -C '${dir}'`]);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')), sidecar);
    assert.match(execFileSync('bash', [path.join(dir, 'restore.sh'), '--no-databases'], { encoding: 'utf8' }), /All members match/);
    assert.equal((await listed(ws, id)).trust, 'trusted');

    // The attacker keeps every member (checksums match) and points the .env at another place.
    const elsewhere = path.join(ws.dir, 'elsewhere', '.env');
    await repack(file, { edit: (m) => (m.files[0]!.path = elsewhere, withoutMac(m)) });
    const rebuilt = await rebuildFresh(ws);
    assert.deepEqual(rebuilt.untrusted.map((u) => u.id), [id]);
    assert.match(rebuilt.untrusted[0]!.reason, /^no MAC/);
    assert.equal((await listed(ws, id)).trust, 'untrusted');
    assert.match((await ws.run(['list'])).stdout, new RegExp(`${id} .* ok, UNTRUSTED`));
    assert.match((await ws.run(['show', id])).stdout, /trust +UNTRUSTED: no MAC.*restore needs --trust-foreign, files only with --to-dir/);
    const verified = await ws.run(['verify', id, '--quick']);
    assert.equal(verified.code, 0, 'an untrusted backup still verifies: ' + verified.stdout + verified.stderr);

    const before = await tableFingerprints(suite.server, db);
    const refused = await ws.cli(['restore', id, '--yes']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`backup ${id} is untrusted \\(no MAC.*\\): it may not have been made by this installation`));
    assert.match(refused.stderr, /hint: pass --trust-foreign/);
    const inPlace = await ws.run(['restore', id, '--yes', '--trust-foreign']);
    assert.notEqual(inPlace.code, 0);
    assert.match(inPlace.stderr, /its files are restored only under --to-dir, never in place/);
    assert.equal(existsSync(path.dirname(elsewhere)), false, 'nothing was written where the forged manifest points');
    assert.equal(readFileSync(env, 'utf8'), 'SECRET_KEY=original\n');
    assert.deepEqual(await tableFingerprints(suite.server, db), before, 'the refused restores changed no database');

    const out = path.join(ws.dir, 'look');
    // Even under --to-dir, the file plan sees the forger's seam: the record's path no longer
    // matches the member its data is in (a forger who made them agree would restore under out/).
    const toDir = await ws.run(['restore', id, '--file', 'config', '--to-dir', out, '--trust-foreign']);
    assert.equal(toDir.code, 3, toDir.stderr);
    assert.match(toDir.stderr, /names its data files\/config\S+, which the manifest does not list for it/);
    assert.equal(existsSync(out), false, 'nothing written under --to-dir either');
    assert.equal(existsSync(path.dirname(elsewhere)), false);
    const copy = `${db}_copy`;
    const dbRestore = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(copy), '--yes', '--trust-foreign']);
    assert.equal(dbRestore.code, 0, dbRestore.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, copy), before);
  });

  test('a bundle from another installation is untrusted; once its exported key is imported, it is trusted', async () => {
    const { ws, db } = await setup('foreign');
    const { id } = await backup(ws);
    const other = { LIFEBOAT_HOME: path.join(ws.dir, 'other-home') };
    const rebuilt = await rebuildFresh(ws, other);
    const keyId = (await ws.run(['key', 'show', '--json'])).json<{ id: string }[]>()[0]!.id;
    assert.deepEqual(rebuilt.untrusted.map((u) => [u.id, u.reason]), [[id, `signed with key ${keyId}, which this installation does not hold`]]);
    const refused = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(`${db}_a`), '--yes'], { env: other });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is untrusted/);

    const exported = await ws.cli(['key', 'export']);
    assert.equal(exported.code, 0);
    assert.match(exported.stdout, new RegExp(`# key id: ${keyId}\nLIFEBOAT-KEY-1:[A-Za-z0-9_-]{43}\n`));
    const keyFile = path.join(ws.dir, 'exported.key');
    writeFileSync(keyFile, exported.stdout);
    const imported = await ws.cli(['key', 'import', keyFile], { env: other });
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, new RegExp(`installed key ${keyId} as this installation's key`));
    assert.equal(readFileSync(path.join(other.LIFEBOAT_HOME, 'installation.key'), 'utf8'), exported.stdout);
    assert.equal((await rebuildFresh(ws, other)).untrusted.length, 0);
    assert.equal((await listed(ws, id, other)).trust, 'trusted');
    const restored = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(`${db}_b`), '--yes'], { env: other });
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, `${db}_b`), await tableFingerprints(suite.server, db));

    // The key file is the user's alone.
    const mode = statSync(path.join(ws.home, 'installation.key')).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  test('age recipients: the MAC key comes from the identity, so a rebuilt server holding only the identity trusts its bundles, and not a forgery encrypted to the public recipient', async () => {
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const setupDir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-id-'));
    const identityFile = path.join(setupDir, 'key.txt');
    writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
    const { ws } = await setup('sealed', `{ recipients: [${recipient}], identityFile: ${identityFile} }`);
    const { id, file } = await backup(ws);
    const keys = { identities: [identity], passphrases: [] };
    const chunks: Buffer[] = [];
    for await (const c of await decrypt(Readable.from([readFileSync(`${file}.manifest.json`)]), keys)) chunks.push(c as Buffer);
    const sidecar = JSON.parse(Buffer.concat(chunks).toString()) as Manifest;
    assert.equal(sidecar.mac?.key, 'age-identity');
    assert.equal(existsSync(path.join(ws.home, 'installation.key')), false, 'no installation key is needed');

    rmSync(ws.home, { recursive: true });
    assert.equal((await rebuildFresh(ws)).untrusted.length, 0);
    assert.equal((await listed(ws, id)).trust, 'trusted');

    await repack(file, { keys, encryption: { recipients: [recipient] }, edit: (m) => (m.files[0]!.path = '/etc/cron.d/lifeboat', withoutMac(m)) });
    const rebuilt = await rebuildFresh(ws);
    assert.deepEqual(rebuilt.untrusted.map((u) => u.id), [id]);
    assert.match((await ws.run(['show', id])).stdout, /trust +UNTRUSTED: no MAC/);
    rmSync(setupDir, { recursive: true });
  });

  test('age recipients without an identity (a write-only server) sign with the installation key', async () => {
    const recipient = await identityToRecipient(await generateIdentity());
    const ws = suite.workspace();
    writeFileSync(path.join(ws.dir, 'a.txt'), 'a');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { s: [${ws.dir}/a.txt] }\n    storage: local\n    encryption: { recipients: [${recipient}] }\n`);
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const show = (await ws.run(['show', r.json<{ id: string }>().id, '--json'])).json<{ trust: string; manifest: Manifest }>();
    assert.equal(show.trust, 'trusted');
    assert.equal(show.manifest.mac?.key, 'installation');
    assert.equal(show.manifest.mac?.keyId, (await ws.run(['key', 'show', '--json'])).json<{ id: string; signs: boolean }[]>().find((k) => k.signs)?.id);
  });

  test('bundles made before authenticated bundles: rows the catalog has keep their trust, a fresh catalog does not give it, and a changed manifest does not replace a trusted record', async () => {
    const { ws, env } = await setup('legacy');
    const { id, file } = await backup(ws);
    // As an older Lifeboat wrote it: the same manifest, without a MAC.
    await repack(file, { edit: withoutMac });
    const kept = await ws.run(['catalog', 'rebuild', '--json']);
    assert.equal(kept.code, 0, kept.stderr);
    assert.deepEqual(kept.json<Rebuilt>().untrusted, []);
    assert.equal((await listed(ws, id)).trust, 'trusted');

    // A changed manifest without a MAC does not replace the trusted record.
    await repack(file, { edit: (m) => (m.files[0]!.path = '/etc/cron.d/lifeboat', withoutMac(m)) });
    const refused = await ws.run(['catalog', 'rebuild']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, new RegExp(`skipped app/${id}\\.tar\\.zst on local: its manifest differs from the one the catalog recorded for backup ${id}, and no key vouches for it`));
    const shown = (await ws.run(['show', id, '--json'])).json<{ trust: string; manifest: Manifest }>();
    assert.equal(shown.trust, 'trusted');
    assert.equal(shown.manifest.files[0]!.path, env, 'the catalog kept the manifest it recorded');

    const fresh = await ws.run(['catalog', 'rebuild', '--json'], { env: { LIFEBOAT_HOME: path.join(ws.dir, 'new-home') } });
    assert.match(fresh.json<Rebuilt>().untrusted[0]?.reason ?? '', /^no MAC/);
  });

  test('lifeboat import: a bundle from another installation is refused without its key, trusted with it, untrusted with --trust-foreign', async () => {
    const { ws: made, db } = await setup('imported');
    const { id, file } = await backup(made);
    const keyFile = path.join(made.dir, 'made.key');
    writeFileSync(keyFile, (await made.run(['key', 'export'])).stdout);
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  vault: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: vault\n`);

    const refused = await ws.cli(['import', file]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /is not vouched for by any key this installation holds: signed with key [0-9a-f]{16}, which this installation does not hold/);
    assert.deepEqual(readdirSync(ws.storage), [], 'nothing was stored');

    const r = await ws.run(['import', file, '--key', keyFile, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json<{ id: string; key: string; trust: string }>(), { id, storage: 'vault', key: `app/${path.basename(file)}`, trust: 'trusted', trustReason: null });
    assert.deepEqual(readFileSync(path.join(ws.storage, 'app', path.basename(file))), readFileSync(file));
    const restored = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(`${db}_imp`), '--yes']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, `${db}_imp`), await tableFingerprints(suite.server, db));

    const other = { LIFEBOAT_HOME: path.join(ws.dir, 'home-2') };
    rmSync(path.join(ws.storage, 'app'), { recursive: true });
    const foreign = await ws.run(['import', file, '--trust-foreign', '--json'], { env: other });
    assert.equal(foreign.code, 0, foreign.stderr);
    assert.equal(foreign.json<{ trust: string }>().trust, 'untrusted');
    assert.equal((await listed(ws, id, other)).trust, 'untrusted');
    // Its sidecar went along: a rebuild from this storage alone finds it, still untrusted.
    assert.deepEqual((await rebuildFresh(ws, other)).untrusted.map((u) => u.id), [id]);
  });

  test('the catalog migration keeps the rows of backups made here trusted and marks rows an older rebuild imported untrusted', () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-mig-'));
    const raw = new DatabaseSync(path.join(home, 'catalog.sqlite'));
    const before = migrations.findIndex((m) => m.includes('add column trust '));
    assert.ok(before > 0);
    for (const m of migrations.slice(0, before)) raw.exec(m);
    raw.exec(`pragma user_version = ${before}`);
    const insert = raw.prepare("insert into backups (id, target, status, trigger, started_at) values (?, 'app', 'ok', ?, '2026-12-01T00:00:00Z')");
    insert.run('app-20261201T000000Z', 'manual');
    insert.run('app-20261202T000000Z', 'rebuild');
    raw.close();
    const catalog = Catalog.open(home);
    try {
      assert.equal(catalog.getBackup('app-20261201T000000Z')!.trust, 'trusted');
      const imported = catalog.getBackup('app-20261202T000000Z')!;
      assert.equal(imported.trust, 'untrusted');
      assert.match(imported.trustReason!, /found in storage by a catalog rebuild before bundles were authenticated/);
    } finally {
      catalog.close();
      rmSync(home, { recursive: true });
    }
  });
  test('retention neither counts nor deletes an untrusted backup: a forged newest bundle does not push real ones out of keepLast', async () => {
    const { ws } = await setup('retained');
    const oldest = await backup(ws);
    const older = await backup(ws);
    const newer = await backup(ws);
    // A forger copies the newest bundle under a later id and drops the MAC it cannot make.
    const forgedId = 'app-20991231T000000Z';
    const forged = path.join(path.dirname(newer.file), path.basename(newer.file).replace(newer.id, forgedId));
    copyFileSync(newer.file, forged);
    await repack(forged, { edit: (m) => withoutMac({ ...m, id: forgedId, startedAt: '2099-12-31T00:00:00.000Z', finishedAt: '2099-12-31T00:00:01.000Z' }) });
    const r = await ws.run(['catalog', 'rebuild', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal((await listed(ws, forgedId)).trust, 'untrusted');

    ws.writeConfig(readFileSync(ws.config, 'utf8').replace('    storage: local\n', '    storage: local\n    retention: { keepLast: 2 }\n'));
    const pruned = await ws.cli(['prune', '--json']);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    const outcomes = pruned.json<{ id: string; result: string; reasons: string[] }[]>();
    assert.equal(outcomes.find((o) => o.id === newer.id)?.result, 'kept');
    assert.equal(outcomes.find((o) => o.id === older.id)?.result, 'kept', 'keepLast 2 keeps the two newest real backups, not the forged one and one real');
    assert.equal(outcomes.find((o) => o.id === oldest.id)?.result, 'deleted');
    const untrusted = outcomes.find((o) => o.id === forgedId)!;
    assert.equal(untrusted.result, 'kept');
    assert.match(untrusted.reasons.join(' '), /untrusted .*retention neither counts nor deletes it/);
    assert.ok(existsSync(newer.file) && existsSync(older.file) && existsSync(forged) && !existsSync(oldest.file));
  });
});
