import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LifeboatError } from '../../src/errors.ts';
import { nextFireTimes } from '../../src/reports/schedule-preview.ts';

describe('nextFireTimes', () => {
  // Europe/Amsterdam: summer time starts 2026-03-29 02:00 (to 03:00) and ends 2026-10-25 03:00 (to 02:00).
  const cases: [string, string, string, string, number, string[]][] = [
    ['a preset across the spring change: the missing 02:30 runs at 03:00 summer time', 'daily at 02:30', 'Europe/Amsterdam', '2026-03-27T12:00:00Z', 4,
      ['2026-03-28T01:30:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z', '2026-03-31T00:30:00.000Z']],
    ['cron across the autumn change: 02:00 happens twice that night, runs once, an hour later in UTC after', '0 2 * * *', 'Europe/Amsterdam', '2026-10-23T12:00:00Z', 4,
      ['2026-10-24T00:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-26T01:00:00.000Z', '2026-10-27T01:00:00.000Z']],
    ['the preset and its cron agree', 'daily at 02:00', 'Europe/Amsterdam', '2026-10-23T12:00:00Z', 4,
      ['2026-10-24T00:00:00.000Z', '2026-10-25T00:00:00.000Z', '2026-10-26T01:00:00.000Z', '2026-10-27T01:00:00.000Z']],
    ['hourly through the spring change: every real hour, none twice', 'hourly', 'Europe/Amsterdam', '2026-03-29T00:10:00Z', 4,
      ['2026-03-29T01:00:00.000Z', '2026-03-29T02:00:00.000Z', '2026-03-29T03:00:00.000Z', '2026-03-29T04:00:00.000Z']],
    ['weekly in New York across its change (2026-03-08)', 'weekly on sunday at 03:00', 'America/New_York', '2026-03-01T12:00:00Z', 3,
      ['2026-03-08T07:00:00.000Z', '2026-03-15T07:00:00.000Z', '2026-03-22T07:00:00.000Z']],
    ['monthly, strictly after `from`', 'monthly on day 1 at 04:30', 'UTC', '2026-01-01T04:30:00Z', 2, ['2026-02-01T04:30:00.000Z', '2026-03-01T04:30:00.000Z']],
  ];
  for (const [name, spec, zone, from, n, times] of cases) {
    test(name, () => {
      const r = nextFireTimes(spec, zone, n, new Date(from));
      assert.deepEqual(r.times, times);
      assert.equal(r.timezone, zone);
    });
  }

  test('five by default, with the cron a preset means', () => {
    const r = nextFireTimes('weekly on monday at 01:15', 'UTC', undefined, new Date('2026-12-01T00:00:00Z'));
    assert.equal(r.cron, '15 1 * * 1');
    assert.equal(r.times.length, 5);
  });

  test('a bad expression, zone or count is E_USAGE saying which', () => {
    const usage = (re: RegExp) => (e: LifeboatError) => e.code === 'E_USAGE' && re.test(e.message);
    assert.throws(() => nextFireTimes('0 25 * * *', 'UTC'), usage(/^schedule "0 25 \* \* \*": .*hour: 25/));
    assert.throws(() => nextFireTimes('every tuesday', 'UTC'), usage(/^schedule "every tuesday" is neither a cron expression nor a preset$/));
    assert.throws(() => nextFireTimes('daily at 25:00', 'UTC'), usage(/"25:00" is not a time/));
    assert.throws(() => nextFireTimes('daily', 'Mars/Olympus'), usage(/^timezone "Mars\/Olympus" is not an IANA time zone$/));
    assert.throws(() => nextFireTimes('daily', 'UTC', 0), usage(/^count 0/));
  });
});
