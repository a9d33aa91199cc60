import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { makeScheduler } from '../../src/scheduler/daemon.ts';
import type { Clock } from '../../src/scheduler/scheduler.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

/** A clock the test moves by hand. */
function fakeClock(start: string): Clock & { advance(ms: number): void; set(at: string): void } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t), advance: (ms) => (t += ms), set: (at) => (t = new Date(at).getTime()) };
}

const HOUR = 3_600_000;

/** A workspace with one small database and the given targets' YAML (each gets postgres + storage). */
async function setup(targets: Record<string, string>, daemon = ''): Promise<{ ws: Workspace; open: () => { catalog: Catalog; loaded: ReturnType<typeof loadConfig> } }> {
  const db = await suite.server.createDatabase('sched');
  await suite.server.query(db, 'create table t (x int); insert into t select generate_series(1, 50)');
  const ws = suite.workspace({ sharedInitdb: true }); // a scheduled verify's scratch cluster from a template, not initdb
  const lines = ['storages:', `  local: { type: local, path: ${ws.storage} }`, 'targets:'];
  for (const [name, extra] of Object.entries(targets)) {
    lines.push(`  ${name}:`, `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`, '    storage: local', '    verification: { quickAfterEachBackup: false }', ...extra.split('\n').map((l) => `    ${l}`));
  }
  if (daemon) lines.push(`daemon: ${daemon}`);
  ws.writeConfig(lines.join('\n') + '\n');
  return { ws, open: () => ({ catalog: Catalog.open(ws.home), loaded: loadConfig(ws.config) }) };
}

const stored = (ws: Workspace, target: string) => {
  const dir = path.join(ws.storage, target);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.tar.zst')).map((f) => f.replace('.tar.zst', '')).sort() : [];
};

