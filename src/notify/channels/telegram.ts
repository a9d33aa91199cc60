import type { ChannelConfig } from '../../config/schema.ts';
import { post, type Channel } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'telegram' }>;

/** The Bot API's sendMessage; `apiUrl` is for a self-hosted Bot API server. */
export function telegram(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      const url = `${c.apiUrl.replace(/\/$/, '')}/bot${c.botToken}/sendMessage`;
      return post(url, JSON.stringify({ chat_id: c.chatId, text: m.text.slice(0, 4096), disable_web_page_preview: true }), { 'content-type': 'application/json' }, signal);
    },
  };
}
