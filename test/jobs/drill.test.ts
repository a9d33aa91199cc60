import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { readBundle } from '../../src/bundle/reader.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { serverBinDirs } from '../../src/postgres/scratch-cluster.ts';
import { startReceiver } from '../support/receiver.ts';
import { forgeBundle } from '../support/hostile.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

// The bare-metal drill, end to end: real storage, the system's tar/zstd/age, restore.sh under
// an empty environment, a throwaway cluster.

const suite = useTestServer();
const PG_BIN = serverBinDirs(process.env.PG_BINDIR)[0]!.dir;
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Check { name: string; ok: boolean; expected?: string; actual?: string }
interface Report {
  ok: boolean;
  rtoMs: number | null;
  phases: Record<string, number>;
  bundleSize: number;
  storage: string;
  tools: Record<string, string>;
  restoreSh: { code: number; summary: string[] } | null;
  checks: Check[];
}

/**
 * A workspace whose scratch clusters and temp files go to `tmp`, which the test can look into,
 * the clusters copied from the test servers' initdb output.
 */
function room(): { ws: Workspace; tmp: string } {
  const ws = suite.workspace({ sharedInitdb: true });
  const tmp = path.join(ws.dir, 'tmp');
  mkdirSync(tmp);
  // As root the scratch cluster runs as the postgres user, which must be able to enter tempDir.
  chmodSync(ws.dir, 0o755);
  chmodSync(tmp, 0o755);
  return { ws, tmp };
}

async function backup(ws: Workspace, name: string, yaml: string, partSize?: number): Promise<{ id: string; key: string; manifest: Manifest }> {
  ws.writeConfig(yaml);
  const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
  const catalog = Catalog.open(loaded.home);
  try {
    const r = await runBackup(loaded, catalog, name, partSize ? { partSize } : {});
    return { id: r.id, key: r.key, manifest: r.manifest };
  } finally {
    catalog.close();
  }
}

