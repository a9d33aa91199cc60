import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideRetention, isoWeek, parseDuration, periodKey, type RetentionBackup, type RetentionRules } from '../../src/retention/policy.ts';

const NOW = new Date('2026-11-21T12:00:00Z');

/** A successful backup started at `at` (ISO), 1 GB, unverified, unprotected. */
function b(at: string, extra: Partial<RetentionBackup> = {}): RetentionBackup {
  return { id: new Date(at).toISOString(), status: 'ok', trigger: 'schedule', startedAt: new Date(at), size: 1e9, verificationStatus: 'unverified', protected: false, protectedUntil: null, ...extra };
}

/** Runs the policy and returns `id -> "keep|delete: reasons"` for compact tables. */
function run(backups: RetentionBackup[], rules: RetentionRules | undefined, extra: { timeZone?: string; space?: { freeBytes: number; totalBytes: number } } = {}): Record<string, string> {
  return Object.fromEntries(decideRetention(backups, rules, { now: NOW, ...extra }).map((d) => [d.id, `${d.action}: ${d.reasons.join('; ')}`]));
}

const kept = (result: Record<string, string>) => Object.entries(result).filter(([, v]) => v.startsWith('keep')).map(([k]) => k).sort();

/** Hours before NOW as ISO strings. */
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString();
const daysAgo = (d: number, hour = 2) => {
  const t = new Date(NOW.getTime() - d * 86_400_000);
  t.setUTCHours(hour, 0, 0, 0);
  return t.toISOString();
};

describe('retention: count rules', () => {
  const daily = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((d) => b(daysAgo(d)));

  const cases: { name: string; rules: RetentionRules; backups: RetentionBackup[]; keep: string[] }[] = [
    { name: 'keepLast 3 keeps the three newest', rules: { keepLast: 3 }, backups: daily, keep: [daysAgo(0), daysAgo(1), daysAgo(2)] },
    { name: 'keepDaily 3 keeps the newest of each of the last three days', rules: { keepDaily: 3 },
      backups: [b(daysAgo(0, 1)), b(daysAgo(0, 9)), b(daysAgo(1, 1)), b(daysAgo(1, 9)), b(daysAgo(2, 9)), b(daysAgo(3, 9))],
      keep: [daysAgo(0, 9), daysAgo(1, 9), daysAgo(2, 9)] },
    { name: 'keepDaily counts days that have backups, not calendar days', rules: { keepDaily: 2 },
      backups: [b(daysAgo(0)), b(daysAgo(5)), b(daysAgo(9))], keep: [daysAgo(0), daysAgo(5)] },
    { name: 'rules are ORed: keepLast 2 and keepWeekly 2', rules: { keepLast: 2, keepWeekly: 2 }, backups: daily,
      keep: [daysAgo(0), daysAgo(1), daysAgo(6)] },
    { name: 'keepMonthly keeps the newest of each month', rules: { keepMonthly: 3 },
      backups: [b('2026-11-20T02:00:00Z'), b('2026-11-01T02:00:00Z'), b('2026-10-31T02:00:00Z'), b('2026-10-02T02:00:00Z'), b('2026-09-30T02:00:00Z'), b('2026-08-31T02:00:00Z')],
      keep: ['2026-09-30T02:00:00.000Z', '2026-10-31T02:00:00.000Z', '2026-11-20T02:00:00.000Z'] },
    { name: 'keepYearly keeps the newest of each year', rules: { keepYearly: 2 },
      backups: [b('2026-03-01T00:00:00Z'), b('2025-12-31T23:00:00Z'), b('2025-01-01T00:00:00Z'), b('2024-06-01T00:00:00Z')],
      keep: ['2025-12-31T23:00:00.000Z', '2026-03-01T00:00:00.000Z'] },
    { name: 'keepHourly keeps one per hour', rules: { keepHourly: 2 },
      backups: [b(hoursAgo(0.1)), b(hoursAgo(0.5)), b(hoursAgo(1.2)), b(hoursAgo(2.2))], keep: [hoursAgo(0.1), hoursAgo(1.2)] },
    { name: 'keepWithin keeps all within the duration of the newest backup, not of now', rules: { keepWithinMs: parseDuration('2d') },
      backups: [b(daysAgo(10)), b(daysAgo(11)), b(daysAgo(12)), b(daysAgo(13))], keep: [daysAgo(10), daysAgo(11), daysAgo(12)] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(kept(run(c.backups, c.rules)), [...c.keep].map((k) => new Date(k).toISOString()).sort()));
  }

  test('every decision names its reasons', () => {
    const r = run(daily.slice(0, 4), { keepLast: 1, keepDaily: 2 });
    assert.equal(r[daysAgo(0)], `keep: last 1; daily ${daysAgo(0).slice(0, 10)}; newest successful backup`);
    assert.equal(r[daysAgo(1)], `keep: daily ${daysAgo(1).slice(0, 10)}`);
    assert.equal(r[daysAgo(2)], 'delete: not kept by any rule');
  });

  test('no rules keep everything', () => {
    assert.deepEqual(Object.values(run(daily.slice(0, 2), undefined)), ['keep: no retention rules', 'keep: no retention rules']);
  });
});

