import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { flushNotifications, type DeliveryOutcome } from './deliver.ts';

/**
 * Sends a test event to one channel now (one attempt, recorded like any delivery) and returns
 * the outcome; a channel's failure is the outcome, not an exception. E_NOT_FOUND for a channel
 * that is not configured. `lifeboat notify test` and the API's channel test both call this.
 */
export async function sendTestNotification(loaded: LoadedConfig, catalog: Catalog, name: string): Promise<DeliveryOutcome> {
  const channel = loaded.config.notifications?.[name];
  if (!channel) {
    const names = Object.keys(loaded.config.notifications ?? {});
    throw new LifeboatError('E_NOT_FOUND', `no notification channel named "${name}" in ${loaded.file} or the catalog`, { hint: names.length ? `configured channels: ${names.join(', ')}` : 'add one under notifications:' });
  }
  const { eventId } = catalog.recordDirectEvent({ kind: 'test', severity: 'info', message: `test notification from lifeboat to channel ${name} (${channel.type})` }, name, 1);
  const [outcome] = await flushNotifications(loaded, catalog, { only: { eventId } });
  return outcome!;
}
