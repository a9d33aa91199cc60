import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import type { LifeboatError } from '../../src/errors.ts';
import { listEvents, markEventsRead, unreadEventCount } from '../../src/reports/events.ts';
import { getJob, listJobs } from '../../src/reports/jobs.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-reports-'));
let catalog: Catalog;
before(() => {
  catalog = Catalog.open(dir);
});
after(() => {
  catalog.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('jobs', () => {
  test('listed newest first, filtered, every job once across pages; a job carries its log with sequence numbers', () => {
    // Created within a few milliseconds: many share a start time, which the cursor must survive.
    const made: string[] = [];
    for (let i = 0; i < 23; i++) {
      const id = `job-${String(i).padStart(2, '0')}`;
      catalog.createJob({ id, kind: i % 3 ? 'backup' : 'verify', target: i % 2 ? 'app' : 'web', trigger: 'manual' });
      if (i % 4 === 0) catalog.finishJob(id, 'failed', 'boom');
      made.push(id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = listJobs(catalog, { limit: 4, cursor });
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.equal(new Set(seen).size, 23);
    assert.deepEqual([...seen].sort(), made);
    const startedAt = new Map(listJobs(catalog, { limit: 200 }).items.map((j) => [j.id, j.startedAt]));
    assert.deepEqual(seen, [...seen].sort((a, b) => (startedAt.get(a) === startedAt.get(b) ? (a < b ? 1 : -1) : startedAt.get(a)! < startedAt.get(b)! ? 1 : -1)), 'newest first, then by id');

    const failedVerifies = listJobs(catalog, { state: 'failed', kind: 'verify', limit: 200 }).items;
    assert.deepEqual(failedVerifies.map((j) => j.id).sort(), made.filter((_, i) => i % 4 === 0 && i % 3 === 0));
    assert.ok(failedVerifies.every((j) => j.error === 'boom' && j.finishedAt !== null));
    assert.deepEqual(listJobs(catalog, { target: 'web', limit: 200 }).items.map((j) => j.id).sort(), made.filter((_, i) => i % 2 === 0));

    for (const line of ['one', 'two', 'three', 'four']) catalog.appendJobLog('job-05', 'info', line);
    catalog.setJobProgress('job-05', { phase: 'dump', done: 10, total: 20, unit: 'bytes' });
    const job = getJob(catalog, 'job-05');
    assert.equal(job.state, 'running');
    assert.deepEqual(job.progress, { phase: 'dump', done: 10, total: 20, unit: 'bytes' });
    assert.deepEqual(job.log.map((l) => [l.seq, l.message]), [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']]);
    assert.deepEqual(catalog.jobLogSince('job-05', 2).map((l) => [l.seq, l.message]), [[3, 'three'], [4, 'four']], 'a late client gets what it missed');
    assert.deepEqual(getJob(catalog, 'job-05', { logAfter: 4 }).log, []);
  });

  test('an unknown job, a bad state or a foreign cursor is refused', () => {
    assert.throws(() => getJob(catalog, 'nope'), (e: LifeboatError) => e.code === 'E_NOT_FOUND' && e.message === 'no job nope');
    assert.throws(() => listJobs(catalog, { state: 'done' as never }), /state "done": use one of running, succeeded, failed, cancelled/);
    catalog.recordEvent({ kind: 'x', severity: 'info', message: 'm' });
    catalog.recordEvent({ kind: 'x', severity: 'info', message: 'm' });
    const eventCursor = listEvents(catalog, { limit: 1 }).nextCursor!;
    assert.throws(() => listJobs(catalog, { cursor: eventCursor }), (e: LifeboatError) => e.code === 'E_USAGE' && /^cursor /.test(e.message));
  });
});

describe('events', () => {
  test('pages, the unread count, and marking read up to what was seen', () => {
    markEventsRead(catalog, { all: true });
    assert.equal(unreadEventCount(catalog), 0);
    for (let i = 1; i <= 12; i++) catalog.recordEvent({ kind: i % 2 ? 'backup_failed' : 'backup_ok', severity: i % 2 ? 'error' : 'info', target: 'app', message: `event ${i}` });
    const seen: string[] = [];
    let cursor: string | undefined;
    let unread: number | undefined;
    do {
      const page = listEvents(catalog, { unread: true, limit: 5, cursor });
      seen.push(...page.items.map((e) => e.message));
      unread = page.unread;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, Array.from({ length: 12 }, (_, i) => `event ${12 - i}`));
    assert.equal(unread, 12);
    assert.deepEqual(listEvents(catalog, { severity: 'error', limit: 3 }).items.map((e) => e.message), ['event 11', 'event 9', 'event 7']);

    // The user's page showed events up to 6; 7 to 12 came after it was drawn: they stay unread.
    const sixth = listEvents(catalog, { limit: 200 }).items.find((e) => e.message === 'event 6')!;
    assert.deepEqual(markEventsRead(catalog, { upTo: sixth.id }), { marked: 6, unread: 6 });
    assert.deepEqual(listEvents(catalog, { unread: true, limit: 200 }).items.map((e) => e.message), ['event 12', 'event 11', 'event 10', 'event 9', 'event 8', 'event 7']);
    const twelfth = listEvents(catalog, { limit: 1 }).items[0]!;
    assert.equal(markEventsRead(catalog, { ids: [twelfth.id] }).unread, 5);
    assert.ok(listEvents(catalog, { limit: 1 }).items[0]!.readAt !== null);
    assert.throws(() => markEventsRead(catalog, { all: true, upTo: 3 }), /give exactly one of ids, upTo or all/);
    assert.throws(() => listEvents(catalog, { severity: 'loud' as never }), /severity "loud"/);
  });
});
