import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runPrune } from '../../src/jobs/prune.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

interface Listed { id: string; status: string; deletionStatus: string; deleteAfter: string | null; protected: boolean }
interface Outcome { id: string; result: string; reasons: string[]; deleteAt?: string }

/** A target `app` with the given retention, on local storage (and a local replica `spare` in ws.dir/spare). */
async function setup(retention: string, options: { replica?: boolean } = {}): Promise<{ ws: Workspace; backup: () => Promise<{ id: string; key: string; prune?: Outcome[] }> }> {
  const db = await suite.server.createDatabase('prune');
  await suite.server.query(db, 'create table t (x int); insert into t select generate_series(1, 100)');
  const ws = suite.workspace();
  ws.writeConfig([
    'storages:',
    `  local: { type: local, path: ${ws.storage} }`,
    options.replica ? `  spare: { type: local, path: ${path.join(ws.dir, 'spare')} }` : '',
    'targets:',
    '  app:',
    `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`,
    `    storage: ${options.replica ? '{ primary: local, replicas: [spare] }' : 'local'}`,
    `    retention: ${retention}`,
    '',
  ].filter((l) => l !== '').join('\n') + '\n');
  return {
    ws,
    backup: async () => {
      const r = await ws.run(['backup', 'app', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return r.json();
    },
  };
}

const bundles = (ws: Workspace, dir = path.join(ws.storage, 'app')) => (existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith('.manifest.json')).sort() : []);

describe('pruning', () => {
  test('each backup applies retention: keepLast 2 leaves two bundles; deleted records stay for history', async () => {
    const { ws, backup } = await setup('{ keepLast: 2 }');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await backup()).id);
    const fourth = await backup();
    ids.push(fourth.id);
    assert.deepEqual(fourth.prune!.filter((o) => o.result === 'deleted').map((o) => [o.id, o.reasons.join('; ')]), [[ids[1], 'not kept by any rule']]);
    assert.deepEqual(bundles(ws), [`${ids[2]}.tar.zst`, `${ids[3]}.tar.zst`].sort());
    assert.deepEqual(readdirSync(path.join(ws.storage, 'app')).length, 4, 'each remaining bundle with its sidecar, nothing else');
    assert.deepEqual((await ws.run(['list', '--json'])).json<Listed[]>().map((b) => b.id), [ids[3], ids[2]]);
    const all = (await ws.run(['list', '--all', '--json'])).json<Listed[]>();
    assert.deepEqual(all.map((b) => [b.id, b.status]), [[ids[3], 'ok'], [ids[2], 'ok'], [ids[1], 'deleted'], [ids[0], 'deleted']]);
    const restore = await ws.run(['restore', ids[0]!, '--dry-run']);
    assert.equal(restore.code, 2);
    assert.match(restore.stderr, /is deleted: it cannot be restored/);
  });

  test('prune --dry-run shows every decision with its reasons and changes nothing', async () => {
    const { ws, backup } = await setup('{ keepLast: 5 }');
    const a = await backup();
    const b = await backup();
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace('keepLast: 5', 'keepLast: 1'));
    const r = await ws.run(['prune', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${b.id} +keep +last 1; newest successful backup`));
    assert.match(r.stdout, new RegExp(`${a.id} +DELETE +not kept by any rule`));
    assert.match(r.stdout, /dry run: nothing was changed/);
    assert.equal(bundles(ws).length, 2);
  });

  test('protected backups stay; delete refuses them until unprotected, then removes every copy', async () => {
    const { ws, backup } = await setup('{ keepLast: 1 }', { replica: true });
    const old = await backup();
    assert.equal((await ws.run(['protect', old.id])).code, 0);
    const next = await backup();
    assert.deepEqual(bundles(ws), [`${old.id}.tar.zst`, `${next.id}.tar.zst`].sort(), 'the protected one survives keepLast 1');

    const refused = await ws.run(['delete', old.id, '--yes']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`backup ${old.id} is protected\\nhint: run \`lifeboat unprotect ${old.id}\` first`));
    const unconfirmed = await ws.run(['unprotect', old.id]).then(() => ws.run(['delete', old.id]));
    assert.equal(unconfirmed.code, 2, 'no --yes and no terminal');
    assert.match(unconfirmed.stderr, /cannot be undone\nhint: pass --yes/);

    const spare = path.join(ws.dir, 'spare');
    assert.ok(existsSync(path.join(spare, old.key)), 'the replica holds it before');
    const deleted = await ws.run(['delete', old.id, '--yes']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.ok(!existsSync(path.join(ws.storage, old.key)) && !existsSync(path.join(ws.storage, `${old.key}.manifest.json`)));
    assert.ok(!existsSync(path.join(spare, old.key)) && !existsSync(path.join(spare, `${old.key}.manifest.json`)), 'gone from the replica too');
    assert.ok(existsSync(path.join(spare, next.key)));
  });

  test('notifyBeforeDeleteHours announces a deletion, deletes it when due, and cancel-deletion keeps it for good', async () => {
    const { ws, backup } = await setup('{ keepLast: 1, notifyBeforeDeleteHours: 24 }');
    const a = await backup();
    const b = await backup();
    const c = await backup();
    const announced = c.prune!.filter((o) => o.result === 'pending');
    assert.deepEqual(announced.map((o) => o.id).sort(), [a.id, b.id].sort());
    assert.equal(bundles(ws).length, 3, 'nothing deleted yet');
    const listed = (await ws.run(['list'])).stdout;
    assert.match(listed, new RegExp(`${a.id} .* ok, deleted at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ`));

    const catalog = Catalog.open(ws.home);
    try {
      const events = catalog.listEvents({ kind: 'pending_deletion' });
      assert.equal(events.length, 2);
      assert.match(events[0]!.message, /will be deleted at .* \(not kept by any rule\); protect it or run `lifeboat cancel-deletion/);
    } finally {
      catalog.close();
    }

    assert.equal((await ws.cli(['cancel-deletion', a.id])).code, 0);
    // A day and an hour later: the announced deletion is due.
    const loaded = loadConfig(ws.config);
    const cat = Catalog.open(ws.home);
    try {
      const later = await runPrune(loaded, cat, { now: new Date(Date.now() + 25 * 3_600_000) });
      assert.deepEqual(later.filter((o) => o.result === 'deleted').map((o) => o.id), [b.id]);
      assert.equal(later.find((o) => o.id === a.id)!.result, 'kept');
      assert.match(later.find((o) => o.id === a.id)!.reasons.join(), /protected/);
    } finally {
      cat.close();
    }
    assert.deepEqual(bundles(ws), [`${a.id}.tar.zst`, `${c.id}.tar.zst`].sort());
  });
});

describe('critical space', () => {
  /** Bytes the target's backups take in storage (bundles and sidecars). */
  const used = (ws: Workspace) => readdirSync(path.join(ws.storage, 'app')).reduce((n, f) => n + statSync(path.join(ws.storage, 'app', f)).size, 0);

  test('stop-and-alert: a backup that would leave under 5% free is refused before it writes, with a critical_space event', async () => {
    const { ws, backup } = await setup('{ keepLast: 10 }');
    const first = await backup();
    const size = (await ws.run(['show', first.id, '--json'])).json<{ size: number }>().size;
    const quota = Math.ceil((used(ws) + size) * 1.01);
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace(`path: ${ws.storage} }`, `path: ${ws.storage}, quota: ${quota} }`));
    const r = await ws.run(['backup', 'app']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /storage "local" has .* free of .*; this backup needs about .*, which would leave \d+\.\d% \(critical: 5%\)/);
    assert.match(r.stderr, /hint: .*onCriticalSpace: delete-oldest/);
    assert.deepEqual(bundles(ws), [`${first.id}.tar.zst`], 'nothing written, nothing deleted');
    const catalog = Catalog.open(ws.home);
    try {
      const [event] = catalog.listEvents({ kind: 'critical_space' });
      assert.equal(event?.severity, 'critical');
    } finally {
      catalog.close();
    }
  });

  test('delete-oldest: the oldest backups the floors allow make room, and the backup goes ahead', async () => {
    const { ws, backup } = await setup('{ keepLast: 10, onCriticalSpace: delete-oldest }');
    const a = await backup();
    const b = await backup();
    const size = (await ws.run(['show', b.id, '--json'])).json<{ size: number }>().size;
    const quota = Math.ceil((used(ws) + size) * 1.01);
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace(`path: ${ws.storage} }`, `path: ${ws.storage}, quota: ${quota} }`));
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const c = r.json<{ id: string }>();
    assert.deepEqual(bundles(ws), [`${b.id}.tar.zst`, `${c.id}.tar.zst`].sort(), `${a.id} made room; ${b.id}, the newest before, is a floor`);
  });
});

describe('retention and restores', () => {
  /** Two backups under keepLast 1 (so a prune has one to delete), and a restore in a live process (this one) holding the target's retention lock. */
  async function lockedByRestore(): Promise<{ ws: Workspace; catalog: Catalog; newest: string }> {
    const { ws, backup } = await setup('{ keepLast: 5 }');
    await backup();
    const newest = (await backup()).id;
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace('keepLast: 5', 'keepLast: 1'));
    const catalog = Catalog.open(ws.home);
    catalog.createJob({ id: 'restore-job-1', kind: 'restore', target: 'app', trigger: 'manual' });
    catalog.acquireLock('retention:app', 'restore-job-1', 'a restore of target "app"');
    return { ws, catalog, newest };
  }

  test('a prune waits for a restore of the same target, saying what it waits for, then prunes', async () => {
    const { ws, catalog, newest } = await lockedByRestore();
    try {
      const child = ws.spawnCli(['prune']);
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/waiting for/.test(stderr)) resolve();
        });
        void exited.then((code) => reject(new Error(`prune ended (${code}) without waiting: ${stderr}`)));
      });
      assert.match(stderr, /waiting for a restore job \(job restore-job-1, pid \d+ on \S+, since \S+\) to release the retention:app lock before pruning target "app"/);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal(child.exitCode, null, 'still waiting');
      assert.equal(bundles(ws).length, 2, 'nothing deleted while the restore runs');
      catalog.releaseLock('retention:app', 'restore-job-1');
      assert.equal(await exited, 0, stderr);
      assert.deepEqual(bundles(ws), [`${newest}.tar.zst`], 'pruned once the restore is done');
    } finally {
      catalog.close();
    }
  });

  test('prune --no-wait fails at once, naming the restore that holds the lock', async () => {
    const { ws, catalog } = await lockedByRestore();
    try {
      const started = Date.now();
      const r = await ws.run(['prune', '--no-wait']);
      assert.ok(Date.now() - started < 20_000);
      assert.equal(r.code, 4, 'a held lock exits 4');
      assert.match(r.stderr, /cannot start pruning target "app": a restore job holds the retention:app lock \(job restore-job-1, pid \d+/);
      assert.doesNotMatch(r.stderr, /waiting for/);
      assert.equal(bundles(ws).length, 2);
    } finally {
      catalog.releaseLock('retention:app', 'restore-job-1');
      catalog.close();
    }
  });
});
