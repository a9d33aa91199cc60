import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { lastRunBefore, toCron } from './schedule.ts';

const DAY_MS = 86_400_000;

/** A target's `verification.drill` policy, when it has one. */
function drillPolicy(loaded: LoadedConfig, target: string) {
  const v = loaded.config.targets[target]?.verification;
  return typeof v === 'object' ? v.drill : undefined;
}

/**
 * Targets whose `verification.drill.cron` came due since the last call (a cursor per target in
 * the catalog's settings, as for verification crons: the first call only sets it, so a daemon
 * started long after the last firing does not drill at once).
 */
export function dueDrills(loaded: LoadedConfig, catalog: Catalog, now: Date): string[] {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const due: string[] = [];
  for (const [name, t] of Object.entries(loaded.config.targets)) {
    const cron = drillPolicy(loaded, name)?.cron;
    if (!cron) continue;
    const key = `drill-cursor:${name}`;
    const cursor = catalog.getSetting<string>(key);
    catalog.setSetting(key, now.toISOString());
    if (!cursor) continue;
    const spec = { cron: toCron(cron), timezone: t.retention?.timezone ?? t.schedule?.[0]?.timezone ?? zone };
    if (lastRunBefore(spec, now, new Date(cursor))) due.push(name);
  }
  return due;
}

/**
 * Raises `drill_overdue` (a warning, at most once a day per target) for each target whose newest
 * successful drill is older than its `verification.drill.maxAgeDays`. A target never drilled is
 * counted from when the daemon first saw the policy, so setting one gives that much time.
 * Returns the targets it raised the event for.
 */
export function overdueDrills(loaded: LoadedConfig, catalog: Catalog, now: Date): string[] {
  const raised: string[] = [];
  for (const name of Object.keys(loaded.config.targets)) {
    const maxAgeDays = drillPolicy(loaded, name)?.maxAgeDays;
    if (maxAgeDays === undefined) continue;
    const sinceKey = `drill-policy-since:${name}`;
    let since = catalog.getSetting<string>(sinceKey);
    if (!since) catalog.setSetting(sinceKey, (since = now.toISOString()));
    const last = catalog.lastDrill(name, { ok: true });
    const from = last?.startedAt ?? since;
    const age = now.getTime() - Date.parse(from);
    if (age <= maxAgeDays * DAY_MS) continue;
    const alertKey = `drill-overdue:${name}`;
    const alerted = catalog.getSetting<string>(alertKey);
    if (alerted && now.getTime() - Date.parse(alerted) < DAY_MS) continue;
    catalog.setSetting(alertKey, now.toISOString());
    const days = Math.floor(age / DAY_MS);
    catalog.recordEvent({
      kind: 'drill_overdue', severity: 'warning', target: name,
      message: last
        ? `target ${name}: the last successful bare-metal drill was ${days} day(s) ago (${last.backupId}), more than the ${maxAgeDays} allowed; run \`lifeboat drill\` on a recent backup`
        : `target ${name}: no bare-metal drill has passed in the ${days} day(s) since its policy asks for one every ${maxAgeDays}; run \`lifeboat drill\` on a recent backup`,
      data: { lastDrill: last?.startedAt ?? null, maxAgeDays },
    });
    raised.push(name);
  }
  return raised;
}