describe('lifeboat drill', () => {
  test('a bundle with roles, two databases (one in parts), postgres and three file sets passes, its RTO recorded by part', async () => {
    const { ws, tmp } = room();
    const shop = await suite.server.createDatabase('shop');
    const notes = await suite.server.createDatabase('notes');
    const role = `drill_owner_${process.pid}`;
    await suite.server.query('postgres', `create role ${role} login`);
    await seedShop(suite.server, shop);
    await suite.server.query(shop, `alter table sales.orders owner to ${role}`);
    await suite.server.query(notes, "create table note (id int primary key, body text); insert into note select g, 'note ' || g from generate_series(1, 300) g");
    await suite.server.query('postgres', 'create table if not exists kept_in_postgres (x int); insert into kept_in_postgres values (1), (2)');
    const app = path.join(ws.dir, 'app');
    mkdirSync(path.join(app, 'media'), { recursive: true });
    writeFileSync(path.join(app, '.env'), 'SECRET=1\n');
    chmodSync(path.join(app, '.env'), 0o600);
    writeFileSync(path.join(app, 'media', 'photo.jpg'), Buffer.alloc(50_000, 7));
    symlinkSync('photo.jpg', path.join(app, 'media', 'latest.jpg'));
    writeFileSync(path.join(app, 'owned.txt'), 'not root\'s');
    chownSync(path.join(app, 'owned.txt'), 4321, 4321);
    const { id } = await backup(ws, 'full', `tempDir: ${tmp}
storages:
  local: { type: local, path: ${ws.storage} }
targets:
  full:
    postgres: { url: "${suite.server.urlFor('postgres')}", databases: [${shop}, ${notes}, postgres], globals: true }
    files:
      config: [${app}/.env]
      media: [${app}/media]
      owned: [${app}/owned.txt]
    storage: local
`, 16 * 1024);

    const r = await ws.run(['drill', id]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /^drill +passed at .*: RTO/m);
    const report = (await ws.run(['show', id, '--json'])).json<{ lastDrill: { report: Report } }>().lastDrill.report;
    assert.equal(report.ok, true, JSON.stringify(report.checks.filter((c) => !c.ok)));
    assert.equal(report.restoreSh!.code, 0);
    assert.ok(report.restoreSh!.summary.some((l) => new RegExp(`ok\\s+database ${shop}\\s+3 tables, 6000 rows`).test(l)), report.restoreSh!.summary.join('\n'));
    assert.match(r.stderr, /restore\.sh: Restoring roles and tablespaces/);
    assert.match(r.stderr, /running restore\.sh with an empty environment \(PATH=\/usr\/lib\/postgresql\/\d+\/bin:\/usr\/bin:\/bin\)/);
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    assert.deepEqual(byName.get(`${shop}: table sales.orders`), { name: `${shop}: table sales.orders`, ok: true, expected: '5000 rows', actual: '5000 rows' });
    assert.equal(byName.get('postgres: table public.kept_in_postgres')!.ok, true);
    assert.equal(byName.get('files')!.actual, 'all match');
    for (const p of ['fetch', 'unpack', 'checks', 'databases', 'files', 'validation']) assert.ok(report.phases[p]! >= 0, `phase ${p}`);
    assert.ok(report.phases.databases! > 0);
    assert.equal(report.rtoMs, Object.values(report.phases).reduce((a, b) => a + b, 0));
    assert.equal(report.bundleSize, statSync(path.join(ws.storage, (await ws.run(['show', id, '--json'])).json<{ locations: { key: string }[] }>().locations[0]!.key)).size);
    for (const t of ['bash', 'tar', 'zstd', 'psql', 'pg_restore', 'postgres', 'sha256sum']) assert.ok(report.tools[t] && report.tools[t] !== 'unknown', `${t}: ${report.tools[t]}`);
    assert.deepEqual(readdirSync(tmp), [], 'no cluster, no unpacked bundle left');

    const show = await ws.run(['show', id]);
    assert.match(show.stdout, /drill +passed at .*: RTO \d+\.\d s for .* from local/);
    assert.match(show.stdout, /RTO split fetch \d+\.\d s, decrypt\+unpack \d+\.\d s, checks \d+\.\d s, databases \d+\.\d s, files \d+\.\d s, validation \d+\.\d s/);
    assert.match(show.stdout, /tools +bash: GNU bash.*pg_restore: pg_restore \(PostgreSQL\) \d+/);
    const events = (await ws.run(['events', '--json'])).json<{ kind: string; message: string }[]>();
    assert.match(events.find((e) => e.kind === 'drill_passed')!.message, new RegExp(`the bare-metal drill of ${id} passed: restored in \\d+\\.\\d s`));
  });

  test('an encrypted bundle is decrypted with the age CLI and the target\'s identity', async () => {
    const { ws, tmp } = room();
    const db = await suite.server.createDatabase('sealed');
    await suite.server.query(db, 'create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 500) g');
    const identity = await generateIdentity();
    const keyFile = path.join(ws.dir, 'key.txt');
    writeFileSync(keyFile, identity + '\n');
    const { id } = await backup(ws, 'sealed', `tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  sealed:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    encryption: { recipients: [${await identityToRecipient(identity)}], identityFile: ${keyFile} }\n`);
    const r = await ws.run(['drill', id]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const report = (await ws.run(['show', id, '--json'])).json<{ lastDrill: { report: Report } }>().lastDrill.report;
    assert.equal(report.ok, true);
    assert.match(r.stderr, /unpacked with tar, zstd, age/);
    assert.match(report.tools.age!, /v?\d+\.\d+/);
    assert.equal(report.checks.find((c) => c.name === `${db}: table public.t`)!.actual, '500 rows');
  });

  test('a dump swapped for another database\'s (checksums fixed in the manifest and the index) fails on row counts', async () => {
    const { ws, tmp } = room();
    const db = await suite.server.createDatabase('swap');
    await seedShop(suite.server, db);
    // A channel with no `on:`: failures, the drill's included.
    const receiver = await startReceiver();
    after(() => receiver.stop());
    const { id, key } = await backup(ws, 'swap', `tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  swap:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\nnotifications:\n  hook: { type: webhook, url: "${receiver.url}/hook" }\n`);
    // Another database of the same name (made elsewhere, as it were): fewer orders.
    const other = await suite.server.createDatabase('other');
    await seedShop(suite.server, other);
    await suite.server.query(other, 'delete from sales.orders where id > 10');
    await suite.server.query('postgres', `alter database "${db}" rename to "${db}_kept"`);
    await suite.server.query('postgres', `alter database "${other}" rename to "${db}"`);
    const dump = execFileSync(path.join(PG_BIN, 'pg_dump'), ['-Fc', suite.server.urlFor(db)], { maxBuffer: 1 << 28 });
    await suite.server.query('postgres', `alter database "${db}" rename to "${other}"`);
    await suite.server.query('postgres', `alter database "${db}_kept" rename to "${db}"`);

    const file = path.join(ws.storage, key);
    const members: { name: string; data: Buffer; mode: number }[] = [];
    let manifest: Manifest | undefined;
    for await (const e of readBundle(Readable.from([readFileSync(file)]), path.basename(file), { identities: [], passphrases: [] })) {
      const chunks: Buffer[] = [];
      for await (const c of e.stream) chunks.push(c);
      if (e.name === 'manifest.json') manifest = JSON.parse(Buffer.concat(chunks).toString()) as Manifest;
      else if (e.type === 'file') members.push({ name: e.name, data: Buffer.concat(chunks), mode: e.mode });
    }
    const dbm = manifest!.postgres!.databases[0]!;
    assert.deepEqual(dbm.dumpMembers, [`databases/${db}.dump`]);
    const old = { sha: dbm.dumpSha256, size: dbm.dumpSize };
    for (const m of members) {
      if (m.name === dbm.dumpMembers[0]) m.data = dump;
      // The index restore.sh reads vouches for the dump by sha256 and size: fixed too.
      if (m.name === 'metadata/restore-index.tsv') {
        m.data = Buffer.from(m.data.toString().split('\n').map((l) => {
          if (!l.includes(old.sha)) return l;
          return l.replace(old.sha, sha(dump)).replace(`\t${old.size}\t`, `\t${dump.length}\t`);
        }).join('\n'));
      }
    }
    const writer = await BundleWriter.create({ algorithm: 'zstd' }, undefined);
    const out: Buffer[] = [];
    const collecting = (async () => {
      for await (const c of writer.output) out.push(c as Buffer);
    })();
    for (const m of members) await writer.addBuffer(m.name, m.data, { mode: m.mode });
    dbm.dumpSha256 = sha(dump);
    dbm.dumpSize = dump.length;
    const { members: _old, ...rest } = manifest!;
    void _old;
    const forged = await writer.finish(rest);
    await collecting;
    const bundle = Buffer.concat(out);
    writeFileSync(file, bundle);
    // The catalog agrees, as it would with a catalog rebuilt from a forged storage.
    const { DatabaseSync } = await import('node:sqlite');
    const cat = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
    cat.prepare('update backup_locations set size = ?, sha256 = ? where backup_id = ?').run(bundle.length, sha(bundle), id);
    cat.prepare('update backups set size = ?, sha256 = ?, manifest_json = ? where id = ?').run(bundle.length, sha(bundle), JSON.stringify(forged), id);
    cat.close();

    const r = await ws.run(['drill', id, '--json']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    const report = r.json<Report>();
    assert.equal(report.ok, false);
    assert.equal(report.restoreSh!.code, 1, 'restore.sh restored it and found the row counts wrong');
    assert.match(r.stderr, new RegExp(`restore\\.sh: restore\\.sh: ${db}: table sales\\.orders has 10 rows, the manifest says 5000`));
    assert.deepEqual(report.checks.find((c) => c.name === `${db}: table sales.orders`), { name: `${db}: table sales.orders`, ok: false, expected: '5000 rows', actual: '10 rows' });
    assert.equal(report.checks.find((c) => c.name === `${db}: table public.customers`)!.ok, true, 'the comparison goes on past the first failure');
    assert.deepEqual(readdirSync(tmp), []);
    const show = await ws.run(['show', id]);
    assert.match(show.stdout, /drill +FAILED at /);
    const events = (await ws.run(['events', '--json'])).json<{ kind: string; message: string }[]>();
    assert.match(events.find((e) => e.kind === 'drill_failed')!.message, new RegExp(`the bare-metal drill of ${id} failed: restore\\.sh .*; ${db}: table sales\\.orders \\(10 rows\\)`));
    const sent = receiver.requests.map((r) => JSON.parse(r.body) as { event: string; backup: { id: string } | null });
    assert.deepEqual(sent.filter((b) => b.event.startsWith('drill')).map((b) => [b.event, b.backup?.id]), [['drill_failed', id]]);
  });

  test('an untrusted backup is refused: its restore.sh is not run', async () => {
    const { ws, tmp } = room();
    ws.writeConfig(`tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { config: [/etc/hostname] }\n    storage: local\n`);
    const { id } = await forgeBundle(ws.storage, 'app', new Date('2026-11-20T02:00:00Z'), [{ set: 'config', path: '/etc/hostname', data: 'forged' }]);
    const rebuilt = await ws.run(['catalog', 'rebuild']);
    assert.equal(rebuilt.code, 0, rebuilt.stderr);
    const r = await ws.run(['drill', id]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`error: backup ${id} is untrusted \\(.*\\): the drill would run its restore\\.sh, which may not be Lifeboat's`));
    assert.match((await ws.run(['show', id])).stdout, /drill +never/);
    assert.deepEqual(readdirSync(tmp), []);
  });

  test('Ctrl-C while restore.sh runs stops it and removes the cluster and the unpacked bundle', async () => {
    const { ws, tmp } = room();
    const db = await suite.server.createDatabase('intr');
    await seedShop(suite.server, db, 20);
    const { id } = await backup(ws, 'intr', `tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  intr:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const child = ws.spawnCli(['drill', id]);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    while (!/restore\.sh: Restoring database/.test(stderr)) {
      assert.equal(child.exitCode, null, stderr);
      await new Promise((res) => setTimeout(res, 20));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 1);
    assert.match(stderr, /cancelled/);
    assert.deepEqual(readdirSync(tmp), [], 'no cluster directory, no unpacked bundle');
    const left = execFileSync('sh', ['-c', `ps -eo args | grep -F '${tmp}' | grep -v grep || true`], { encoding: 'utf8' });
    assert.equal(left.trim(), '', 'no postgres, restore.sh or pg_restore left running');
  });
});