describe('retention: maxAgeDays and the floors', () => {
  test('maxAgeDays alone deletes what is older and keeps the rest', () => {
    const r = run([b(daysAgo(1)), b(daysAgo(40)), b(daysAgo(100))], { maxAgeDays: 30 });
    assert.equal(r[daysAgo(40)], 'delete: older than 30 days');
    assert.equal(r[daysAgo(100)], 'delete: older than 30 days');
    assert.match(r[daysAgo(1)]!, /^keep: newer than 30 days/);
  });

  test('a long outage never deletes the last good backup: the newest stays whatever its age', () => {
    const r = run([b(daysAgo(200)), b(daysAgo(201))], { maxAgeDays: 30 });
    assert.equal(r[daysAgo(200)], 'keep: newest successful backup');
    assert.equal(r[daysAgo(201)], 'delete: older than 30 days');
  });

  test('count rules win over maxAgeDays', () => {
    const r = run([b(daysAgo(0)), b(daysAgo(60)), b(daysAgo(90))], { keepMonthly: 3, maxAgeDays: 30 });
    assert.deepEqual(kept(r), [daysAgo(0), daysAgo(60), daysAgo(90)].sort());
  });

  test('the newest verified backup, protected backups and minKeep are kept whatever the rules say', () => {
    const backups = [
      b(daysAgo(0)),
      b(daysAgo(1)),
      b(daysAgo(2), { verificationStatus: 'passed' }),
      b(daysAgo(3), { verificationStatus: 'passed' }),
      b(daysAgo(4), { protected: true, protectedUntil: null }),
      b(daysAgo(5)),
    ];
    const r = run(backups, { keepLast: 1, minKeep: 2 });
    assert.equal(r[daysAgo(1)], 'keep: minKeep 2');
    assert.equal(r[daysAgo(2)], 'keep: newest verified backup');
    assert.equal(r[daysAgo(3)], 'delete: not kept by any rule', 'only the newest verified one');
    assert.equal(r[daysAgo(4)], 'keep: protected');
    assert.equal(r[daysAgo(5)], 'delete: not kept by any rule');
  });

  test('failed records go after 7 days; safety backups while protected, and after', () => {
    const r = run([
      b(daysAgo(0)),
      b(daysAgo(3), { status: 'failed', size: null }),
      b(daysAgo(8), { status: 'failed', size: null }),
      b(daysAgo(1), { trigger: 'pre-restore', protected: true, protectedUntil: new Date('2026-11-27T10:00:00Z') }),
      b(daysAgo(9), { trigger: 'pre-restore', protected: false, protectedUntil: new Date('2026-11-19T10:00:00Z') }),
      b(hoursAgo(0.01), { status: 'running', size: null }),
    ], { keepLast: 1 });
    assert.equal(r[daysAgo(3)], 'keep: failed: its record is pruned after 7 days');
    assert.equal(r[daysAgo(8)], 'delete: failed, and older than 7 days');
    assert.equal(r[daysAgo(1)], 'keep: safety backup, protected until 2026-11-27 10:00Z');
    assert.equal(r[daysAgo(9)], 'delete: safety backup past its protection');
    assert.equal(r[hoursAgo(0.01)], 'keep: running');
    assert.match(r[daysAgo(0)]!, /newest successful backup/, 'a safety backup is not the target\'s newest backup');
  });
});

