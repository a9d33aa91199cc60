import type { Catalog, ScheduleRecord } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toCron } from './schedule.ts';
import { configSchedules, Scheduler } from './scheduler.ts';

/**
 * Editing the daemon's schedules, for the CLI and the API alike. Schedules seeded from
 * lifeboat.yaml can be paused and edited here (the file wins when it changes them) but not
 * removed: that is done in the file.
 */

/** The schedules, with those in the config brought up to date first, and each one's next run. */
export function listSchedules(loaded: LoadedConfig, catalog: Catalog, now = new Date()): (ScheduleRecord & { next: string | null; source: 'file' | 'api' })[] {
  catalog.syncSchedules(configSchedules(loaded));
  return Scheduler.upcoming(catalog, now).map((u) => ({ ...u.schedule, next: u.next?.toISOString() ?? null, source: u.schedule.configKey ? 'file' : 'api' }));
}

export function getSchedule(loaded: LoadedConfig, catalog: Catalog, id: number, now = new Date()): ScheduleRecord & { next: string | null; source: 'file' | 'api' } {
  const s = listSchedules(loaded, catalog, now).find((x) => x.id === id);
  if (!s) throw new LifeboatError('E_NOT_FOUND', `no schedule ${id}`, { hint: 'list them with `lifeboat schedule list`' });
  return s;
}

/** An IANA zone, checked; the system's when none is given. */
export function timeZone(zone: string | undefined): string {
  if (zone === undefined) return Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new LifeboatError('E_USAGE', `${zone}: not an IANA time zone`, { hint: 'e.g. Europe/Amsterdam or UTC' });
  }
  return zone;
}

/** A cron expression or preset, as cron; a bad one is a usage error naming it. */
export function cronOf(spec: string): string {
  try {
    return toCron(spec);
  } catch (err) {
    const e = asLifeboatError(err);
    throw new LifeboatError('E_USAGE', e.message, { hint: e.hint });
  }
}

export function addSchedule(loaded: LoadedConfig, catalog: Catalog, s: { target: string; spec: string; timezone?: string }): ScheduleRecord {
  if (!loaded.config.targets[s.target]) throw new LifeboatError('E_NOT_FOUND', `no target named "${s.target}"`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ') || 'none'}` });
  const id = catalog.addSchedule({ target: s.target, spec: s.spec, cron: cronOf(s.spec), timezone: timeZone(s.timezone) });
  return catalog.getSchedule(id);
}

export function editSchedule(loaded: LoadedConfig, catalog: Catalog, id: number, change: { spec?: string; timezone?: string; paused?: boolean }): ScheduleRecord {
  getSchedule(loaded, catalog, id);
  if (change.spec === undefined && change.timezone === undefined && change.paused === undefined) throw new LifeboatError('E_USAGE', 'nothing to change: give a schedule, a time zone, or paused');
  catalog.updateSchedule(id, {
    spec: change.spec,
    cron: change.spec === undefined ? undefined : cronOf(change.spec),
    timezone: change.timezone === undefined ? undefined : timeZone(change.timezone),
    paused: change.paused,
  });
  return catalog.getSchedule(id);
}

export function removeSchedule(loaded: LoadedConfig, catalog: Catalog, id: number): void {
  const s = getSchedule(loaded, catalog, id);
  if (s.configKey) throw new LifeboatError('E_CONFLICT', `schedule ${id} comes from ${loaded.file}`, { hint: `remove it there, or \`lifeboat schedule pause ${id}\` (over the API: paused: true)` });
  catalog.removeSchedule(id);
}
