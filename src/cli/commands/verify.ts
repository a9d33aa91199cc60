import { Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import type { VerifyReport } from '../../jobs/verify.ts';
import { duration, progressListener } from '../output.ts';
import { withCatalog, print, interruptSignal, globals, audited } from '../context.ts';

/** Verification. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('prove a backup: checksums (--quick), or a test restore into a throwaway cluster compared with the manifest')
    .argument('[backup]', 'backup id or a unique prefix of it')
    .option('--quick', 'only check that every copy is stored, decrypts and matches its checksums')
    .option('--all-pending', 'verify every backup that the targets\' verification policies say is due')
    .action(async (prefix: string | undefined, o: { quick?: boolean; allPending?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      if (!prefix && !o.allPending) throw new LifeboatError('E_USAGE', 'name a backup to verify, or pass --all-pending');
      await withCatalog(opts, (loaded, catalog) => audited(catalog, { action: 'verify.run', object: prefix ?? null }, async (audit) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { pendingVerifications, runVerify } = await import('../../jobs/verify.ts');
          const ids = prefix ? [prefix] : pendingVerifications(loaded, catalog);
          const reports: VerifyReport[] = [];
          for (const id of ids) reports.push(await runVerify(loaded, catalog, id, { quick: o.quick, signal: interrupt.signal, listener }));
          listener.end();
          if (reports.length === 1) audit.object = reports[0]!.backupId;
          audit.detail.verified = reports.map((r) => `${r.backupId}: ${r.level} ${r.ok ? 'passed' : 'FAILED'}`);
          audit.skip = reports.length === 0;
          print(opts, prefix ? reports[0] : reports, () =>
            reports.length === 0
              ? 'no backup is due for verification'
              : reports.map((report) => [
                ...report.checks.map((c) => `${c.ok ? 'pass' : c.warning ? 'WARN' : 'FAIL'}  ${c.name}${c.ok ? (c.actual ? `: ${c.actual}` : '') : `: expected ${c.expected ?? '-'}, got ${c.actual ?? '-'}`}`),
                `${report.level} verification of ${report.backupId} ${report.ok ? 'passed' : 'FAILED'} in ${duration(report.durationMs)}`,
              ].join('\n')).join('\n\n'),
          );
          if (reports.some((r) => !r.ok)) process.exitCode = 1;
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }));
    });
}
