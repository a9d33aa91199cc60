import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { readBundle } from '../../src/bundle/reader.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import { useTestServer } from '../support/suite.ts';
import { flipByte } from '../support/tamper.ts';
import { shopCopy, tableFingerprints } from '../support/seed.ts';

const suite = useTestServer();

interface Report {
  ok: boolean;
  level: string;
  checks: { name: string; ok: boolean; expected?: string; actual?: string }[];
}

/**
 * A backed-up shop whose verification uses a temp directory of its own, to see what is left.
 * Its scratch cluster is copied from the test servers' initdb output, unless `initdb`.
 */
async function backedUp(extra = '', initdb = false) {
  const db = await shopCopy(suite.server, 'shop');
  const ws = suite.workspace({ sharedInitdb: !initdb });
  const tmp = path.join(ws.dir, 'tmp');
  mkdirSync(tmp);
  // As root the scratch cluster runs as the postgres user, which must be able to enter tempDir.
  chmodSync(ws.dir, 0o755);
  chmodSync(tmp, 0o755);
  writeFileSync(path.join(ws.dir, 'app.env'), 'A=1\n');
  ws.writeConfig(`tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    files: { config: [${ws.dir}/app.env] }\n    storage: local\n${extra}`);
  const r = await ws.run(['backup', 'shop', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { id, key } = r.json<{ id: string; key: string }>();
  return { ws, db, id, key, tmp };
}

describe('verify', () => {
  test('a test restore passes, table by table, and leaves no cluster or temp file behind', async () => {
    const { ws, db, id, tmp } = await backedUp();
    const r = await ws.cli(['verify', id, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = r.json<Report>();
    assert.equal(report.ok, true);
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    assert.deepEqual(byName.get(`${db}: table sales.orders`), { name: `${db}: table sales.orders`, ok: true, expected: '5000 rows', actual: '5000 rows' });
    assert.equal(byName.get(`${db}: table public.customers`)!.actual, '1000 rows');
    assert.equal(byName.get(`${db}: sequences`)!.ok, true);
    assert.equal(byName.get('files restored to a scratch directory')!.ok, true);
    assert.deepEqual(readdirSync(tmp), [], 'scratch cluster and extracted files are gone');
    const show = await ws.run(['show', id]);
    assert.match(show.stdout, /verified +passed \(full\) at /);
    const list = (await ws.run(['list', '--json'])).json<{ verificationStatus: string }[]>();
    assert.equal(list[0]!.verificationStatus, 'passed');
  });

  test('a database in another encoding than the scratch cluster\'s UTF8 verifies', async () => {
    const db = `latin_${process.pid}`;
    await suite.server.query('postgres', `create database ${db} template template0 encoding 'LATIN1' locale 'C'`);
    await suite.server.query(db, "create table words (w text); insert into words values ('café'), ('über')");
    const ws = suite.workspace({ sharedInitdb: true });
    const tmp = path.join(ws.dir, 'tmp');
    mkdirSync(tmp);
    chmodSync(ws.dir, 0o755);
    chmodSync(tmp, 0o755);
    ws.writeConfig(`tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  latin:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    verification:\n      checks:\n        - { name: accents kept, sql: "select string_agg(w, ',' order by w) from words", expect: "café,über" }\n`);
    const b = await ws.run(['backup', 'latin', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const r = await ws.run(['verify', b.json<{ id: string }>().id]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`pass +${db}: table public.words: 2 rows`));
    assert.match(r.stdout, /pass +check: accents kept/);
  });

  test('a flipped byte fails the quick check, naming the member', async () => {
    const { ws, id, key } = await backedUp();
    // A byte inside the compressed data, away from headers.
    flipByte(path.join(ws.storage, key), 0.6, 0x55);
    const r = await ws.run(['verify', id, '--quick']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL +(members match the manifest|bundle opens)/);
    assert.match(r.stdout, /quick verification of .* FAILED/);
    assert.equal((await ws.run(['list', '--json'])).json<{ verificationStatus: string }[]>()[0]!.verificationStatus, 'failed');
    const { Catalog } = await import('../../src/catalog/catalog.ts');
    const catalog = Catalog.open(ws.home);
    try {
      const [event] = catalog.listEvents({ kind: 'verification_failed' });
      assert.equal(event?.backupId, id, 'a verification_failed event for the notifications');
      assert.match(event.message, /^quick verification of \S+ failed: /);
    } finally {
      catalog.close();
    }
  });

  test('after a failed verification, restore says how to check the copy again or override, not to rebuild the catalog', async () => {
    const { ws, db, id, key } = await backedUp();
    const file = path.join(ws.storage, key);
    flipByte(file, 0.6, 0x55);
    const failed = await ws.run(['verify', id, '--quick']);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, new RegExp(`restores skip the copies marked bad \\(local\\) until \`lifeboat verify ${id} --quick\` passes on one; \`lifeboat restore --force\` reads them anyway`));
    assert.doesNotMatch(failed.stdout + failed.stderr, /catalog rebuild/);
    // The damage is repaired (a storage hiccup, a copy put back): the catalog still marks it bad.
    flipByte(file, 0.6, 0x55);
    const copy = `${db}_copy`;
    const refused = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(copy)]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`the copy on local failed its last check \\(`));
    assert.match(refused.stderr, new RegExp(`hint: check it again with \`lifeboat verify ${id} --quick\` .*or pass --force to read it anyway`));
    assert.doesNotMatch(refused.stderr, /catalog rebuild/);
    // --force reads it, every member still checked against its checksum.
    const forced = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(copy), '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, copy), await tableFingerprints(suite.server, db));
    // Re-verifying marks it good again, and a restore needs nothing more.
    assert.equal((await ws.run(['verify', id, '--quick'])).code, 0);
    const again = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(`${db}_again`)]);
    assert.equal(again.code, 0, again.stderr);
  });

  test('a valid dump of other data, with checksums fixed to match, fails on row counts', async () => {
    const { ws, db, id, key } = await backedUp();
    // Build a bundle that is internally consistent but holds a dump with fewer orders.
    await suite.server.query(db, 'delete from sales.orders where id > 10');
    const other = execFileSync('pg_dump', ['-Fc', '-Z0', suite.server.urlFor(db)], { maxBuffer: 1 << 28 });
    const file = path.join(ws.storage, key);
    const members: { name: string; data: Buffer; mode: number }[] = [];
    let manifest: Manifest | undefined;
    for await (const e of readBundle(Readable.from([readFileSync(file)]), path.basename(file), { identities: [], passphrases: [] })) {
      const chunks: Buffer[] = [];
      for await (const c of e.stream) chunks.push(c);
      if (e.name === 'manifest.json') manifest = JSON.parse(Buffer.concat(chunks).toString()) as Manifest;
      else if (e.type === 'file') members.push({ name: e.name, data: e.name.endsWith('.dump') ? other : Buffer.concat(chunks), mode: e.mode });
    }
    const writer = await BundleWriter.create({ algorithm: 'zstd' }, undefined);
    const out: Buffer[] = [];
    const collecting = (async () => {
      for await (const c of writer.output) out.push(c as Buffer);
    })();
    for (const m of members) await writer.addBuffer(m.name, m.data, { mode: m.mode });
    const dbm = manifest!.postgres!.databases[0]!;
    dbm.dumpSha256 = (await import('node:crypto')).createHash('sha256').update(other).digest('hex');
    dbm.dumpSize = other.length;
    const { members: _old, ...rest } = manifest!;
    void _old;
    await writer.finish(rest);
    await collecting;
    writeFileSync(file, Buffer.concat(out));
    // The catalog records the size of what it stored: the quick check flags the swap by size alone.
    const quick = (await ws.run(['verify', id, '--quick', '--json'])).json<Report>();
    assert.equal(quick.checks.find((c) => c.name === 'stored on local')!.ok, false);
    // Make the catalog agree, as an attacker with catalog access could, to reach the test restore.
    const { DatabaseSync } = await import('node:sqlite');
    const cat = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
    const forged = (await import('node:crypto')).createHash('sha256').update(readFileSync(file)).digest('hex');
    cat.prepare('update backup_locations set size = ?, sha256 = ? where backup_id = ?').run(statSync(file).size, forged, id);
    // The members no longer match the manifest the catalog recorded: a full verification says so.
    const caught = (await ws.run(['verify', id, '--json'])).json<Report>();
    assert.equal(caught.checks.find((c) => c.name === 'members match the manifest')!.ok, false, 'checked against the recorded manifest');
    // With the recorded manifest forged too, only the test restore can tell (the forged manifest
    // keeps the original dump's index, which the restore finds does not match, and falls back).
    cat.prepare('update backups set manifest_json = ? where id = ?').run(JSON.stringify({ ...manifest!, members: writer.members }), id);
    cat.close();
    const r = await ws.run(['verify', id, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const report = r.json<Report>();
    assert.equal(report.checks.find((c) => c.name === 'members match the manifest')!.ok, true, 'checksums alone cannot tell');
    assert.deepEqual(report.checks.find((c) => c.name === `${db}: table sales.orders`), { name: `${db}: table sales.orders`, ok: false, expected: '5000 rows', actual: '10 rows' });
    assert.equal(report.checks.find((c) => c.name === `${db}: table public.customers`)!.ok, true, 'the report goes on past the first failure');
  });

  test('a user SQL check that is false fails with expected and actual', async () => {
    const checks = `    verification:\n      checks:\n        - { name: has customers, sql: "select count(*) > 0 from public.customers", expect: true }\n        - { name: exactly 7 orders, sql: "select count(*) from sales.orders", expect: 7 }\n`;
    const { ws, id } = await backedUp(checks);
    const r = await ws.run(['verify', id]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /pass +check: has customers/);
    assert.match(r.stdout, /FAIL +check: exactly 7 orders: expected 7, got 5000/);
  });

  test('Ctrl-C (SIGINT) during a test restore tears the scratch cluster down', async () => {
    // A home of its own: the interrupt may land in initdb, which runs in a guarded process group.
    const { ws, id, tmp } = await backedUp('', true);
    const child = ws.spawnCli(['verify', id]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    while (!/restoring|starting a scratch/.test(stderr) || !readdirSync(tmp).some((f) => f.startsWith('lifeboat-cluster-'))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.match(stderr, /cancelled/);
    assert.deepEqual(readdirSync(tmp), [], 'no cluster directory, no extracted files');
    const postgres = execFileSync('sh', ['-c', `ps -eo args | grep -F '${tmp}' | grep -v grep || true`], { encoding: 'utf8' });
    assert.equal(postgres.trim(), '', 'no postgres process left running');
  });
});

describe('verification policy', () => {
  test('every: 3 makes exactly every third backup due; each backup gets its quick check at once', async () => {
    const ws = suite.workspace();
    writeFileSync(path.join(ws.dir, 'f.txt'), 'x');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  f:\n    files: { s: [${ws.dir}/f.txt] }\n    storage: local\n    verification: { every: 3 }\n`);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await ws.run(['backup', 'f', '--json']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.json<{ id: string }>().id);
    }
    const quick = (await ws.run(['list', '--json'])).json<{ verificationStatus: string; verificationLevel: string }[]>();
    assert.ok(quick.every((b) => b.verificationStatus === 'passed' && b.verificationLevel === 'quick'), 'quick check after each backup');
    const r = await ws.run(['verify', '--all-pending', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json<{ backupId: string; level: string }[]>().map((x) => [x.backupId, x.level]), [[ids[2], 'full'], [ids[5], 'full']]);
    const again = await ws.run(['verify', '--all-pending']);
    assert.match(again.stdout, /no backup is due for verification/);
  });
});
