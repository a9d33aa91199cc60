/**
 * Retention as a pure function: (backups, rules, storage space, now) -> a decision with its
 * reasons for every backup. No clock, no catalog, no storage: the prune job feeds it and applies
 * what it says. The rules, exactly (README, "Retention"):
 *
 * - Count rules, ORed: keepLast N keeps the N newest; keepHourly/Daily/Weekly/Monthly/Yearly N
 *   keep the newest backup of each of the last N hours/days/ISO weeks/months/years that have
 *   one, in the target's time zone (restic's `forget` semantics).
 * - keepWithin D keeps everything started within D of the newest backup.
 * - maxAgeDays N deletes what started more than N days before now. Count rules win: a backup a
 *   count rule keeps is never deleted for its age, so a long outage never deletes the last
 *   good backups. Without count rules, maxAgeDays alone decides.
 * - With count rules or keepWithin set, a backup none of them keeps is deleted.
 * - maxTotalSize and minFreeSpacePercent delete the oldest backups still kept until they hold.
 * - Floors, over every rule above: the newest successful backup, the newest backup whose
 *   verification passed, protected backups, and the newest `minKeep` successful backups stay.
 * - Failed records are deleted 7 days after they started; a safety backup (trigger
 *   `pre-restore`) is kept while protected and deleted after.
 */
import { formatBytes } from '../util/format.ts';

export interface RetentionRules {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  /** Milliseconds, measured back from the newest backup. */
  keepWithinMs?: number;
  maxAgeDays?: number;
  maxTotalSize?: number;
  minFreeSpacePercent?: number;
  /** Successful backups that always remain; default 1. */
  minKeep?: number;
}

export interface RetentionBackup {
  id: string;
  status: 'running' | 'ok' | 'degraded' | 'failed';
  trigger: string;
  startedAt: Date;
  size: number | null;
  verificationStatus: 'unverified' | 'passed' | 'failed';
  /** Protected at `now` (protected, and `protectedUntil` unset or later than now). */
  protected: boolean;
  protectedUntil: Date | null;
}

export interface Decision {
  id: string;
  action: 'keep' | 'delete';
  /** Every reason that applies, e.g. "daily 2026-11-19", "older than 90 days". */
  reasons: string[];
}

export interface RetentionInput {
  now: Date;
  /** IANA zone the periods are counted in; default UTC. */
  timeZone?: string;
  /** The target's primary storage, for minFreeSpacePercent. */
  space?: { freeBytes: number; totalBytes: number };
}

export const FAILED_RECORD_DAYS = 7;
const DAY = 86_400_000;

type Period = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const PERIODS: [Period, keyof RetentionRules][] = [
  ['hourly', 'keepHourly'], ['daily', 'keepDaily'], ['weekly', 'keepWeekly'], ['monthly', 'keepMonthly'], ['yearly', 'keepYearly'],
];

