import type { ChannelConfig } from '../../config/schema.ts';
import { post, type Channel } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'ntfy' }>;

const PRIORITY: Record<string, string> = { info: '3', warning: '3', error: '4', critical: '5' };

/** ntfy (ntfy.sh or self-hosted): the text as the message, priority 5 for emergencies. */
export function ntfy(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      const headers: Record<string, string> = {
        'content-type': 'text/plain; charset=utf-8',
        title: `lifeboat: ${m.payload.event}${m.payload.target ? ` (${m.payload.target})` : ''}`,
        priority: m.emergency ? '5' : (PRIORITY[m.payload.severity] ?? '3'),
        tags: m.payload.severity,
      };
      if (c.token) headers.authorization = `Bearer ${c.token}`;
      return post(c.url, m.payload.message, headers, signal);
    },
  };
}
