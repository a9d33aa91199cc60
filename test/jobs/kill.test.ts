// kill -9 of the CLI at each phase of backup, restore (database, table, files), verify and prune:
// the next command (any one) leaves no scratch database, temp file, pipe or process behind, the
// catalog and the storage agree, and the next backup and restore work. One server, one small
// dataset; each kill point is a log line (or a file appearing), never a sleep.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

/** A kill point: a line of the CLI's output, or something polled (a file that appears). */
type Point = RegExp | (() => boolean);

let ws: Workspace;
let db: string;
/** The CLI's TMPDIR: the system temp directory as Lifeboat sees it (scratch clusters go there as root). */
let tmp: string;
let appDir: string;
let backupId: string;
let env: NodeJS.ProcessEnv;

const cli = (args: string[]) => ws.cli(args, { env });
/** In this process (support/in-process.ts): for the runs around the kills, not the killed ones. */
const run = (args: string[]) => ws.run(args, { env });
const config = (pruneDocs = false) => `storages:
  local: { type: local, path: ${ws.storage} }
targets:
  shop:
    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }
    files:
      app: [${appDir}]
    storage: local
  docs:
    files:
      app: [${appDir}]
    storage: local
${pruneDocs ? '    retention: { keepLast: 1 }\n' : ''}`;


/** Runs the CLI and kills it with SIGKILL at `point`; says whether it got there. */
async function killAt(args: string[], point: Point): Promise<{ killed: boolean; output: string }> {
  const child = ws.spawnCli(args, { env });
  let output = '';
  let killed = false;
  const kill = () => {
    if (killed || child.exitCode !== null) return;
    killed = true;
    child.kill('SIGKILL');
  };
  const onData = (d: Buffer) => {
    output += d.toString();
    if (point instanceof RegExp && point.test(output)) kill();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.stdin!.end();
  const poll = typeof point === 'function' ? setInterval(() => point() && kill(), 2) : undefined;
  await once(child, 'close');
  clearInterval(poll);
  return { killed, output };
}

/** Names under `dir`, recursively, relative to it. */
function walk(dir: string): string[] {
  try {
    return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]) : [];
  } catch {
    return []; // changing under us: the next poll sees it
  }
}

/** Processes whose command line names this test's temp dirs or its server's port (a tool's --dbname). */
function strayProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (cmd.includes(tmp) || cmd.includes(ws.home) || cmd.includes(`127.0.0.1:${suite.server.port}/`)) found.push(`${pid}: ${cmd}`);
  }
  return found;
}

/**
 * After a kill: any command removes what it left, and nothing remains. `spawned`: that command
 * is a CLI process of its own (else main() in this process, the same clean-up code).
 */
async function assertCleanAfter(label: string, spawned: boolean): Promise<void> {
  const r = await (spawned ? cli : run)(['list', '--json']);
  assert.equal(r.code, 0, `${label}: ${r.stderr}`);
  const scratch = await suite.server.query<{ datname: string }>('postgres', "select datname from pg_database where datname ~ '_lifeboat_|^lifeboat_'");
  assert.deepEqual(scratch.map((s) => s.datname), [], `${label}: scratch databases left`);
  const staging = await suite.server.query<{ nspname: string }>(db, "select nspname from pg_namespace where nspname like 'lifeboat\\_staging\\_%'");
  assert.deepEqual(staging.map((n) => n.nspname), [], `${label}: staging schemas left in the live database`);
  assert.deepEqual(walk(path.join(ws.home, 'tmp')), [], `${label}: files left in the home's tmp/`);
  assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('lifeboat-')), [], `${label}: files left in the system temp directory`);
  assert.deepEqual(strayProcesses(), [], `${label}: processes left`);
  assert.deepEqual(walk(ws.storage).filter((n) => /\.lifeboat-(tmp|probe)-/.test(n)), [], `${label}: staged uploads left in storage`);
  const catalog = Catalog.open(ws.home);
  try {
    assert.deepEqual(catalog.listResources(), [], `${label}: resources still recorded`);
    assert.deepEqual(catalog.runningJobs(), [], `${label}: jobs still running`);
    // Nothing published that the catalog does not know.
    const known = new Set(catalog.listBackups(undefined, { includeDeleted: true }).flatMap((b) => b.locations.map((l) => l.key)));
    const bundles = walk(ws.storage).filter((n) => /\.tar(\.zst)?$/.test(n));
    assert.deepEqual(bundles.filter((k) => !known.has(k)), [], `${label}: bundles in storage the catalog does not list`);
  } finally {
    catalog.close();
  }
}

/** The catalog and the storage agree: every good backup's bundle is there, and nothing else. */
function assertConsistent(): void {
  const catalog = Catalog.open(ws.home);
  try {
    const stored = new Set(walk(ws.storage).filter((n) => /\.tar(\.zst)?$/.test(n)));
    const good = catalog.listBackups().filter((b) => b.status === 'ok' || b.status === 'degraded');
    for (const b of good) assert.ok(stored.has(b.bundleKey!), `${b.id} is ${b.status} in the catalog but its bundle is gone`);
    assert.deepEqual([...stored].filter((k) => !good.some((b) => b.bundleKey === k)), [], 'bundles in storage that no good backup owns');
  } finally {
    catalog.close();
  }
}

/** Kills `args` at every point in turn, checking the clean-up after each. */
async function killEach(name: string, args: (i: number) => string[], points: Point[], prepare?: () => Promise<void>): Promise<void> {
  for (const [i, point] of points.entries()) {
    await prepare?.();
    const { killed, output } = await killAt(args(i), point);
    assert.ok(killed, `${name}: never reached kill point ${i} (${String(point)}); output:\n${output}`);
    await assertCleanAfter(`${name} killed at ${String(point)}`, i === 0);
  }
}

