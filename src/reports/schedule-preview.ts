import { Cron } from 'croner';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toCron } from '../scheduler/schedule.ts';

export interface FireTimes {
  /** The schedule as given, and the cron expression it means. */
  spec: string;
  cron: string;
  timezone: string;
  /** The next runs, strictly after `from`, as UTC ISO times. */
  times: string[];
}

/**
 * The next `n` runs of a schedule (a cron expression or a preset such as "daily at 02:00") in an
 * IANA time zone: what a schedule form previews before it is saved. Read with croner and
 * toCron exactly as the scheduler reads them, so the preview is what will run. A bad
 * expression, zone or count is E_USAGE saying which.
 */
export function nextFireTimes(spec: string, timezone: string, n = 5, from: Date = new Date()): FireTimes {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new LifeboatError('E_USAGE', `count ${n}: give a whole number from 1 to 100`);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new LifeboatError('E_USAGE', `timezone "${timezone}" is not an IANA time zone`, { hint: 'e.g. Europe/Amsterdam or UTC' });
  }
  let cron: string;
  let job: Cron;
  try {
    cron = toCron(spec);
    job = new Cron(cron, { timezone, paused: true });
  } catch (err) {
    const e = asLifeboatError(err);
    throw new LifeboatError('E_USAGE', e.code === 'E_INTERNAL' ? `schedule "${spec}": ${e.message}` : e.message, { hint: e.hint ?? 'use e.g. "0 2 * * *", hourly, "daily at 02:00", "weekly on sunday at 03:00" or "monthly on day 1"', cause: err });
  }
  return { spec, cron, timezone, times: job.nextRuns(n, from).map((d) => d.toISOString()) };
}