describe('scheduler', () => {
  test('runs two schedules across five days with retention: the kept sets are exactly what the rules say', async () => {
    const { ws, open } = await setup({
      daily: 'schedule: "daily at 02:00"\nretention: { keepDaily: 3, timezone: UTC }',
      twice: 'schedule: { cron: "0 */12 * * *", timezone: UTC }\nretention: { keepLast: 2 }',
    });
    const { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T00:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      for (let h = 0; h < 5 * 24; h++) {
        await scheduler.tick();
        await scheduler.settle();
        clock.advance(HOUR);
      }
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
    assert.deepEqual(stored(ws, 'daily'), ['daily-20261103T023000Z', 'daily-20261104T023000Z', 'daily-20261105T023000Z'], 'started at the tick after 02:00');
    assert.deepEqual(stored(ws, 'twice'), ['twice-20261105T003000Z', 'twice-20261105T123000Z']);
    const check = Catalog.open(ws.home);
    try {
      const runs = check.listScheduleRuns({ limit: 100 });
      assert.equal(runs.filter((r) => r.target === 'daily' && r.status === 'succeeded').length, 5);
      assert.equal(runs.filter((r) => r.target === 'twice' && r.status === 'succeeded').length, 9, 'from 11-01 12:00 to 11-05 12:00');
      assert.equal(check.listBackups('daily', { includeDeleted: true }).filter((b) => b.status === 'deleted').length, 2);
    } finally {
      check.close();
    }
  });

  test('a due run never overlaps a running backup of the same target: it is recorded as skipped', async () => {
    const { open } = await setup({ app: 'schedule: { cron: "0 * * * *", timezone: UTC }' });
    const { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T00:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      await scheduler.tick();
      clock.set('2026-11-01T01:00:01Z');
      await scheduler.tick();
      assert.deepEqual(scheduler.busy, ['app']);
      clock.set('2026-11-01T02:00:01Z');
      await scheduler.tick();
      await scheduler.settle();
      const runs = catalog.listScheduleRuns();
      assert.deepEqual(runs.map((r) => [r.scheduledFor, r.status]), [['2026-11-01T02:00:00.000Z', 'skipped'], ['2026-11-01T01:00:00.000Z', 'succeeded']]);
      assert.equal(runs[0]!.reason, 'a backup of target "app" is already running');
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });

  test('missed runs: one catch-up on start when the last success is older than the period; none with catchUp: none', async () => {
    for (const policy of ['one', 'none'] as const) {
      const { ws, open } = await setup({ app: 'schedule: { cron: "0 2 * * *", timezone: UTC }' }, `{ catchUp: ${policy} }`);
      let { catalog, loaded } = open();
      const clock = fakeClock('2026-11-01T00:30:00Z');
      const first = makeScheduler(loaded, catalog, { clock });
      await first.tick();
      await first.stop(1000);
      catalog.close();
      // The daemon was down for three days.
      clock.set('2026-11-04T09:00:00Z');
      ({ catalog, loaded } = open());
      const second = makeScheduler(loaded, catalog, { clock });
      try {
        await second.tick();
        await second.settle();
        await second.tick();
        await second.settle();
        const runs = catalog.listScheduleRuns();
        if (policy === 'one') {
          assert.deepEqual(runs.map((r) => [r.scheduledFor, r.status]), [['2026-11-04T02:00:00.000Z', 'succeeded']], 'one run for three missed days');
          assert.equal(stored(ws, 'app').length, 1);
        } else {
          assert.deepEqual(runs.map((r) => [r.status, r.reason]), [['skipped', 'missed while the daemon was down (catchUp: none)']]);
          assert.equal(stored(ws, 'app').length, 0);
        }
      } finally {
        await second.stop(1000);
        catalog.close();
      }
    }
  });

  test('two daemons on one catalog: only the lease holder runs schedules; a crashed holder\'s lease expires', async () => {
    const { ws, open } = await setup({ app: 'schedule: { cron: "0 * * * *", timezone: UTC }' });
    const a = open();
    const b = open();
    const clock = fakeClock('2026-11-01T00:30:00Z');
    const first = makeScheduler(a.loaded, a.catalog, { clock });
    const second = makeScheduler(b.loaded, b.catalog, { clock });
    try {
      await first.tick();
      await second.tick();
      assert.equal(first.leader, true);
      assert.equal(second.leader, false);
      clock.set('2026-11-01T01:00:30Z');
      await first.tick();
      await second.tick();
      await first.settle();
      assert.equal(stored(ws, 'app').length, 1, 'one backup, by the leader');
      // The first daemon dies without releasing its lease; after 5 minutes the second takes over.
      clock.set('2026-11-01T01:04:00Z');
      await second.tick();
      assert.equal(second.leader, false, 'the lease is still valid');
      clock.set('2026-11-01T02:00:40Z');
      await second.tick();
      await second.settle();
      assert.equal(second.leader, true);
      assert.equal(stored(ws, 'app').length, 2, 'the 02:00 run, by the second daemon');
    } finally {
      await second.stop(1000);
      a.catalog.close();
      b.catalog.close();
    }
  });

  test('dead-man\'s switch: backup_missing once the newest success is older than twice the period, once per period', async () => {
    const { open } = await setup({ app: 'schedule: { cron: "0 2 * * *", timezone: UTC }' }, '{ schedulerMode: external }');
    const { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T00:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      await scheduler.tick();
      clock.set('2026-11-02T23:00:00Z');
      await scheduler.tick();
      assert.equal(catalog.listEvents({ kind: 'backup_missing' }).length, 0, 'within two days');
      clock.set('2026-11-03T01:00:00Z');
      await scheduler.tick();
      clock.set('2026-11-03T02:00:00Z');
      await scheduler.tick();
      const events = catalog.listEvents({ kind: 'backup_missing' });
      assert.equal(events.length, 1);
      assert.match(events[0]!.message, /target app has no successful backup for 49 hour\(s\) \(alert after 48 h\)/);
      assert.equal(catalog.listScheduleRuns().length, 0, 'external mode: the schedule starts nothing');
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });
});

describe('scheduler retries', () => {
  test('a failed run is tried again after the delay, up to the configured attempts', async () => {
    const { ws, open } = await setup({ app: 'schedule: { cron: "0 2 * * *", timezone: UTC }' }, '{ retry: { attempts: 2, delay: 10m } }');
    // Point the target at a database that does not exist: every attempt fails.
    const { writeFileSync, readFileSync } = await import('node:fs');
    writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace(/databases: \[[^\]]+\]/, 'databases: [no_such_database]'));
    const { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T01:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      await scheduler.tick();
      clock.set('2026-11-01T02:00:10Z');
      for (let i = 0; i < 4; i++) {
        await scheduler.tick();
        await scheduler.settle();
        clock.advance(10 * 60_000);
      }
      const runs = catalog.listScheduleRuns().reverse();
      assert.deepEqual(runs.map((r) => [r.attempt, r.status]), [[1, 'failed'], [2, 'failed'], [3, 'failed']]);
      assert.match(runs[0]!.reason!, /database "no_such_database" does not exist/);
      assert.equal(runs[1]!.startedAt, '2026-11-01T02:10:10.000Z', 'ten minutes later');
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });
});

describe('scheduled verification', () => {
  test('verification.cron test-restores the newest backup when it fires', async () => {
    const { open } = await setup({ app: 'schedule: { cron: "0 2 * * *", timezone: UTC }\nretention: { timezone: UTC }' });
    const { writeFileSync, readFileSync } = await import('node:fs');
    const handle = open();
    handle.catalog.close();
    const file = handle.loaded.file;
    writeFileSync(file, readFileSync(file, 'utf8').replace('verification: { quickAfterEachBackup: false }', 'verification: { quickAfterEachBackup: false, cron: "0 4 * * *" }'));
    const { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T01:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      for (const at of ['2026-11-01T01:30:00Z', '2026-11-01T02:30:00Z', '2026-11-01T03:30:00Z']) {
        clock.set(at);
        await scheduler.tick();
        await scheduler.settle();
      }
      const [backup] = catalog.listBackups('app');
      assert.equal(backup!.verificationStatus, 'unverified', 'not before 04:00');
      clock.set('2026-11-01T04:30:00Z');
      await scheduler.tick();
      await scheduler.settle();
      const verified = catalog.getBackup(backup!.id)!;
      assert.deepEqual([verified.verificationStatus, verified.verificationLevel], ['passed', 'full']);
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });
});

describe('storage watch', () => {
  test('the retention cycle raises low_space once a day when a storage runs under its threshold', async () => {
    const { ws, open } = await setup({ app: 'schedule: { cron: "0 2 * * *", timezone: UTC }' });
    const { writeFileSync, readFileSync, readdirSync: list, statSync } = await import('node:fs');
    let { catalog, loaded } = open();
    const clock = fakeClock('2026-11-01T01:30:00Z');
    let scheduler = makeScheduler(loaded, catalog, { clock });
    await scheduler.tick();
    clock.set('2026-11-01T02:30:00Z');
    await scheduler.tick();
    await scheduler.settle();
    await scheduler.stop(1000);
    catalog.close();
    const used = list(path.join(ws.storage, 'app')).reduce((n, f) => n + statSync(path.join(ws.storage, 'app', f)).size, 0);
    writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace(`path: ${ws.storage} }`, `path: ${ws.storage}, quota: ${Math.ceil(used / 0.95)} }`));
    ({ catalog, loaded } = open());
    scheduler = makeScheduler(loaded, catalog, { clock });
    try {
      for (const at of ['2026-11-01T03:30:00Z', '2026-11-01T04:30:00Z', '2026-11-01T05:30:00Z']) {
        clock.set(at);
        await scheduler.tick();
        await scheduler.settle();
      }
      const events = catalog.listEvents({ kind: 'low_space' });
      assert.equal(events.length, 1, 'once, though three cycles saw it');
      assert.match(events[0]!.message, /^storage local has \d\.\d% free \(.* of .*\), under 10%$/);
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });
});
