import { Command } from 'commander';
import { catalogAction, print } from '../context.ts';

/** `lifeboat doctor`: tools, servers, storages, file modes, leaked resources, the daemon. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check the installation: tools and versions, servers, storages, file modes, leftovers of killed runs, the daemon (exit 1 on a problem)')
    .action(
      catalogAction(async ({ opts, loaded, catalog }) => {
        const { runDoctor } = await import('../../jobs/doctor.ts');
        const report = await runDoctor(loaded, catalog);
        const label = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
        print(opts, report, () => {
          const lines = report.checks.map((c) => `${label[c.status]}  ${c.area}: ${c.name}: ${c.detail}${c.hint && c.status !== 'ok' ? `\n      hint: ${c.hint}` : ''}`);
          const fails = report.checks.filter((c) => c.status === 'fail').length;
          const warns = report.checks.filter((c) => c.status === 'warn').length;
          lines.push(fails ? `${fails} problem(s), ${warns} warning(s)` : `no problems${warns ? `, ${warns} warning(s)` : ''}`);
          return lines.join('\n');
        });
        if (!report.ok) process.exitCode = 1;
      }),
    );
}