export function decideRetention(backups: RetentionBackup[], rules: RetentionRules | undefined, input: RetentionInput): Decision[] {
  const { now } = input;
  const zone = input.timeZone ?? 'UTC';
  const decisions = new Map<string, { action: 'keep' | 'delete'; reasons: string[] }>();
  const set = (id: string, action: 'keep' | 'delete', reason: string) => {
    const d = decisions.get(id);
    if (!d) decisions.set(id, { action, reasons: [reason] });
    else {
      if (d.action !== action) d.reasons = [];
      d.action = action;
      d.reasons.push(reason);
    }
  };
  const keep = (id: string, reason: string) => {
    const d = decisions.get(id);
    if (d?.action === 'keep') d.reasons.push(reason);
    else set(id, 'keep', reason);
  };

  const byNewest = [...backups].sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime());
  const good = byNewest.filter((b) => b.status === 'ok' || b.status === 'degraded');
  const safety = good.filter((b) => b.trigger === 'pre-restore');
  const regular = good.filter((b) => b.trigger !== 'pre-restore');

  for (const b of byNewest) {
    if (b.status === 'running') keep(b.id, 'running');
    if (b.status === 'failed') {
      const days = (now.getTime() - b.startedAt.getTime()) / DAY;
      if (days > FAILED_RECORD_DAYS) set(b.id, 'delete', `failed, and older than ${FAILED_RECORD_DAYS} days`);
      else keep(b.id, `failed: its record is pruned after ${FAILED_RECORD_DAYS} days`);
    }
  }
  for (const b of safety) {
    if (b.protected) keep(b.id, `safety backup, protected until ${b.protectedUntil ? isoMinute(b.protectedUntil) : 'unprotected'}`);
    else set(b.id, 'delete', 'safety backup past its protection');
  }

  const r = rules ?? {};
  const hasCountRules = r.keepLast !== undefined || PERIODS.some(([, k]) => r[k] !== undefined) || r.keepWithinMs !== undefined;
  if (!rules || (!hasCountRules && r.maxAgeDays === undefined && r.maxTotalSize === undefined && r.minFreeSpacePercent === undefined)) {
    for (const b of regular) keep(b.id, 'no retention rules');
    return finish(backups, decisions);
  }

  // Count rules and keepWithin: reasons to keep.
  const counted = new Set<string>();
  if (r.keepLast !== undefined) {
    for (const b of regular.slice(0, r.keepLast)) {
      keep(b.id, `last ${r.keepLast}`);
      counted.add(b.id);
    }
  }
  for (const [period, key] of PERIODS) {
    let left = r[key] as number | undefined;
    if (left === undefined) continue;
    let last: string | undefined;
    for (const b of regular) {
      if (left <= 0) break;
      const k = periodKey(b.startedAt, period, zone);
      if (k === last) continue;
      last = k;
      left--;
      keep(b.id, `${period} ${k}`);
      counted.add(b.id);
    }
  }
  if (r.keepWithinMs !== undefined && regular[0]) {
    const newest = regular[0].startedAt.getTime();
    for (const b of regular) {
      if (newest - b.startedAt.getTime() <= r.keepWithinMs) {
        keep(b.id, `within ${formatDuration(r.keepWithinMs)} of the newest`);
        counted.add(b.id);
      }
    }
  }

  // What the rules delete.
  for (const b of regular) {
    if (counted.has(b.id)) continue;
    const ageDays = (now.getTime() - b.startedAt.getTime()) / DAY;
    if (r.maxAgeDays !== undefined && ageDays > r.maxAgeDays) set(b.id, 'delete', `older than ${r.maxAgeDays} days`);
    else if (hasCountRules) set(b.id, 'delete', 'not kept by any rule');
    else keep(b.id, r.maxAgeDays !== undefined ? `newer than ${r.maxAgeDays} days` : 'no count rules');
  }

  // Floors: they win over every rule, including the size rules below.
  const floor = new Map<string, string>();
  if (regular[0]) floor.set(regular[0].id, 'newest successful backup');
  const verified = regular.find((b) => b.verificationStatus === 'passed');
  if (verified && !floor.has(verified.id)) floor.set(verified.id, 'newest verified backup');
  for (const b of regular) if (b.protected && !floor.has(b.id)) floor.set(b.id, `protected${b.protectedUntil ? ` until ${isoMinute(b.protectedUntil)}` : ''}`);
  const minKeep = r.minKeep ?? 1;
  for (const b of regular.slice(0, minKeep)) if (!floor.has(b.id)) floor.set(b.id, `minKeep ${minKeep}`);
  for (const [id, reason] of floor) keep(id, reason);

  // Size rules: the oldest kept first, never a floor.
  const kept = () => regular.filter((b) => decisions.get(b.id)?.action === 'keep');
  const oldestRemovable = () => kept().reverse().find((b) => !floor.has(b.id));
  if (r.maxTotalSize !== undefined) {
    let total = kept().reduce((n, b) => n + (b.size ?? 0), 0);
    while (total > r.maxTotalSize) {
      const victim = oldestRemovable();
      if (!victim) break;
      set(victim.id, 'delete', `total size ${formatBytes(total)} over maxTotalSize ${formatBytes(r.maxTotalSize)}`);
      total -= victim.size ?? 0;
    }
  }
  if (r.minFreeSpacePercent !== undefined && input.space && input.space.totalBytes > 0) {
    let free = input.space.freeBytes;
    const total = input.space.totalBytes;
    while ((100 * free) / total < r.minFreeSpacePercent) {
      const victim = oldestRemovable();
      if (!victim) break;
      set(victim.id, 'delete', `free space ${((100 * free) / total).toFixed(1)}% under minFreeSpacePercent ${r.minFreeSpacePercent}%`);
      free += victim.size ?? 0;
    }
  }
  return finish(backups, decisions);
}

function finish(backups: RetentionBackup[], decisions: Map<string, { action: 'keep' | 'delete'; reasons: string[] }>): Decision[] {
  return [...backups]
    .sort((a, b) => b.startedAt.getTime() - a.startedAt.getTime())
    .map((b) => ({ id: b.id, ...(decisions.get(b.id) ?? { action: 'keep' as const, reasons: ['no rule applies'] }) }));
}

/** The period a time falls in, in a time zone: `2026-11-19 14h`, `2026-11-19`, `2026-W47`, `2026-11`, `2026`. */
export function periodKey(at: Date, period: Period, timeZone: string): string {
  const p = localParts(at, timeZone);
  const pad = (n: number) => String(n).padStart(2, '0');
  switch (period) {
    case 'hourly':
      return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}h`;
    case 'daily':
      return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
    case 'weekly': {
      const { year, week } = isoWeek(p.year, p.month, p.day);
      return `${year}-W${pad(week)}`;
    }
    case 'monthly':
      return `${p.year}-${pad(p.month)}`;
    case 'yearly':
      return String(p.year);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function localParts(at: Date, timeZone: string): { year: number; month: number; day: number; hour: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const isoYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(isoYear, 0, 1)) / DAY + 1) / 7);
  return { year: isoYear, week };
}

const UNITS: Record<string, number> = { h: 3_600_000, d: DAY, w: 7 * DAY, m: 30 * DAY, y: 365 * DAY };

/** `36h`, `7d`, `2w`, `6m` (30 days), `1y` (365 days), or combined: `1y6m`. Minutes: use hours. */
export function parseDuration(text: string): number {
  const m = /^(\d+[hdwmy])+$/.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text} (use e.g. 36h, 7d, 2w, 6m, 1y)`);
  let ms = 0;
  for (const [, n, unit] of text.trim().matchAll(/(\d+)([hdwmy])/g)) ms += Number(n) * UNITS[unit!]!;
  return ms;
}

function formatDuration(ms: number): string {
  for (const [unit, size] of [['y', UNITS.y!], ['w', UNITS.w!], ['d', DAY], ['h', UNITS.h!]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 3_600_000)}h`;
}

function isoMinute(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}
