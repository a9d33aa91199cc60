import type { ChannelConfig } from '../config/schema.ts';
import { VERSION } from '../version.ts';
import type { EventPayload } from './events.ts';

/** One message to send: the versioned payload and its one-line text. */
export interface Message {
  payload: EventPayload;
  text: string;
  /** An emergency (critical severity): channels that can, raise its priority. */
  emergency: boolean;
}

/** A notification channel: one file each in channels/, loaded only when configured. */
export interface Channel {
  send(message: Message, signal: AbortSignal): Promise<{ statusCode?: number }>;
}

/**
 * A failed delivery. Its message never carries the channel's URL or credentials (webhook URLs
 * and bot tokens are secrets): only the HTTP status, a bit of the response, or the network code.
 */
export class DeliveryError extends Error {
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode?: number) {
    super(message);
    this.name = 'DeliveryError';
    this.statusCode = statusCode;
  }
}

/** POSTs to `url` and throws a DeliveryError (without the URL) unless the answer is 2xx. */
export async function post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ statusCode: number }> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'user-agent': `lifeboat/${VERSION}`, ...headers }, signal, redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') throw new DeliveryError('no answer in time');
    throw new DeliveryError(`cannot connect (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 200);
    throw new DeliveryError(`HTTP ${res.status}${text ? `: ${text}` : ''}`, res.status);
  }
  await res.body?.cancel().catch(() => {});
  return { statusCode: res.status };
}

export async function openChannel(config: ChannelConfig): Promise<Channel> {
  switch (config.type) {
    case 'webhook':
      return (await import('./channels/webhook.ts')).webhook(config);
    case 'slack':
    case 'discord':
    case 'teams':
      return (await import('./channels/chat.ts')).chat(config);
    case 'telegram':
      return (await import('./channels/telegram.ts')).telegram(config);
    case 'ntfy':
      return (await import('./channels/ntfy.ts')).ntfy(config);
    case 'gotify':
      return (await import('./channels/gotify.ts')).gotify(config);
    case 'email':
      return (await import('./channels/email.ts')).email(config);
  }
}
