import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { startTestS3, type TestS3 } from '../support/s3.ts';
import { startTestSshd, type TestSshd } from '../support/sshd.ts';
import { seedShop, shopCopy, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import { flipByte } from '../support/tamper.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
let s3: TestS3;
let sshd: TestSshd;
before(async () => {
  [s3, sshd] = await Promise.all([startTestS3(), startTestSshd()]);
});
after(async () => {
  await Promise.all([s3?.stop(), sshd?.stop()]);
});

interface BackupOut { id: string; key: string; status: string; sha256: string; replicas: { storage: string; status: string; error?: string }[] }
interface Listed { id: string; status: string; locations: { storage: string; status: string; error: string | null }[] }

/** A workspace whose target `shop` writes to local storage with replicas on S3 and SFTP. */
async function setup(bucket: string, sftp: Record<string, unknown> = {}): Promise<{ ws: Workspace; db: string; write: (sftpOverride?: Record<string, unknown>) => void }> {
  const db = await shopCopy(suite.server, 'rep');
  const ws = suite.workspace();
  const s3opts = await s3.storage(bucket);
  const write = (override: Record<string, unknown> = sftp) => {
    const sftpOpts = { ...sshd.storage, path: path.join(sshd.root, bucket), ...override };
    ws.writeConfig([
      'storages:',
      `  local: { type: local, path: ${ws.storage} }`,
      `  cloud: ${JSON.stringify({ ...s3opts, prefix: 'lifeboat/' })}`,
      `  box: ${JSON.stringify({ ...sftpOpts, retry: { attempts: 1, delayMs: 0 } })}`,
      'targets:',
      '  shop:',
      `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`,
      '    storage: { primary: local, replicas: [cloud, box] }',
      '',
    ].join('\n'));
  };
  write();
  return { ws, db, write };
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('replicas', () => {
  test('a backup is copied to every replica, each copy checked and recorded; storage list shows it everywhere', async () => {
    const { ws } = await setup('rep-one');
    const r = await ws.run(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<BackupOut>();
    assert.equal(out.status, 'ok');
    assert.deepEqual(out.replicas.map((c) => [c.storage, c.status]), [['cloud', 'ok'], ['box', 'ok']]);

    // The SFTP copy is byte for byte the local bundle.
    assert.equal(sha(path.join(sshd.root, 'rep-one', out.key)), sha(path.join(ws.storage, out.key)));
    assert.equal(sha(path.join(sshd.root, 'rep-one', out.key)), out.sha256);

    const listed = (await ws.run(['list', '--json'])).json<Listed[]>();
    assert.equal(listed[0]!.status, 'ok');
    const show = await ws.run(['show', out.id]);
    assert.match(show.stdout, /stored +box: shop\/\S+ \(ok\)/);
    assert.match(show.stdout, /stored +cloud: shop\/\S+ \(ok\)/);

    const storages = await ws.run(['storage', 'list', '--json']);
    assert.equal(storages.code, 0, storages.stderr);
    const health = storages.json<{ name: string; reachable: boolean; bundles: number; usedBytes: number; freeBytes: number | null }[]>();
    assert.deepEqual(health.map((h) => [h.name, h.reachable, h.bundles]), [['local', true, 1], ['cloud', true, 1], ['box', true, 1]]);
    assert.equal(health.find((h) => h.name === 'cloud')!.freeBytes, null, 'S3 reports no free space');
    assert.ok(health.find((h) => h.name === 'box')!.freeBytes! > 0, 'SFTP reports free space (statvfs)');

    const t = await ws.run(['storage', 'test', 'cloud']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /writable +yes \(probe written, read back and deleted\)/);
  });

  test('a failed replica leaves the backup degraded with an event; replicate --pending finishes it', async () => {
    const { ws, write } = await setup('rep-fail', { port: await freePort() });
    const r = await ws.run(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, `a failed replica does not fail the backup: ${r.stderr}`);
    const out = r.json<BackupOut>();
    assert.equal(out.status, 'degraded');
    const box = out.replicas.find((c) => c.storage === 'box')!;
    assert.equal(box.status, 'failed');
    assert.match(box.error!, /cannot reach .*ECONNREFUSED/);
    assert.equal(out.replicas.find((c) => c.storage === 'cloud')!.status, 'ok');
    const human = await ws.run(['list']);
    assert.match(human.stdout, /degraded/);

    const catalog = Catalog.open(ws.home);
    try {
      const events = catalog.listEvents({ kind: 'backup_degraded' });
      assert.equal(events.length, 1);
      assert.equal(events[0]!.backupId, out.id);
      assert.match(events[0]!.message, /could not be copied to storage box/);
    } finally {
      catalog.close();
    }

    // Still unreachable: replicate says so and exits 1.
    const still = await ws.cli(['replicate', '--pending']);
    assert.equal(still.code, 1, still.stdout);
    assert.match(still.stdout, /FAILED shop-\S+ to box/);

    write({});
    const fixed = await ws.run(['replicate', '--pending', '--json']);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(fixed.json<{ copies: { storage: string; status: string; from: string }[] }>().copies.map((c) => [c.storage, c.status, c.from]), [['box', 'ok', 'local']]);
    assert.equal(sha(path.join(sshd.root, 'rep-fail', out.key)), out.sha256);
    assert.equal((await ws.run(['list', '--json'])).json<Listed[]>()[0]!.status, 'ok');
    assert.match((await ws.run(['replicate', '--pending'])).stdout, /nothing pending/);
  });

  test('restore and verify fall back to a replica when the primary is missing, and say so; replicate repairs the primary', async () => {
    const { ws, db } = await setup('rep-missing');
    const out = (await ws.run(['backup', 'shop', '--json'])).json<BackupOut>();
    const before = await tableFingerprints(suite.server, db);
    unlinkSync(path.join(ws.storage, out.key));

    const verify = await ws.run(['verify', out.id, '--quick', '--json']);
    assert.equal(verify.code, 0, 'the backup still restores, from a replica');
    const report = verify.json<{ checks: { name: string; ok: boolean; warning?: boolean }[] }>();
    assert.deepEqual(report.checks.find((c) => c.name === 'stored on local'), { name: 'stored on local', ok: false, warning: true, expected: `${out.key}, ${report.checks.length && (await ws.run(['show', out.id, '--json'])).json<{ size: number }>().size} bytes`, actual: 'missing' });
    assert.equal(report.checks.find((c) => c.name === 'members match the manifest')!.ok, true, 'the replica is checked instead');
    assert.equal((await ws.run(['list', '--json'])).json<Listed[]>()[0]!.status, 'degraded');

    const target = `${db}_copy`;
    const r = await ws.run(['restore', out.id, '--database', db, '--to', suite.server.urlFor(target), '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /reading backup \S+ from cloud instead of the primary local \(missing: not found in storage\)/);
    assert.deepEqual(await tableFingerprints(suite.server, target), before);

    const repair = await ws.run(['replicate', '--pending', '--json']);
    assert.equal(repair.code, 0, repair.stderr);
    assert.deepEqual(repair.json<{ copies: { storage: string; status: string }[] }>().copies.map((c) => [c.storage, c.status]), [['local', 'ok']]);
    assert.equal(sha(path.join(ws.storage, out.key)), out.sha256);
  });

  test('a corrupt primary (same size) is caught while extracting; the restore reads the replica and changes nothing before', async () => {
    const { ws, db } = await setup('rep-corrupt');
    const out = (await ws.run(['backup', 'shop', '--json'])).json<BackupOut>();
    const before = await tableFingerprints(suite.server, db);
    flipByte(path.join(ws.storage, out.key), 0.4);

    const target = `${db}_copy`;
    const r = await ws.run(['restore', out.id, '--database', db, '--to', suite.server.urlFor(target), '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the copy on local is unusable \(.+\); reading the copy on cloud instead/);
    assert.deepEqual(await tableFingerprints(suite.server, target), before);
    const shown = (await ws.run(['show', out.id, '--json'])).json<Listed>();
    assert.equal(shown.status, 'degraded');
    assert.equal(shown.locations.find((l) => l.storage === 'local')!.status, 'failed');
    assert.match((await ws.run(['show', out.id])).stdout, /stored +local: \S+ \(failed: .*damaged/);
  });

  test('a dry run over a corrupt primary checks the replica, as the run would read it: the plan passes, naming the damaged copy', async () => {
    const { ws, db } = await setup('rep-dry');
    const out = (await ws.run(['backup', 'shop', '--json'])).json<BackupOut>();
    flipByte(path.join(ws.storage, out.key), 0.4);
    const r = await ws.run(['restore', out.id, '--database', db, '--to', suite.server.urlFor(`${db}_dry`), '--dry-run', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const checksums = r.json<{ plan: { checks: { name: string; ok: boolean; detail: string }[] } }>().plan.checks.find((c) => c.name === 'checksums')!;
    assert.equal(checksums.ok, true);
    assert.match(checksums.detail, /^all \d+ members match the manifest \(read from cloud: the copy on local is damaged: .+\)$/);
    assert.equal((await ws.run(['show', out.id, '--json'])).json<Listed>().locations.find((l) => l.storage === 'local')!.status, 'failed', 'the damage is recorded, as a verification would');
  });

  test('catalog rebuild merges the copies found on every storage into one record per backup', async () => {
    const { ws } = await setup('rep-rebuild');
    const out = (await ws.run(['backup', 'shop', '--json'])).json<BackupOut>();
    rmSync(ws.home, { recursive: true, force: true });
    const r = await ws.run(['catalog', 'rebuild', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json<{ storages: string[]; added: string[] }>().added, [out.id]);
    assert.equal((await ws.run(['list', '--json'])).json<Listed[]>().length, 1);
    const shown = (await ws.run(['show', out.id, '--json'])).json<Listed>();
    assert.deepEqual(shown.locations.map((l) => [l.storage, l.status]).sort(), [['box', 'ok'], ['cloud', 'ok'], ['local', 'ok']]);
  });
});

describe('remote primaries', () => {
  test('a target whose primary is SFTP backs up and restores through it', async () => {
    const db = await suite.server.createDatabase('remote');
    await seedShop(suite.server, db);
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  box: ${JSON.stringify({ ...sshd.storage, path: path.join(sshd.root, 'primary') })}\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: box\n`);
    const r = await ws.run(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<BackupOut>();
    assert.equal(sha(path.join(sshd.root, 'primary', out.key)), out.sha256);
    const before = await tableFingerprints(suite.server, db);
    const restored = await ws.run(['restore', out.id, '--to', suite.server.urlFor(`${db}_back`), '--yes']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, `${db}_back`), before);
  });

  test('wrong S3 credentials fail the backup before any dump, recorded with the cause; nothing is stored', async () => {
    const db = await suite.server.createDatabase('remote');
    const ws = suite.workspace();
    const options = await s3.storage('remote-badkey');
    ws.writeConfig(`storages:\n  cloud: ${JSON.stringify({ ...options, accessKeyId: 'WRONG', retry: { attempts: 1, delayMs: 0 } })}\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: cloud\n`);
    const r = await ws.run(['backup', 'shop']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /storage "cloud" is not writable: access to bucket "remote-badkey" was denied \((InvalidAccessKeyId|HTTP 403)\)/);
    assert.match(r.stderr, /hint: check accessKeyId\/secretAccessKey/);
    const listed = (await ws.run(['list', '--json'])).json<{ status: string; error: string }[]>();
    assert.equal(listed[0]!.status, 'failed');
    assert.match(listed[0]!.error, /access to bucket "remote-badkey" was denied/);
    const storages = (await ws.run(['storage', 'list', '--json'])).json<{ reachable: boolean; error: string }[]>();
    assert.equal(storages[0]!.reachable, false);
    assert.match(storages[0]!.error, /denied/);
  });

  test('a backup killed during its S3 upload leaves no object and a failed record', async () => {
    const db = await suite.server.createDatabase('remote');
    await seedShop(suite.server, db, 20);
    const ws = suite.workspace();
    const options = await s3.storage('remote-killed');
    ws.writeConfig(`storages:\n  cloud: ${JSON.stringify(options)}\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: cloud\n    compression: { algorithm: none }\n`);
    const child = ws.spawnCli(['backup', 'shop']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/writing databases\//.test(stderr)) child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.notEqual(code, 0, stderr);
    const listed = (await ws.run(['list', '--json'])).json<{ status: string }[]>();
    assert.equal(listed[0]!.status, 'failed');
    const health = (await ws.run(['storage', 'list', '--json'])).json<{ objects: number }[]>();
    assert.equal(health[0]!.objects, 0, 'no bundle, no sidecar, no probe left in the bucket');
  });
});
