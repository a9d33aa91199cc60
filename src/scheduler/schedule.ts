import { Cron } from 'croner';
import { LifeboatError } from '../errors.ts';

/** A schedule as the scheduler uses it: a cron expression and the zone it is read in. */
export interface CronSpec {
  cron: string;
  timezone: string;
}

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/**
 * Reads a schedule as written in lifeboat.yaml or on the command line: a cron expression
 * (`0 2 * * *`) or a preset: `hourly`, `hourly at :15`, `daily at 02:00`,
 * `weekly on sunday at 03:00`, `monthly on day 1 at 04:30` (times optional, default 00:00).
 * Throws E_CONFIG naming what is wrong.
 */
export function toCron(spec: string): string {
  const s = spec.trim().toLowerCase().replace(/\s+/g, ' ');
  const time = (t: string | undefined) => {
    if (t === undefined) return { h: 0, m: 0 };
    const m = /^(\d{1,2}):(\d{2})$/.exec(t);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new LifeboatError('E_CONFIG', `schedule "${spec}": "${t}" is not a time such as 02:00`);
    return { h: Number(m[1]), m: Number(m[2]) };
  };
  let m: RegExpExecArray | null;
  if ((m = /^hourly(?: at :(\d{2}))?$/.exec(s))) return `${Number(m[1] ?? 0)} * * * *`;
  if ((m = /^daily(?: at (\S+))?$/.exec(s))) {
    const t = time(m[1]);
    return `${t.m} ${t.h} * * *`;
  }
  if ((m = /^weekly(?: on (\w+))?(?: at (\S+))?$/.exec(s))) {
    const day = DAYS.indexOf(m[1] ?? 'sunday');
    if (day < 0) throw new LifeboatError('E_CONFIG', `schedule "${spec}": "${m[1]}" is not a day of the week`);
    const t = time(m[2]);
    return `${t.m} ${t.h} * * ${day}`;
  }
  if ((m = /^monthly(?: on day (\d{1,2}))?(?: at (\S+))?$/.exec(s))) {
    const day = Number(m[1] ?? 1);
    if (day < 1 || day > 28) throw new LifeboatError('E_CONFIG', `schedule "${spec}": day ${day}: use 1 to 28, which every month has`);
    const t = time(m[2]);
    return `${t.m} ${t.h} ${day} * *`;
  }
  if (s.split(' ').length === 5 || s.split(' ').length === 6) {
    checkCron(spec.trim(), 'UTC');
    return spec.trim();
  }
  throw new LifeboatError('E_CONFIG', `schedule "${spec}" is neither a cron expression nor a preset`, {
    hint: 'use e.g. "0 2 * * *", hourly, "daily at 02:00", "weekly on sunday at 03:00" or "monthly on day 1"',
  });
}

function checkCron(cron: string, timezone: string): Cron {
  try {
    return new Cron(cron, { timezone, paused: true });
  } catch (err) {
    throw new LifeboatError('E_CONFIG', `schedule "${cron}": ${(err as Error).message}`, { cause: err });
  }
}

/** The first run strictly after `after`. */
export function nextRun(spec: CronSpec, after: Date): Date {
  const next = checkCron(spec.cron, spec.timezone).nextRun(after);
  if (!next) throw new LifeboatError('E_CONFIG', `schedule "${spec.cron}" never runs again`);
  return next;
}

/** The latest run at or before `at`, or undefined when there is none since `since`. */
export function lastRunBefore(spec: CronSpec, at: Date, since: Date): Date | undefined {
  let last: Date | undefined;
  const cron = checkCron(spec.cron, spec.timezone);
  for (let t = cron.nextRun(since); t && t <= at; t = cron.nextRun(t)) last = t;
  return last;
}

/** The schedule's period: the time between its next two runs after `at` (a month for monthly). */
export function periodMs(spec: CronSpec, at: Date): number {
  const [a, b] = checkCron(spec.cron, spec.timezone).nextRuns(2, at);
  return a && b ? b.getTime() - a.getTime() : 86_400_000;
}

/** A daemon interval: `30s`, `10m` (minutes), `1h`, `1d`. */
export function parseInterval(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new LifeboatError('E_CONFIG', `not an interval: ${text} (use e.g. 30s, 10m, 1h)`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