describe('retention: size and space', () => {
  const five = [0, 1, 2, 3, 4].map((d) => b(daysAgo(d)));

  test('maxTotalSize deletes the oldest kept backups until the total fits', () => {
    const r = run(five, { keepLast: 5, maxTotalSize: 3.5e9 });
    assert.deepEqual(kept(r), [daysAgo(0), daysAgo(1), daysAgo(2)].sort());
    assert.equal(r[daysAgo(4)], 'delete: total size 5.0 GB over maxTotalSize 3.5 GB');
    assert.equal(r[daysAgo(3)], 'delete: total size 4.0 GB over maxTotalSize 3.5 GB');
  });

  test('minFreeSpacePercent deletes the oldest until the storage has the room', () => {
    const r = run(five, { keepLast: 5, minFreeSpacePercent: 20 }, { space: { freeBytes: 0.5e9, totalBytes: 10e9 } });
    assert.deepEqual(kept(r), [daysAgo(0), daysAgo(1), daysAgo(2)].sort());
    assert.equal(r[daysAgo(4)], 'delete: free space 5.0% under minFreeSpacePercent 20%');
    assert.equal(r[daysAgo(3)], 'delete: free space 15.0% under minFreeSpacePercent 20%');
  });

  test('size rules never take a floor: the newest stays even when it alone is over', () => {
    const r = run([b(daysAgo(0), { size: 9e9 }), b(daysAgo(1), { size: 9e9, protected: true })], { keepLast: 2, maxTotalSize: 1e9 });
    assert.deepEqual(kept(r), [daysAgo(0), daysAgo(1)].sort());
  });
});

describe('retention: time zones, DST and calendars', () => {
  test('days are the target\'s days: 23:30 UTC is already tomorrow in Amsterdam', () => {
    const backups = [b('2026-11-20T23:30:00Z'), b('2026-11-20T22:30:00Z')];
    assert.deepEqual(kept(run(backups, { keepDaily: 1 }, { timeZone: 'UTC' })), ['2026-11-20T23:30:00.000Z']);
    assert.deepEqual(kept(run(backups, { keepDaily: 2 }, { timeZone: 'Europe/Amsterdam' })), ['2026-11-20T22:30:00.000Z', '2026-11-20T23:30:00.000Z']);
    assert.equal(periodKey(new Date('2026-11-20T23:30:00Z'), 'daily', 'Europe/Amsterdam'), '2026-11-21');
  });

  test('month ends: the last day of a month in New York is the first of the next in UTC', () => {
    assert.equal(periodKey(new Date('2026-03-01T03:00:00Z'), 'monthly', 'America/New_York'), '2026-02');
    assert.equal(periodKey(new Date('2026-03-01T03:00:00Z'), 'monthly', 'UTC'), '2026-03');
    assert.equal(periodKey(new Date('2028-02-29T12:00:00Z'), 'daily', 'UTC'), '2028-02-29');
  });

  test('DST: the repeated hour when clocks go back counts as one hour; the skipped one does not exist', () => {
    // Europe/Amsterdam, 2026-10-25: 03:00 CEST becomes 02:00 CET; 00:30Z and 01:30Z are both 02:30 local.
    assert.equal(periodKey(new Date('2026-10-25T00:30:00Z'), 'hourly', 'Europe/Amsterdam'), '2026-10-25 02h');
    assert.equal(periodKey(new Date('2026-10-25T01:30:00Z'), 'hourly', 'Europe/Amsterdam'), '2026-10-25 02h');
    const r = run([b('2026-10-25T01:30:00Z'), b('2026-10-25T00:30:00Z'), b('2026-10-24T23:30:00Z')], { keepHourly: 2 }, { timeZone: 'Europe/Amsterdam' });
    assert.deepEqual(kept(r), ['2026-10-24T23:30:00.000Z', '2026-10-25T01:30:00.000Z']);
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST; 01:30Z is 03:30 local, the hour after 01h.
    assert.equal(periodKey(new Date('2026-03-29T00:30:00Z'), 'hourly', 'Europe/Amsterdam'), '2026-03-29 01h');
    assert.equal(periodKey(new Date('2026-03-29T01:30:00Z'), 'hourly', 'Europe/Amsterdam'), '2026-03-29 03h');
  });

  test('ISO weeks: Monday starts them; the days around New Year belong to the week of their Thursday', () => {
    assert.deepEqual(isoWeek(2026, 12, 31), { year: 2026, week: 53 });
    assert.deepEqual(isoWeek(2027, 1, 1), { year: 2026, week: 53 });
    assert.deepEqual(isoWeek(2027, 1, 4), { year: 2027, week: 1 });
    assert.deepEqual(isoWeek(2024, 12, 30), { year: 2025, week: 1 });
    assert.equal(periodKey(new Date('2026-11-22T12:00:00Z'), 'weekly', 'UTC'), '2026-W47', 'Sunday ends the week');
    assert.equal(periodKey(new Date('2026-11-23T12:00:00Z'), 'weekly', 'UTC'), '2026-W48');
  });

  test('durations', () => {
    assert.equal(parseDuration('36h'), 36 * 3_600_000);
    assert.equal(parseDuration('1y6m'), (365 + 180) * 86_400_000);
    assert.throws(() => parseDuration('7 days'), /not a duration: 7 days/);
  });
});
