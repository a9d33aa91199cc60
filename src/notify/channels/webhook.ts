import { createHmac } from 'node:crypto';
import type { ChannelConfig } from '../../config/schema.ts';
import { post, type Channel, type Message } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'webhook' }>;

/** The signature header for `body` at `t` (unix seconds): `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signature(secret: string, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** `{{event}}`, `{{target}}`, `{{message}}`, `{{text}}`, `{{severity}}`, `{{at}}`, `{{backup.id}}`, `{{payload}}` (the JSON). */
function render(template: string, m: Message): string {
  const p = m.payload as unknown as Record<string, unknown>;
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, key: string) => {
    if (key === 'payload') return JSON.stringify(m.payload);
    if (key === 'text') return m.text;
    const value = key.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), p);
    return value === undefined || value === null ? '' : String(value);
  });
}

/** POSTs the event's JSON payload (or the template), signed when a secret is set. */
export function webhook(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      const body = c.template ? render(c.template, m) : JSON.stringify(m.payload);
      const headers: Record<string, string> = {
        'content-type': c.template ? 'text/plain; charset=utf-8' : 'application/json',
        'x-lifeboat-event': m.payload.event,
        ...(c.headers ?? {}),
      };
      if (c.secret) headers['x-lifeboat-signature'] = signature(c.secret, Math.floor(Date.now() / 1000), body);
      return post(c.url, body, headers, signal);
    },
  };
}
