import { Command } from 'commander';
import type { DrillRecord } from '../../catalog/catalog.ts';
import { LifeboatError } from '../../errors.ts';
import type { DrillReport } from '../../jobs/drill.ts';
import { seconds } from '../../util/format.ts';
import { formatBytes, progressListener } from '../output.ts';
import { auditedAction, interruptSignal, print } from '../context.ts';

/** The bare-metal drill. */
export function registerDrill(program: Command): void {
  program
    .command('drill')
    .description('bare-metal drill: fetch the bundle, unpack it with system tools, run its restore.sh with an empty environment into a throwaway cluster, compare with the manifest, record the RTO')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--jobs <n>', 'restore.sh --jobs (pg_restore parallel jobs)', '2')
    .action(
      auditedAction({ action: 'drill.run' }, async ({ opts, loaded, catalog, audit }, prefix: string, o: { jobs: string }) => {
        const jobs = Number(o.jobs);
        if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new LifeboatError('E_USAGE', `--jobs takes a number from 1 to 64, not ${o.jobs}`);
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { runDrill } = await import('../../jobs/drill.ts');
          const report = await runDrill(loaded, catalog, prefix, { jobs, signal: interrupt.signal, listener });
          listener.end();
          audit.object = report.backupId;
          audit.detail.drill = { ok: report.ok, rtoMs: report.rtoMs };
          print(opts, report, () => reportText(report));
          if (!report.ok) process.exitCode = 1;
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }),
    );
}

function reportText(r: DrillReport): string {
  return [
    ...r.checks.map((c) => `${c.ok ? 'pass' : 'FAIL'}  ${c.name}${c.ok ? (c.actual ? `: ${c.actual}` : '') : `: expected ${c.expected ?? '-'}, got ${c.actual ?? '-'}`}`),
    ...drillLines(r),
  ].join('\n');
}

/** The lines `show` and `drill` print about one drill. */
export function drillLines(d: Pick<DrillRecord, 'ok' | 'startedAt' | 'rtoMs' | 'phases' | 'bundleSize' | 'storage' | 'tools' | 'backupId'>): string[] {
  const p = d.phases;
  const part = (name: string, ms: number | undefined) => (ms === undefined ? [] : [`${name} ${seconds(ms)}`]);
  const lines = [
    `drill       ${d.ok ? 'passed' : 'FAILED'} at ${d.startedAt}${d.rtoMs !== null ? `: RTO ${seconds(d.rtoMs)}` : ''}${d.bundleSize !== null ? ` for ${formatBytes(d.bundleSize)}` : ''}${d.storage ? ` from ${d.storage}` : ''}`,
  ];
  const split = [...part('fetch', p.fetch), ...part('decrypt+unpack', p.unpack), ...part('checks', p.checks), ...part('databases', p.databases), ...part('files', p.files), ...part('validation', p.validation)];
  if (split.length) lines.push(`  RTO split ${split.join(', ')}`);
  const tools = Object.entries(d.tools);
  if (tools.length) lines.push(`  tools     ${tools.map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  return lines;
}
