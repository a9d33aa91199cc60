import type { ChannelConfig } from '../../config/schema.ts';
import { post, type Channel } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'slack' | 'discord' | 'teams' }>;

/** Slack and Discord incoming webhooks, and a Teams workflow webhook (an Adaptive Card). */
export function chat(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      let body: unknown;
      if (c.type === 'slack') body = { text: m.text };
      else if (c.type === 'discord') body = { content: m.text.slice(0, 2000), allowed_mentions: { parse: [] } };
      else {
        body = {
          type: 'message',
          attachments: [{
            contentType: 'application/vnd.microsoft.card.adaptive',
            content: { $schema: 'http://adaptivecards.io/schemas/adaptive-card.json', type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: m.text, wrap: true }] },
          }],
        };
      }
      return post(c.webhookUrl, JSON.stringify(body), { 'content-type': 'application/json' }, signal);
    },
  };
}
