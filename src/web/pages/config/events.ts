// Event names and routing as src/notify/event-kinds.ts defines them: the UI reaches the engine
// only over HTTP, and the API has no route listing them, so they are repeated here (keep in step).

export const EVENT_KINDS = [
  'backup_succeeded', 'backup_failed', 'backup_degraded', 'backup_missing',
  'verification_passed', 'verification_failed',
  'pending_deletion', 'deleted',
  'low_space', 'critical_space',
  'restore_started', 'restore_finished', 'restore_failed',
  'resources_reaped',
] as const;

/** What a channel without `on:` gets. */
export const DEFAULT_EVENTS: readonly string[] = ['backup_failed', 'backup_degraded', 'backup_missing', 'verification_failed', 'low_space', 'critical_space', 'restore_failed'];
const GROUPS: Record<string, readonly string[]> = { failure: ['backup_failed', 'backup_degraded', 'verification_failed', 'restore_failed'] };
/** Reach channels marked emergency whatever their `on:` says. */
export const EMERGENCY_EVENTS: readonly string[] = ['critical_space', 'backup_missing'];

/** The events a channel's config routes to it. */
export function eventsOf(config: Record<string, unknown>): Set<string> {
  const on = Array.isArray(config.on) ? (config.on as string[]) : DEFAULT_EVENTS;
  const out = new Set(on.flatMap((e) => GROUPS[e] ?? [e]));
  if (config.emergency === true) for (const e of EMERGENCY_EVENTS) out.add(e);
  return out;
}

export function eventLabel(e: string): string {
  return e.replaceAll('_', ' ');
}
