// Event names and routing come from the engine's own list (plain data, no imports), bundled into
// the UI at build time, so a new event reaches the channel form without a second copy to keep in step.
import { DEFAULT_EVENTS, EMERGENCY_EVENTS, EVENT_GROUPS, EVENT_KINDS as ALL_KINDS } from '../../../notify/event-kinds.ts';

/** What a channel may subscribe to ('test' is only sent by a channel's test button). */
export const EVENT_KINDS = ALL_KINDS.filter((e) => e !== 'test');
export { EMERGENCY_EVENTS };

/** The events a channel's config routes to it. */
export function eventsOf(config: Record<string, unknown>): Set<string> {
  const on: readonly string[] = Array.isArray(config.on) ? (config.on as string[]) : DEFAULT_EVENTS;
  const out = new Set<string>(on.flatMap((e): readonly string[] => EVENT_GROUPS[e] ?? [e]));
  if (config.emergency === true) for (const e of EMERGENCY_EVENTS) out.add(e);
  return out;
}

export function eventLabel(e: string): string {
  return e.replaceAll('_', ' ');
}
