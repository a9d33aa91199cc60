// What the daemon asks the catalog on each tick, on a catalog of many backups: the answers it
// relies on, and that retention lets the event loop (the API's requests) in between targets.
// No PostgreSQL: the catalog is generated (bench/api-data.ts) and nothing is backed up.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiDataConfig, fillCatalog, type GeneratedBackup } from '../../bench/api-data.ts';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runPrune } from '../../src/jobs/prune.ts';
import { checkStorage } from '../../src/jobs/storage-health.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-daemon-catalog-'));
const config = path.join(dir, 'lifeboat.yaml');
let catalog: Catalog;
let made: GeneratedBackup[];
const byNewest = (a: GeneratedBackup, b: GeneratedBackup) => (a.startedAt === b.startedAt ? (a.id < b.id ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1);

before(() => {
  // No retention rules: a prune then deletes only failed records older than 7 days, which have
  // no copies in storage, so it does no I/O of its own that would yield anyway.
  writeFileSync(config, apiDataConfig({ storageDir: path.join(dir, 'storage'), targetNames: ['a', 'b'] }).replace(/^ {4}retention: .*\n/gm, ''));
  catalog = Catalog.open(path.join(dir, 'home'));
  made = fillCatalog(catalog, { backups: 240, targetNames: ['a', 'b'], end: new Date(Date.now() - 30 * 86_400_000) });
});
after(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the daemon on a big catalog', () => {
  test('newestGoodBackup: the newest ok or degraded backup, not deleted, not a pre-restore safety backup', () => {
    for (const target of ['a', 'b']) {
      const good = made.filter((b) => b.target === target && (b.status === 'ok' || b.status === 'degraded')).sort(byNewest)[0]!;
      assert.equal(catalog.newestGoodBackup(target)?.id, good.id);
      assert.equal(catalog.newestGoodBackup(target)?.startedAt, good.startedAt);
    }
    // A newer safety backup and a newer deleted one change nothing.
    const at = new Date(Date.now() - 86_400_000);
    const complete = (id: string, trigger: string) => {
      catalog.startBackup({ id, target: 'a', trigger, jobId: `job-${id}`, startedAt: at, compression: 'zstd', encrypted: false, bundleKey: `a/${id}.tar.zst` });
      catalog.completeBackup(id, {
        size: 1, sha256: 'x', manifest: { id, target: 'a', finishedAt: at.toISOString() } as unknown as Manifest,
        summary: { databases: 1, tables: 1, rows: 1, files: 0, appItems: 0, durationMs: 1, warnings: 0 },
        location: { storage: 'local', key: `a/${id}.tar.zst`, status: 'ok', size: 1, sha256: 'x' },
      });
    };
    const before = catalog.newestGoodBackup('a')!.id;
    complete('a-safety', 'pre-restore');
    complete('a-gone', 'manual');
    catalog.markDeleted('a-gone');
    assert.equal(catalog.newestGoodBackup('a')!.id, before);
    assert.equal(catalog.newestGoodBackup('nobody'), undefined);
  });

  test('checkStorage counts the backups with a good copy on the storage, deleted ones left out', async () => {
    const loaded = loadConfig(config);
    const listed = catalog.listBackups();
    for (const storage of ['local', 's3']) {
      const expected = listed.filter((b) => b.locations.some((l) => l.storage === storage && l.status === 'ok')).length;
      assert.ok(expected > 0);
      assert.equal(catalog.countStoredOn(storage), expected);
    }
    assert.equal((await checkStorage(loaded, catalog, 'local')).catalogBackups, catalog.countStoredOn('local'));
  });

  test('retention lets the event loop run between targets: a callback queued at its start runs after the first target, before the second', async () => {
    const loaded = loadConfig(config);
    const failedOld = (target: string) => made.filter((b) => b.target === target && b.status === 'failed').map((b) => b.id);
    assert.ok(failedOld('a').length > 0 && failedOld('b').length > 0, 'each target has failed records to prune');
    const state = (target: string) => failedOld(target).map((id) => catalog.getBackup(id)!.status);
    const pruning = runPrune(loaded, catalog, { trigger: 'schedule' });
    // Whatever the prune does before its first target, by the time the first target's failed
    // records are gone the second target's must still be there: the loop turned in between.
    let turns = 0;
    while (!state('a').every((s) => s === 'deleted') && turns++ < 100) await new Promise((r) => setImmediate(r));
    assert.ok(state('a').every((s) => s === 'deleted'), 'the first target was pruned');
    assert.ok(state('b').every((s) => s === 'failed'), 'the second target waits for the next turn of the event loop');
    const outcomes = await pruning;
    assert.deepEqual(state('b').filter((s) => s !== 'deleted'), []);
    assert.deepEqual(outcomes.filter((o) => o.result === 'deleted' && o.reasons[0]!.startsWith('failed')).map((o) => o.id).sort(), [...failedOld('a'), ...failedOld('b')].sort());
  });
});
