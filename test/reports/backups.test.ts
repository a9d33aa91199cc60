import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { fillCatalog, type GeneratedBackup } from '../../bench/api-data.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { migrations } from '../../src/catalog/migrations.ts';
import { LifeboatError } from '../../src/errors.ts';
import { queryBackups, type BackupQuery, type BackupSummaryRow } from '../../src/reports/backups.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-reports-'));
let catalog: Catalog;
let made: GeneratedBackup[];
const now = new Date();

before(() => {
  catalog = Catalog.open(path.join(dir, 'home'));
  made = fillCatalog(catalog, { backups: 300, targets: 5, end: new Date(now.getTime() - 3_600_000) });
});
after(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every page of a query, `limit` at a time, following nextCursor. */
function allPages(q: BackupQuery, limit: number): { rows: BackupSummaryRow[]; pages: number } {
  const rows: BackupSummaryRow[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = queryBackups(catalog, { ...q, limit, cursor, now });
    pages++;
    rows.push(...page.items);
    if (!page.nextCursor) return { rows, pages };
    assert.equal(page.items.length, limit, 'only the last page is short');
    cursor = page.nextCursor;
  }
}

const shown = () => made.filter((b) => b.status !== 'deleted');
const effectivelyProtected = (b: GeneratedBackup) => b.protection !== null && (b.protection.until === null || Date.parse(b.protection.until) > now.getTime());
const byStarted = (a: GeneratedBackup, b: GeneratedBackup) => (a.startedAt === b.startedAt ? (a.id < b.id ? -1 : 1) : a.startedAt < b.startedAt ? -1 : 1);
const bySize = (a: GeneratedBackup, b: GeneratedBackup) => ((a.size ?? -1) === (b.size ?? -1) ? (a.id < b.id ? -1 : 1) : (a.size ?? -1) - (b.size ?? -1));
const byTarget = (a: GeneratedBackup, b: GeneratedBackup) => (a.target === b.target ? -byStarted(a, b) : a.target < b.target ? -1 : 1);
const ids = (xs: { id: string }[]) => xs.map((x) => x.id);

describe('queryBackups', () => {
  test('the generated catalog has what the listing must cope with: shared start times, equal sizes, every status', () => {
    assert.equal(made.length, 300);
    assert.ok(new Set(made.map((b) => b.startedAt)).size <= 60, 'five targets back up at the same times');
    assert.ok(new Set(made.map((b) => b.size)).size <= 7, 'sizes repeat');
    for (const s of ['ok', 'degraded', 'failed', 'running', 'deleted'] as const) assert.ok(made.some((b) => b.status === s), `some ${s}`);
  });

  for (const [sort, order, compare] of [
    ['startedAt', 'desc', (a: GeneratedBackup, b: GeneratedBackup) => -byStarted(a, b)],
    ['startedAt', 'asc', byStarted],
    ['size', 'desc', (a: GeneratedBackup, b: GeneratedBackup) => -bySize(a, b)],
    ['size', 'asc', bySize],
    ['target', 'asc', byTarget],
    ['target', 'desc', (a: GeneratedBackup, b: GeneratedBackup) => (a.target === b.target ? byTarget(a, b) : -byTarget(a, b))],
  ] as const) {
    test(`sort ${sort} ${order}: pages of 7 return every backup once, in order`, () => {
      const { rows, pages } = allPages({ sort, order }, 7);
      const expected = shown().sort(compare);
      assert.equal(new Set(ids(rows)).size, rows.length, 'no duplicates');
      assert.deepEqual(ids(rows), ids(expected));
      assert.equal(pages, Math.ceil(expected.length / 7) + (expected.length % 7 === 0 ? 1 : 0));
    });
  }

  const filters: [string, BackupQuery, (b: GeneratedBackup) => boolean][] = [
    ['target', { target: 'app-03' }, (b) => b.target === 'app-03' && b.status !== 'deleted'],
    ['status ok', { status: 'ok' }, (b) => b.status === 'ok'],
    ['status degraded', { status: 'degraded' }, (b) => b.status === 'degraded'],
    ['status failed', { status: 'failed' }, (b) => b.status === 'failed'],
    ['status running', { status: 'running' }, (b) => b.status === 'running'],
    ['status deleted', { status: 'deleted' }, (b) => b.status === 'deleted'],
    ['verified none', { verified: 'none' }, (b) => b.status !== 'deleted' && b.verification.status === 'unverified'],
    ['verified failed', { verified: 'failed' }, (b) => b.status !== 'deleted' && b.verification.status === 'failed'],
    ['verified passed', { verified: 'passed' }, (b) => b.status !== 'deleted' && b.verification.status === 'passed'],
    ['verified full', { verified: 'full' }, (b) => b.status !== 'deleted' && b.verification.status === 'passed' && b.verification.level === 'full'],
    ['verified quick', { verified: 'quick' }, (b) => b.status !== 'deleted' && b.verification.status === 'passed' && b.verification.level === 'quick'],
    ['protected', { protected: true }, (b) => b.status !== 'deleted' && effectivelyProtected(b)],
    ['not protected', { protected: false }, (b) => b.status !== 'deleted' && !effectivelyProtected(b)],
    ['pending deletion', { pendingDeletion: true }, (b) => b.status !== 'deleted' && b.pendingDeletion],
    ['date range', { from: made[100]!.startedAt, to: made[20]!.startedAt }, (b) => b.status !== 'deleted' && b.startedAt >= made[100]!.startedAt && b.startedAt < made[20]!.startedAt],
    ['combined', { target: 'app-02', status: 'ok', verified: 'passed', sort: 'size' }, (b) => b.target === 'app-02' && b.status === 'ok' && b.verification.status === 'passed'],
    // In size order the date range is checked in the size index's entries, not sought by.
    ['date range by size', { from: made[100]!.startedAt, to: made[20]!.startedAt, sort: 'size' }, (b) => b.status !== 'deleted' && b.startedAt >= made[100]!.startedAt && b.startedAt < made[20]!.startedAt],
    ['target and date range by size', { target: 'app-04', from: made[150]!.startedAt, sort: 'size', order: 'asc' }, (b) => b.target === 'app-04' && b.status !== 'deleted' && b.startedAt >= made[150]!.startedAt],
  ];
  for (const [name, q, keep] of filters) {
    test(`filter ${name}: exactly the backups it names, every page, and the total`, () => {
      const expected = made.filter(keep);
      assert.ok(expected.length > 0, 'the filter selects something');
      const { rows } = allPages(q, 5);
      assert.deepEqual(ids(rows).sort(), ids(expected).sort());
      assert.equal(queryBackups(catalog, { ...q, withTotal: true, now }).total, expected.length);
    });
  }

  test('a row carries what a list shows', () => {
    const degraded = made.find((b) => b.status === 'degraded' && b.verification.status === 'passed') ?? made.find((b) => b.status === 'degraded')!;
    const row = allPages({ target: degraded.target, status: 'degraded' }, 50).rows.find((r) => r.id === degraded.id)!;
    assert.equal(row.size, degraded.size);
    assert.deepEqual(row.locations.map((l) => [l.storage, l.status]), [['local', 'ok'], ['s3', 'failed']]);
    assert.equal(row.verification.status, degraded.verification.status);
    assert.ok(row.durationMs !== null && row.durationMs >= 20_000);
    assert.ok(row.summary && row.summary.tables >= 3);
    const failed = queryBackups(catalog, { status: 'failed', limit: 1 }).items[0]!;
    assert.match(failed.error!, /connection to server lost/);
    assert.equal(failed.size, null);
  });

  test('the list follows every change at once (the read memo is keyed on the catalog\'s changes)', () => {
    const q = { target: 'app-01', status: 'ok' as const, limit: 200 };
    // Asked twice, so the page is kept (a question asked once is not).
    queryBackups(catalog, q);
    const before = queryBackups(catalog, q);
    const victim = before.items[0]!;
    catalog.setLocation(victim.id, { storage: 'spare', key: 'k', status: 'missing', size: null, sha256: null, error: 'gone' });
    const afterwards = queryBackups(catalog, q);
    assert.ok(!ids(afterwards.items).includes(victim.id), 'a copy went missing: no longer ok');
    assert.equal(queryBackups(catalog, { ...q, status: 'degraded' }).items.find((r) => r.id === victim.id)?.status, 'degraded');
    assert.notEqual(victim.verification.status, 'failed');
    assert.equal(queryBackups(catalog, { ...q, status: 'degraded' }).items.find((r) => r.id === victim.id)?.verification.status, victim.verification.status, 'asked twice: kept');
    // Another connection's write (another process: the daemon) is seen as well.
    const other = new DatabaseSync(catalog.file);
    other.prepare("update backups set verification_status = 'failed' where id = ?").run(victim.id);
    other.close();
    assert.equal(queryBackups(catalog, { ...q, status: 'degraded' }).items.find((r) => r.id === victim.id)?.verification.status, 'failed');
  });

  test('every row agrees with the catalog\'s own record of the backup (the triggers keep the list in step)', () => {
    const records = catalog.listBackups(undefined, { includeDeleted: true });
    const rows = new Map([...allPages({}, 200).rows, ...allPages({ status: 'deleted' }, 200).rows].map((r) => [r.id, r]));
    assert.equal(rows.size, records.length);
    for (const b of records) {
      const r = rows.get(b.id)!;
      const until = b.protectedUntil === null ? null : Date.parse(b.protectedUntil);
      assert.deepEqual(
        [r.target, r.status, r.trust, r.trigger, r.startedAt, r.finishedAt, r.size, r.error, r.verification, r.protected, r.protectedUntil, r.deletion, r.locations, r.summary, r.tags],
        [b.target, b.status, b.trust, b.trigger, b.startedAt, b.finishedAt, b.size, b.error, { status: b.verificationStatus, level: b.verificationLevel, at: b.verifiedAt },
          b.protected && (until === null || until > now.getTime()), b.protectedUntil, { status: b.deletionStatus, at: b.deleteAfter },
          b.locations.map((l) => ({ storage: l.storage, status: l.status })), b.summary, b.tags],
        b.id,
      );
    }
  });

  test('bulk writes in one transaction: a failure inside rolls all of it back; a nested one only its own part', () => {
    const count = () => queryBackups(catalog, { target: 'bulk', withTotal: true }).total;
    const start = (id: string) => catalog.startBackup({ id, target: 'bulk', trigger: 'manual', jobId: id, startedAt: new Date(), compression: 'zstd', encrypted: false, bundleKey: id });
    assert.throws(() => catalog.bulk(() => {
      start('bulk-1');
      throw new Error('stop');
    }), /stop/);
    assert.equal(count(), 0, 'rolled back');
    catalog.acquireLock('bulk-lock', 'holder', 'a test');
    catalog.bulk(() => {
      start('bulk-2');
      // acquireLock runs its own transaction: inside bulk it is a savepoint, and its refusal
      // undoes only itself.
      assert.throws(() => catalog.acquireLock('bulk-lock', 'other', 'a test'), /holds the bulk-lock lock/);
      start('bulk-3');
      // This one writes, then fails (a location state the schema refuses): its write is undone.
      assert.throws(() => catalog.completeBackup('bulk-3', {
        size: 1, sha256: 'x', manifest: { finishedAt: new Date().toISOString() } as never, summary: { databases: 0, tables: 0, rows: 0, files: 0, appItems: 0, durationMs: 1, warnings: 0 },
        location: { storage: 'local', key: 'k', status: 'lost' as never, size: 1, sha256: 'x' },
      }), /CHECK constraint failed/);
    });
    assert.equal(count(), 2);
    assert.equal(catalog.getBackup('bulk-3')!.status, 'running', 'the failed completion left nothing behind');
    assert.equal(queryBackups(catalog, { target: 'bulk', status: 'running', withTotal: true }).total, 2, 'nor in the list');
    catalog.releaseLock('bulk-lock', 'holder');
  });

  test('each listed backup is what its record says, written by SQLite: quotes, control characters and emoji in an error, a protection run out, a copy gone bad', () => {
    const id = 'odd-20260101T000000Z';
    catalog.startBackup({ id, target: 'odd', trigger: 'manual', jobId: 'j-odd', startedAt: new Date('2026-01-01T00:00:00.250Z'), compression: 'zstd', encrypted: false, bundleKey: 'k' });
    catalog.failBackup(id, 'pg_dump: "public"."ünïcode" \\ tab\tnewline\n\u0001 bell\u0007 \u{1F6DF} </script>');
    const ran = queryBackups(catalog, { target: 'odd', status: 'failed' }).items[0]!;
    assert.equal(ran.error, catalog.getBackup(id)!.error, 'the error byte for byte');
    assert.equal(ran.durationMs, Date.parse(catalog.getBackup(id)!.finishedAt!) - Date.parse('2026-01-01T00:00:00.250Z'), 'no summary: finished minus started, to the millisecond');
    // Every backup of the generated catalog against its record, in the shape the API documents.
    const expected = (r: NonNullable<ReturnType<typeof catalog.getBackup>>, at: Date): BackupSummaryRow => ({
      id: r.id, target: r.target,
      status: r.deletionStatus === 'deleted' ? 'deleted' : r.status === 'ok' && r.locations.some((l) => l.status !== 'ok') ? 'degraded' : r.status,
      trust: r.trust, trigger: r.trigger, startedAt: r.startedAt, finishedAt: r.finishedAt,
      durationMs: r.summary?.durationMs ?? (r.finishedAt ? Date.parse(r.finishedAt) - Date.parse(r.startedAt) : null),
      size: r.size, error: r.error,
      verification: { status: r.verificationStatus, level: r.verificationLevel, at: r.verifiedAt },
      protected: r.protected && (r.protectedUntil === null || Date.parse(r.protectedUntil) > at.getTime()), protectedUntil: r.protectedUntil,
      deletion: { status: r.deletionStatus, at: r.deleteAfter },
      locations: r.locations.map((l) => ({ storage: l.storage, status: l.status })),
      summary: r.summary, tags: r.tags,
    });
    const listed = allPages({ status: undefined }, 200).rows.concat(allPages({ status: 'deleted' }, 200).rows, [ran]);
    assert.ok(listed.length > 300);
    for (const row of listed) assert.deepEqual(row, expected(catalog.getBackup(row.id)!, now), row.id);
    assert.ok(listed.some((r) => r.status === 'degraded') && listed.some((r) => r.protected) && listed.some((r) => r.summary !== null));
    // A protection that ends: protected while it lasts, not after, the record unchanged.
    catalog.setProtection(id, new Date('2026-06-01T00:00:00Z'));
    const at = (t: string) => queryBackups(catalog, { target: 'odd', status: 'failed', now: new Date(t) }).items[0]!;
    assert.equal(at('2026-05-31T23:59:59.999Z').protected, true);
    assert.equal(at('2026-06-01T00:00:00.000Z').protected, false);
    assert.deepEqual(at('2026-06-01T00:00:00.000Z'), expected(catalog.getBackup(id)!, new Date('2026-06-01T00:00:00.000Z')));
    // A copy turning bad changes the row the list holds at once.
    const good = listed.find((r) => r.status === 'ok' && r.locations.length === 2)!;
    catalog.setLocation(good.id, { ...catalog.getBackup(good.id)!.locations[1]!, status: 'missing' });
    const after = queryBackups(catalog, { target: good.target, status: 'degraded', limit: 200, now }).items.find((r) => r.id === good.id)!;
    assert.deepEqual(after, expected(catalog.getBackup(good.id)!, now));
    assert.equal(after.status, 'degraded');
    catalog.setLocation(good.id, { ...catalog.getBackup(good.id)!.locations[1]!, status: 'ok' });
    catalog.unprotect(id);
  });

  test('a damaged, edited or foreign cursor is refused naming the cursor; bad values name their field', () => {
    const first = queryBackups(catalog, { limit: 5, now });
    const cursor = first.nextCursor!;
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    for (const bad of [flip(cursor, 3), flip(cursor, cursor.length - 1), cursor.split('.')[0]!, 'garbage', `${cursor}.x`]) {
      assert.throws(() => queryBackups(catalog, { limit: 5, cursor: bad, now }), (e: LifeboatError) => e.code === 'E_USAGE' && /^cursor "/.test(e.message));
    }
    assert.throws(() => queryBackups(catalog, { limit: 5, cursor, sort: 'size', now }), /cursor .* from another sort/, 'a cursor of another sort');
    assert.throws(() => queryBackups(catalog, { limit: 0 }), (e: LifeboatError) => e.code === 'E_USAGE' && /^limit 0/.test(e.message));
    assert.throws(() => queryBackups(catalog, { limit: 201 }), /limit 201: give a whole number from 1 to 200/);
    assert.throws(() => queryBackups(catalog, { status: 'fine' as never }), /status "fine": use one of running, ok, degraded, failed, deleted/);
    assert.throws(() => queryBackups(catalog, { verified: 'yes' as never }), /verified "yes"/);
    assert.throws(() => queryBackups(catalog, { from: 'yesterday' }), /from "yesterday" is not a time/);
    assert.deepEqual(ids(queryBackups(catalog, { limit: 5, cursor, now }).items), ids(allPages({}, 5).rows.slice(5, 10)));
  });
});

test('migrations 11 and 15 fill the list from the backups a catalog already holds', () => {
  const home = path.join(dir, 'old');
  const mine = migrations.findIndex((m) => m.includes('create table backup_list'));
  assert.ok(mine >= 0);
  // A catalog as an older Lifeboat left it (this migration's objects gone), with backups in it.
  const old = Catalog.open(home);
  const generated = fillCatalog(old, { backups: 12, targets: 3 });
  old.close();
  const db = new DatabaseSync(path.join(home, 'catalog.sqlite'));
  db.exec('drop table backup_list');
  for (const name of ['insert', 'update', 'delete', 'location_insert', 'location_update', 'location_delete']) db.exec(`drop trigger backup_list_${name}`);
  db.exec('drop index jobs_started_id; drop index jobs_status_started; drop index jobs_kind_started; drop index jobs_target_started; drop index events_unread');
  // This migration, then the later ones that change the list (13's indexes, 15's JSON rows).
  for (const m of migrations.slice(mine)) if (m.includes('backup_list')) db.exec(m);
  db.close();
  const reopened = Catalog.open(home);
  try {
    const page = queryBackups(reopened, { limit: 50, status: undefined });
    assert.deepEqual(ids(page.items).sort(), ids(generated.filter((b) => b.status !== 'deleted')).sort());
    const replicated = page.items.find((r) => r.target === 'app-01' && r.status !== 'failed' && r.status !== 'running')!;
    assert.deepEqual(replicated.locations.map((l) => l.storage), ['local', 's3'], 'the copies came along');
  } finally {
    reopened.close();
  }
});
