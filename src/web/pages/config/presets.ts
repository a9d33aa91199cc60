// The presets the wizard and the target form offer: retention (in the target's body) and
// schedules (POST /api/v1/schedules takes the preset's words or a cron expression).

export interface RetentionPreset { id: string; label: string; rules: Record<string, number> | null }

export const RETENTION_PRESETS: RetentionPreset[] = [
  { id: 'standard', label: 'Standard: 3 latest, 7 daily, 4 weekly, 12 monthly', rules: { keepLast: 3, keepDaily: 7, keepWeekly: 4, keepMonthly: 12 } },
  { id: 'small', label: 'Small: the 7 latest backups', rules: { keepLast: 7 } },
  { id: 'long', label: 'Long: 14 daily, 8 weekly, 24 monthly, 5 yearly', rules: { keepDaily: 14, keepWeekly: 8, keepMonthly: 24, keepYearly: 5 } },
  { id: 'all', label: 'Keep every backup (no retention)', rules: null },
];

const RULE_KEYS = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'];

/** The preset a target's retention matches, or 'custom' (set elsewhere: left as it is). */
export function retentionPresetOf(retention: unknown): string {
  if (retention === undefined || retention === null) return 'all';
  const r = retention as Record<string, unknown>;
  for (const p of RETENTION_PRESETS) {
    if (p.rules && RULE_KEYS.every((k) => (r[k] ?? undefined) === p.rules![k]) && Object.keys(r).every((k) => RULE_KEYS.includes(k) || k === 'minKeep')) return p.id;
  }
  return 'custom';
}

/**
 * The `retention` value of a target's body for a preset: on a change (merge patch), the rules
 * the preset leaves out are sent as null, or the old ones would stay merged in.
 */
export function retentionBody(id: string, editing: boolean): Record<string, number | null> | null | undefined {
  const preset = RETENTION_PRESETS.find((p) => p.id === id);
  if (!preset) return undefined;
  if (!preset.rules) return editing ? null : undefined;
  if (!editing) return preset.rules;
  return Object.fromEntries(RULE_KEYS.map((k) => [k, preset.rules![k] ?? null]));
}

export const SCHEDULE_PRESETS = [
  ['daily at 02:00', 'Every day at 02:00'],
  ['hourly', 'Every hour'],
  ['0 2,14 * * *', 'Twice a day (02:00 and 14:00)'],
  ['weekly on sunday at 03:00', 'Every Sunday at 03:00'],
  ['', 'No schedule (back up by hand)'],
] as const;
