import nodemailer from 'nodemailer';
import type { ChannelConfig } from '../../config/schema.ts';
import { DeliveryError, type Channel } from '../channel.ts';

type Config = Extract<ChannelConfig, { type: 'email' }>;

const escape = (s: string) => s.replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[ch]!);

/** Email over SMTP (nodemailer): the text as the subject, details in plain text and simple HTML. */
export function email(config: ChannelConfig): Channel {
  const c = config as Config;
  return {
    async send(m, signal) {
      const transport = nodemailer.createTransport({
        host: c.host, port: c.port, secure: c.secure,
        auth: c.user ? { user: c.user, pass: c.password ?? '' } : undefined,
        connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000,
      });
      const onAbort = () => transport.close();
      signal.addEventListener('abort', onAbort, { once: true });
      const p = m.payload;
      const lines = [p.message, '', `event:    ${p.event}`, `severity: ${p.severity}`, `target:   ${p.target ?? '-'}`, `backup:   ${p.backup?.id ?? '-'}`, `at:       ${p.at}`];
      try {
        await transport.sendMail({
          from: c.from,
          to: c.to,
          // Without the text's icon: a plain ASCII subject reads in every client and log.
          subject: m.text.replace(/^\S+ (?=\[lifeboat\])/, '').slice(0, 200),
          text: `${lines.join('\n')}\n\n${JSON.stringify(p, null, 2)}\n`,
          html: `<p><strong>${escape(p.message)}</strong></p><table>${lines.slice(2).map((l) => `<tr><td>${escape(l)}</td></tr>`).join('')}</table>`,
          headers: { 'X-Lifeboat-Event': p.event },
          priority: m.emergency ? 'high' : 'normal',
        });
        return {};
      } catch (err) {
        const e = err as { code?: string; responseCode?: number; message: string };
        // nodemailer's messages name the server, never the password.
        throw new DeliveryError(`SMTP: ${e.code ? `${e.code}: ` : ''}${e.message}`, e.responseCode);
      } finally {
        signal.removeEventListener('abort', onAbort);
        transport.close();
      }
    },
  };
}
