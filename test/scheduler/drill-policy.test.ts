import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { makeScheduler } from '../../src/scheduler/daemon.ts';
import type { Clock } from '../../src/scheduler/scheduler.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();

function fakeClock(start: string): Clock & { set(at: string): void } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t), set: (at) => (t = new Date(at).getTime()) };
}

describe('drill policy', () => {
  test('verification.drill.cron drills the newest backup when it fires; maxAgeDays raises drill_overdue once a day', async () => {
    const db = await suite.server.createDatabase('dp');
    await suite.server.query(db, 'create table t (x int); insert into t select generate_series(1, 50)');
    const ws = suite.workspace({ sharedInitdb: true }); // the drill's scratch cluster from a template, not initdb
    ws.writeConfig(`storages:
  local: { type: local, path: ${ws.storage} }
targets:
  drilled:
    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }
    storage: local
    schedule: { cron: "0 2 * * *", timezone: UTC }
    verification: { quickAfterEachBackup: false, drill: { cron: "0 5 * * *", maxAgeDays: 2 } }
  neglected:
    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }
    storage: local
    verification: { drill: { maxAgeDays: 1 } }
`);
    const catalog = Catalog.open(ws.home);
    const loaded = loadConfig(ws.config);
    const clock = fakeClock('2026-11-01T01:30:00Z');
    const scheduler = makeScheduler(loaded, catalog, { clock });
    const tick = async (at: string) => {
      clock.set(at);
      await scheduler.tick();
      await scheduler.settle();
    };
    try {
      for (const at of ['2026-11-01T01:30:00Z', '2026-11-01T02:30:00Z', '2026-11-01T04:30:00Z']) await tick(at);
      const [backup] = catalog.listBackups('drilled');
      assert.ok(backup);
      assert.equal(catalog.listDrills(backup.id).length, 0, 'not before 05:00');
      await tick('2026-11-01T05:30:00Z');
      const [drill] = catalog.listDrills(backup.id);
      assert.equal(drill?.ok, true, JSON.stringify(drill?.report));
      assert.ok(drill.rtoMs! > 0);
      const audit = catalog.lastAuditOf('drill.run');
      assert.deepEqual([audit?.actor, audit?.object], ['daemon', backup.id]);
      assert.equal(catalog.listEvents({ kind: 'drill_overdue' }).length, 0, 'nothing is overdue yet');

      // A day and a half on: the neglected target (1 day, never drilled) is overdue, once.
      await tick('2026-11-02T14:00:00Z');
      await tick('2026-11-02T15:00:00Z');
      let overdue = catalog.listEvents({ kind: 'drill_overdue' });
      assert.deepEqual(overdue.map((e) => e.target), ['neglected']);
      assert.match(overdue[0]!.message, /target neglected: no bare-metal drill has passed in the 1 day\(s\) since its policy asks for one every 1/);
      // The next day again; the drilled target is still within its 2 days (its drill of 11-02 05:00 passed too).
      await tick('2026-11-03T15:30:00Z');
      overdue = catalog.listEvents({ kind: 'drill_overdue' });
      assert.deepEqual(overdue.map((e) => e.target), ['neglected', 'neglected']);
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
  });

  test('a drill cron that is not a schedule is a config error naming the key', () => {
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  t:\n    files: { s: [/etc/hostname] }\n    storage: local\n    verification: { drill: { cron: "every full moon" } }\n`);
    assert.throws(() => loadConfig(ws.config), /targets\.t\.verification.*drill\.cron/s);
  });
});
