import type { ChannelConfig } from '../../config/schema.ts';
import { post, type Channel } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'gotify' }>;

const PRIORITY: Record<string, number> = { info: 2, warning: 5, error: 8, critical: 10 };

/** Gotify: POST /message with the application token in X-Gotify-Key. */
export function gotify(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      const body = { title: `lifeboat: ${m.payload.event}${m.payload.target ? ` (${m.payload.target})` : ''}`, message: m.payload.message, priority: m.emergency ? 10 : (PRIORITY[m.payload.severity] ?? 5) };
      return post(`${c.url.replace(/\/$/, '')}/message`, JSON.stringify(body), { 'content-type': 'application/json', 'x-gotify-key': c.token }, signal);
    },
  };
}
