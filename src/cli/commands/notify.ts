import { Command } from 'commander';
import { table } from '../output.ts';
import { print, catalogAction, auditedAction } from '../context.ts';

/** Notifications: notify test, events. */
export function registerNotify(program: Command): void {
  const notifyCmd = program.command('notify').description('notification channels');
  notifyCmd
    .command('test')
    .description('send a test event to one channel now and print the outcome')
    .argument('<channel>', 'channel name under notifications: in lifeboat.yaml, or created over the API')
    .action(
      auditedAction({ action: 'channel.test' }, async ({ opts, loaded, catalog, audit }, name: string) => {
        const { sendTestNotification } = await import('../../notify/test-send.ts');
        const outcome = await sendTestNotification(loaded, catalog, name);
        const channel = loaded.config.notifications![name]!;
        print(opts, outcome, () => (outcome.ok ? `sent a test event to ${name} (${channel.type})${outcome.statusCode ? `: HTTP ${outcome.statusCode}` : ''}` : `FAILED to send to ${name} (${channel.type}): ${outcome.error}`));
        if (!outcome.ok) {
          audit.detail.error = outcome.error;
          process.exitCode = 1;
        }
      }),
    );

  program
    .command('events')
    .description('the event log (what notifications are sent from), newest first')
    .option('--unread', 'only events not marked read')
    .option('--mark-read', 'mark the events shown as read')
    .option('--limit <n>', 'how many', '50')
    .action(
      catalogAction(async ({ opts, catalog }, o: { unread?: boolean; markRead?: boolean; limit: string }) => {
        const events = catalog.listEvents({ unread: o.unread, limit: Number(o.limit) }).filter((e) => e.kind !== 'test');
        if (o.markRead) catalog.markEventsRead(events.map((e) => e.id));
        print(opts, events, () =>
          events.length === 0 ? 'no events' : table(['AT', 'EVENT', 'SEVERITY', 'TARGET', 'MESSAGE'], events.map((e) => [e.at.replace('T', ' ').slice(0, 19), e.kind, e.severity, e.target ?? '-', e.message])),
        );
      }),
    );
}