/** True once a job of `kind` is running, as the catalog records it. */
const jobRunning = (kind: string) => () => {
  const catalog = Catalog.open(ws.home);
  try {
    return catalog.runningJobs().some((j) => j.kind === kind);
  } finally {
    catalog.close();
  }
};

/** True once a file whose name matches `re` exists anywhere under `dir`. */
const appears = (dir: () => string, re: RegExp) => () => walk(dir()).some((n) => re.test(n));

describe('kill -9 leaves nothing behind', () => {
  before(async () => {
    db = await suite.server.createDatabase('shop');
    await seedShop(suite.server, db, 10);
    ws = suite.workspace();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kill-tmp-'));
    chmodSync(tmp, 0o711); // as root, scratch clusters run as postgres, which must enter it
    env = { TMPDIR: tmp };
    appDir = path.join(ws.dir, 'app');
    mkdirSync(appDir);
    for (let i = 0; i < 5; i++) writeFileSync(path.join(appDir, `f${i}.txt`), `file ${i}\n`.repeat(20_000));
    ws.writeConfig(config());
    const r = await run(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    backupId = r.json<{ id: string }>().id;
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('backup', async () => {
    await killEach('backup', () => ['backup', 'shop'], [
      /^PostgreSQL .* using pg_dump/m,
      /^writing databases\/.*\.dump$/m,
      appears(() => ws.storage, /\.lifeboat-tmp-/),
      /^dumped /m,
      /^writing manifest\.json$/m,
      /^backup \S+ complete/m,
    ]);
    const r = await run(['backup', 'shop']);
    assert.equal(r.code, 0, r.stderr);
    assertConsistent();
  });

  test('restore of a database', async () => {
    await killEach('restore --database', (i) => ['restore', backupId, '--database', db, '--to', suite.server.urlFor(`${db}_k${i}`)], [
      appears(() => ws.home, /lifeboat-restore-/),
      /^restoring \S+ into scratch database/m,
      /^restoring the schema of/m,
      /^bundle checked/m,
      /^verified /m,
    ]);
    const copy = `${db}_copy`;
    const r = await run(['restore', backupId, '--database', db, '--to', suite.server.urlFor(copy)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, copy), await tableFingerprints(suite.server, db));
  });

  test('restore of a table', async () => {
    await killEach('restore --table', (i) => ['restore', backupId, '--table', 'sales.orders', '--rename-to', `orders_k${i}`], [
      appears(() => ws.home, /lifeboat-plan-/),
      /^reading the TOC/m,
      /^read \S+ MB of/m,
      /^restoring \S+ .*alone into scratch database/m,
      /^staging the restored rows in schema/m,
      /^putting \S+ in place in one transaction/m,
      /^restored \S+ as /m,
    ]);
    const r = await run(['restore', backupId, '--table', 'sales.orders', '--rename-to', 'orders_copy']);
    assert.equal(r.code, 0, r.stderr);
    const [n] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from sales.orders_copy');
    assert.equal(Number(n!.n), 50_000);
  });

  test('restore of files', async () => {
    const out = (i: number) => path.join(ws.dir, `out${i}`);
    let current = 0;
    await killEach('restore --file', (i) => ['restore', backupId, '--file', 'app', '--to-dir', out((current = i))], [
      jobRunning('restore'),
      appears(() => ws.home, /lifeboat-restore-[^/]+\/./),
      /^bundle checked/m,
      appears(() => out(current), /f0\.txt$/),
      appears(() => out(current), /f4\.txt$/),
    ]);
    const r = await run(['restore', backupId, '--file', 'app', '--to-dir', path.join(ws.dir, 'out')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(path.join(ws.dir, 'out', appDir, 'f3.txt'), 'utf8'), readFileSync(path.join(appDir, 'f3.txt'), 'utf8'));
    assert.equal(statSync(path.join(ws.home, 'tmp')).mode & 0o777, 0o700, 'temp files live in the home\'s tmp/, 0700');
  });

  test('verify', async () => {
    await killEach('verify', () => ['verify', backupId], [
      /^starting a scratch PostgreSQL cluster/m,
      appears(() => tmp, /lifeboat-cluster-.*postmaster\.pid$/),
      /^restoring the schema of/m,
      /^bundle checked/m,
      /^pass {2}restore of /m,
    ]);
    const r = await run(['verify', backupId]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /full verification of \S+ passed/);
  });

  test('prune', async () => {
    // Before each kill, at least three backups for keepLast: 1 to delete (a prune may delete
    // several before the kill lands). Backed up without retention, which would prune them at once.
    const enough = async () => {
      const catalog = Catalog.open(ws.home);
      const have = catalog.listBackups('docs').filter((b) => b.status === 'ok').length;
      catalog.close();
      if (have >= 4) return;
      ws.writeConfig(config());
      for (let i = have; i < 4; i++) assert.equal((await run(['backup', 'docs'])).code, 0);
      ws.writeConfig(config(true));
    };
    await killEach('prune', () => ['prune', '--target', 'docs'], [
      jobRunning('prune'),
      /^removed \S+ from local$/m,
      /: deleted: /m,
      /^removed \S+ from local$/m,
      /: deleted: /m,
    ], enough);
    const r = await run(['prune', '--target', 'docs']);
    assert.equal(r.code, 0, r.stderr);
    assertConsistent();
    ws.writeConfig(config());
  });

  test('after all of it, a backup and a restore work', async () => {
    const b = await cli(['backup', 'shop', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const copy = `${db}_final`;
    const r = await cli(['restore', b.json<{ id: string }>().id, '--database', db, '--to', suite.server.urlFor(copy)]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await tableFingerprints(suite.server, copy), await tableFingerprints(suite.server, db));
    assertConsistent();
  });
});
