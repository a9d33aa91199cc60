import { Command, Option } from 'commander';
import { LifeboatError } from '../../errors.ts';
import { duration, formatBytes, progressListener, table } from '../output.ts';
import { print, interruptSignal, catalogAction, auditedAction } from '../context.ts';

const scheduleAdmin = () => import('../../scheduler/schedule-admin.ts');

/** The daemon: serve, status, schedule. */
export function registerDaemon(program: Command): void {
  program
    .command('serve')
    .description('run the daemon (scheduled backups, retention every hour, alerts) and the HTTP API on server.listen; stops gracefully on SIGTERM/Ctrl-C')
    .option('--grace <seconds>', 'on stop, how long running backups may finish before they are cancelled', '300')
    .option('--listen <host:port>', 'where the API listens (default: server.listen, 127.0.0.1:8080)')
    .option('--no-api', 'run the daemon only')
    .addOption(new Option('--tick <seconds>', 'time between scheduler ticks').default('15').hideHelp())
    .addOption(new Option('--check-responses', 'answer 500 when a response does not match its declared schema (tests)').hideHelp())
    .action(
      catalogAction(async ({ loaded, catalog }, o: { grace: string; tick: string; listen?: string; api: boolean; checkResponses?: boolean }) => {
        const controller = new AbortController();
        const onSignal = (sig: NodeJS.Signals) => {
          if (controller.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
          process.stderr.write(`${sig}: stopping (again to quit at once)\n`);
          controller.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const log = (level: string, message: string) => process.stderr.write(`${new Date().toISOString()} ${level}: ${message}\n`);
        const graceMs = Number(o.grace) * 1000;
        try {
          // The HTTP stack loads only here: every other command starts without it.
          const [{ startApiServer }, { setupToken }, { runDaemon }] = await Promise.all([import('../../server/serve.ts'), import('../../auth/setup.ts'), import('../../scheduler/daemon.ts')]);
          const api = o.api ? await startApiServer(loaded, catalog, { listen: o.listen, log, checkResponses: o.checkResponses }) : undefined;
          if (api) {
            log('info', `web UI and API listening on ${api.url} (OpenAPI: ${api.url}/api/openapi.json, docs: ${api.url}/api/docs)`);
            if (!api.webBuilt) log('warn', 'the web UI is not built, so / shows how to build it: run `npm run build:web` in Lifeboat\'s directory (`npm install` does it)');
            const token = setupToken(catalog);
            // Only the console sees it: whoever can read it installed this server.
            if (token) log('warn', `no admin exists yet: create the first one at ${loaded.config.server.publicUrl ?? api.url}/setup#token=${token} (valid until an admin exists), or run \`lifeboat user add <name> --role admin\``);
          }
          // Both stop on the same signal, each giving its running jobs the same grace.
          const stopped = new Promise<void>((r) => controller.signal.addEventListener('abort', () => r(), { once: true }));
          await Promise.all([runDaemon(loaded, catalog, controller.signal, { tickMs: Number(o.tick) * 1000, graceMs, log }), stopped.then(() => api?.close(graceMs))]);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }, { withoutConfigFile: true }),
    );

  program
    .command('status')
    .description('the daemon, next runs, running jobs, the last result per target, storage use')
    .action(
      catalogAction(async ({ opts, loaded, catalog }) => {
        const now = new Date();
        const { daemonStatus } = await import('../../reports/status.ts');
        const report = daemonStatus(loaded, catalog, now);
        const { daemon, schedules, running, targets, storage: usage } = report;
        print(opts, report, () => [
          `daemon      ${daemon.up ? `up: ${daemon.holder!}, heartbeat ${duration(now.getTime() - Date.parse(daemon.heartbeatAt!))} ago` : 'not running (start it with `lifeboat serve`)'}; scheduler mode ${daemon.mode}`,
          '',
          schedules.length ? table(['ID', 'TARGET', 'SCHEDULE', 'ZONE', 'NEXT RUN'], schedules.map((s) => [String(s.id), s.target, s.spec, s.timezone, s.next ?? 'paused'])) : 'no schedules',
          '',
          running.length ? table(['RUNNING', 'TARGET', 'TRIGGER', 'STARTED'], running.map((j) => [j.kind, j.target ?? '-', j.trigger, j.startedAt])) : 'nothing running',
          '',
          table(['TARGET', 'LAST BACKUP', 'STATUS', 'LAST SUCCESS'], targets.map((t) => [t.target, t.last?.id ?? '-', t.last?.status ?? '-', t.lastSuccess ? `${duration(now.getTime() - Date.parse(t.lastSuccess))} ago` : 'never'])),
          ...(usage.length ? ['', table(['STORAGE', 'USED BY LIFEBOAT', 'FREE', 'CHECKED'], usage.map((u) => [u.storage, formatBytes(u.usedBytes), u.freeBytes === null ? '-' : formatBytes(u.freeBytes), u.checkedAt]))] : []),
        ].join('\n'));
      }),
    );

  const scheduleCmd = program.command('schedule').description('the daemon\'s schedules: seeded from lifeboat.yaml, editable here');
  const scheduleId = (text: string) => {
    const id = Number(text);
    if (!Number.isInteger(id) || id < 1) throw new LifeboatError('E_USAGE', `"${text}" is not a schedule id`, { hint: 'run `lifeboat schedule list`' });
    return id;
  };
  scheduleCmd
    .command('list')
    .description('every schedule with its next run')
    .action(
      catalogAction(async ({ opts, loaded, catalog }) => {
        const { listSchedules } = await scheduleAdmin();
        const all = listSchedules(loaded, catalog);
        print(opts, all, () =>
          all.length === 0
            ? 'no schedules: add one with `lifeboat schedule add <target> "daily at 02:00"` or schedule: in lifeboat.yaml'
            : table(['ID', 'TARGET', 'SCHEDULE', 'CRON', 'ZONE', 'FROM', 'NEXT RUN'], all.map((s) => [String(s.id), s.target, s.spec, s.cron, s.timezone, s.configKey ? 'config' : 'added', s.next ?? 'PAUSED'])),
        );
      }),
    );
  scheduleCmd
    .command('add')
    .description('add a schedule: a cron expression or a preset (hourly, "daily at 02:00", "weekly on sunday at 03:00", "monthly on day 1")')
    .argument('<target>', 'target name')
    .argument('<schedule>', 'cron expression or preset')
    .option('--timezone <zone>', 'IANA time zone (default: the system\'s)')
    .action(
      auditedAction({ action: 'schedule.add' }, async ({ opts, loaded, catalog, audit }, target: string, spec: string, o: { timezone?: string }) => {
        Object.assign(audit.detail, { target, schedule: spec });
        const { addSchedule, getSchedule } = await scheduleAdmin();
        const added = addSchedule(loaded, catalog, { target, spec, timezone: o.timezone });
        audit.object = String(added.id);
        print(opts, added, () => `added schedule ${added.id}: ${target} ${spec} (${added.cron}); next run ${getSchedule(loaded, catalog, added.id).next}`);
      }),
    );
  scheduleCmd
    .command('edit')
    .description('change a schedule\'s expression or zone (a schedule from lifeboat.yaml changes back when the file changes it)')
    .argument('<id>', 'schedule id')
    .argument('[schedule]', 'new cron expression or preset')
    .option('--timezone <zone>', 'new IANA time zone')
    .action(
      auditedAction({ action: 'schedule.edit' }, async ({ opts, loaded, catalog, audit }, idText: string, spec: string | undefined, o: { timezone?: string }) => {
        audit.detail.to = { schedule: spec, timezone: o.timezone };
        if (spec === undefined && o.timezone === undefined) throw new LifeboatError('E_USAGE', 'give a new schedule, --timezone, or both');
        const { editSchedule } = await scheduleAdmin();
        const s = editSchedule(loaded, catalog, scheduleId(idText), { spec, timezone: o.timezone });
        print(opts, s, () => `schedule ${s.id}: ${s.spec} (${s.timezone})`);
      }),
    );
  for (const [name, paused] of [['pause', true], ['resume', false]] as const) {
    scheduleCmd
      .command(name)
      .description(paused ? 'stop a schedule from starting backups (its missed runs are not caught up)' : 'let a paused schedule start backups again')
      .argument('<id>', 'schedule id')
      .action(
        auditedAction({ action: paused ? 'schedule.pause' : 'schedule.resume' }, async ({ opts, loaded, catalog }, idText: string) => {
          const { editSchedule } = await scheduleAdmin();
          const s = editSchedule(loaded, catalog, scheduleId(idText), { paused });
          print(opts, s, () => `schedule ${s.id} ${paused ? 'paused' : 'resumed'}`);
        }),
      );
  }
  scheduleCmd
    .command('remove')
    .description('remove a schedule added here (one from lifeboat.yaml: remove it there, or pause it)')
    .argument('<id>', 'schedule id')
    .action(
      auditedAction({ action: 'schedule.remove' }, async ({ opts, loaded, catalog, audit }, idText: string) => {
        const id = scheduleId(idText);
        const { getSchedule, removeSchedule } = await scheduleAdmin();
        audit.detail.was = (({ target, spec, timezone }) => ({ target, schedule: spec, timezone }))(getSchedule(loaded, catalog, id));
        removeSchedule(loaded, catalog, id);
        print(opts, { id, removed: true }, () => `removed schedule ${id}`);
      }),
    );
  scheduleCmd
    .command('run-now')
    .description('run a schedule\'s backup now, in this process (with its check and retention), as the daemon would')
    .argument('<id>', 'schedule id')
    .action(
      auditedAction({ action: 'schedule.run' }, async ({ opts, loaded, catalog, audit }, idText: string) => {
        const { getSchedule } = await scheduleAdmin();
        const s = getSchedule(loaded, catalog, scheduleId(idText));
        audit.detail.target = s.target;
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { runBackupFlow } = await import('../../jobs/backup-flow.ts');
          const flow = await runBackupFlow(loaded, catalog, s.target, { trigger: 'schedule', signal: interrupt.signal, listener });
          audit.detail.backup = flow.backup.id;
          listener.end();
          print(opts, { id: flow.backup.id, schedule: s.id }, () => `backup ${flow.backup.id} of ${s.target} (schedule ${s.id})`);
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }),
    );
}
