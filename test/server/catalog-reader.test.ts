import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { fillCatalog, type GeneratedBackup } from '../../bench/api-data.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { LifeboatError } from '../../src/errors.ts';
import { queryBackupsJson, type BackupQuery } from '../../src/reports/backups.ts';
import { CatalogReader } from '../../src/server/catalog-reader.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-reader-'));
const now = new Date();
let catalog: Catalog;
let made: GeneratedBackup[];

before(() => {
  catalog = Catalog.open(path.join(dir, 'home'));
  made = fillCatalog(catalog, { backups: 200, targets: 4, end: new Date(now.getTime() - 3_600_000) });
});
after(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A reader with its log kept, and a promise for its first line of `level`. */
function reader(options: { module?: string } = {}) {
  const lines: { level: string; message: string }[] = [];
  const waiters: { level: string; resolve: () => void }[] = [];
  const r = new CatalogReader(catalog, (level, message) => {
    lines.push({ level, message });
    for (const w of waiters.filter((x) => x.level === level)) w.resolve();
  }, options);
  const said = (level: string) => (lines.some((l) => l.level === level) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ level, resolve })));
  return { r, lines, said };
}

const text = (page: Uint8Array | string) => (typeof page === 'string' ? page : new TextDecoder().decode(page));

describe('the catalog reader thread (serve\'s pages of the backup list)', () => {
  test('its pages are the ones this thread reads, errors included, and it sees a write made here at once', async () => {
    const { r, said } = reader();
    const q: BackupQuery = { limit: 20, now };
    // The thread starts with the first page asked; that one is read here meanwhile.
    assert.equal(typeof r.backupsPage(q), 'string');
    await said('debug');
    try {
      const first = JSON.parse(text(await r.backupsPage(q))) as { items: { id: string }[]; nextCursor: string };
      const asked: BackupQuery[] = [
        q,
        { ...q, cursor: first.nextCursor },
        { ...q, sort: 'size', order: 'asc', target: made[0]!.target },
        { ...q, status: 'failed', withTotal: true },
        { ...q, verified: 'none', protected: false, from: made[50]!.startedAt },
        { ...q, status: 'deleted' },
      ];
      for (const a of asked) {
        const page = await r.backupsPage(a);
        assert.ok(page instanceof Uint8Array, 'from the thread');
        assert.equal(text(page), queryBackupsJson(catalog, a), JSON.stringify(a));
      }
      const bad = (() => {
        try {
          queryBackupsJson(catalog, { cursor: 'not a cursor' });
        } catch (err) {
          return err as LifeboatError;
        }
        throw new Error('the cursor was taken');
      })();
      await assert.rejects(Promise.resolve(r.backupsPage({ cursor: 'not a cursor' })), (err: unknown) => err instanceof LifeboatError && err.code === bad.code && err.message === bad.message && err.hint === bad.hint);

      // A copy of a good backup goes missing through this thread's connection: the next page shows
      // it degraded. Asked twice before, so the reader keeps the old page: the write must void it.
      const ok = { status: 'ok' as const, limit: 200, now };
      const victim = (JSON.parse(queryBackupsJson(catalog, ok)) as { items: { id: string }[] }).items[0]!.id;
      const asDegraded = { status: 'degraded' as const, limit: 200, now };
      for (let i = 0; i < 2; i++) assert.ok(!(JSON.parse(text(await r.backupsPage(asDegraded))) as { items: { id: string }[] }).items.some((b) => b.id === victim));
      catalog.setLocation(victim, { storage: 'spare', key: 'k', status: 'missing', size: null, sha256: null, error: 'gone' });
      const degraded = JSON.parse(text(await r.backupsPage(asDegraded))) as { items: { id: string }[] };
      assert.ok(degraded.items.some((b) => b.id === victim));
    } finally {
      await r.close();
    }
    assert.equal(typeof r.backupsPage(q), 'string', 'closed: read here');
  });

  test('a thread that cannot start: every page is still answered, here, and the failure is said once', async () => {
    const { r, lines, said } = reader({ module: pathToFileURL(path.join(dir, 'no-such-module.ts')).href });
    const q: BackupQuery = { limit: 5, now };
    assert.equal(r.backupsPage(q), queryBackupsJson(catalog, q));
    await said('warn');
    for (let i = 0; i < 3; i++) assert.equal(r.backupsPage(q), queryBackupsJson(catalog, q));
    assert.deepEqual(lines.filter((l) => l.level === 'warn').length, 1);
    assert.match(lines.find((l) => l.level === 'warn')!.message, /^the catalog reader thread failed: .*no-such-module.*; pages of the backup list are read in the main thread from now on$/);
    await r.close();
  });
});
