import type { Catalog, EventRecord } from '../catalog/catalog.ts';
import type { ChannelConfig } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { DeliveryError, openChannel } from './channel.ts';
import { DEFAULT_EVENTS, EMERGENCY_EVENTS, EVENT_GROUPS, type EventKind } from './event-kinds.ts';
import { payloadOf, textOf } from './events.ts';

/** The first retry waits this long, each next one twice as long, at most an hour. */
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 3_600_000;
const SEND_TIMEOUT_MS = 20_000;

export interface DeliveryOutcome {
  eventId: number;
  event: string;
  channel: string;
  ok: boolean;
  statusCode?: number;
  error?: string;
  /** The next attempt, when this one failed and attempts remain. */
  retryAt?: string;
}

/** Whether a channel wants an event: its `on:` (default failures and emergencies), and emergencies always for emergency channels. */
export function wants(channel: ChannelConfig, kind: string): boolean {
  if (kind === 'test') return false;
  if (channel.emergency && EMERGENCY_EVENTS.includes(kind as EventKind)) return true;
  const on: readonly string[] = channel.on ?? DEFAULT_EVENTS;
  return on.flatMap((k): readonly string[] => EVENT_GROUPS[k] ?? [k]).includes(kind);
}

/**
 * Routes new events to the channels that want them, then sends every delivery that is due.
 * A failed send is retried later with exponential backoff (30 s, 1 min, 2 min... at most an
 * hour apart) up to the channel's `attempts`; every attempt is recorded. Never throws for a
 * channel's failure: the outcomes say what happened. Stops starting new sends after `budgetMs`
 * (what is left stays due for the next flush).
 */
export async function flushNotifications(
  loaded: LoadedConfig,
  catalog: Catalog,
  options: { now?: Date; budgetMs?: number; only?: { eventId: number }; signal?: AbortSignal } = {},
): Promise<DeliveryOutcome[]> {
  const now = options.now ?? new Date();
  const channels = loaded.config.notifications ?? {};
  catalog.routeEvents(
    (e: EventRecord) => Object.entries(channels).filter(([, c]) => wants(c, e.kind)).map(([name, c]) => ({ channel: name, maxAttempts: c.attempts })),
    now,
  );
  const started = Date.now();
  const outcomes: DeliveryOutcome[] = [];
  for (const d of catalog.dueDeliveries(now, options.only)) {
    if (options.budgetMs !== undefined && Date.now() - started > options.budgetMs) break;
    if (options.signal?.aborted) break;
    const event = catalog.getEvent(d.eventId)!;
    const config = channels[d.channel];
    const outcome: DeliveryOutcome = { eventId: d.eventId, event: event.kind, channel: d.channel, ok: false };
    if (!config) {
      outcome.error = `channel "${d.channel}" is no longer in ${loaded.file}`;
      catalog.recordDeliveryAttempt(d.id, { at: now, ok: false, error: outcome.error });
      outcomes.push(outcome);
      continue;
    }
    const payload = payloadOf(catalog, event);
    try {
      const channel = await openChannel(config);
      const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(SEND_TIMEOUT_MS)]) : AbortSignal.timeout(SEND_TIMEOUT_MS);
      const r = await channel.send({ payload, text: textOf(payload), emergency: event.severity === 'critical' }, signal);
      outcome.ok = true;
      outcome.statusCode = r.statusCode;
      catalog.recordDeliveryAttempt(d.id, { at: now, ok: true, statusCode: r.statusCode });
    } catch (err) {
      const e = err instanceof DeliveryError || err instanceof LifeboatError ? err : new DeliveryError((err as Error).message);
      outcome.error = e.message;
      outcome.statusCode = e instanceof DeliveryError ? e.statusCode : undefined;
      const attempt = d.attempts + 1;
      const retryAt = attempt < d.maxAttempts ? new Date(now.getTime() + Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1))) : undefined;
      outcome.retryAt = retryAt?.toISOString();
      catalog.recordDeliveryAttempt(d.id, { at: now, ok: false, statusCode: outcome.statusCode, error: e.message, retryAt });
    }
    outcomes.push(outcome);
  }
  return outcomes;
}
