import { Command } from 'commander';
import { formatBytes, progressListener } from '../output.ts';
import { auditedAction, interruptSignal, print } from '../context.ts';

/** Export: a backup's bundle as one file, or to stdout. */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a backup\'s bundle as one file (or to stdout with -), from the first copy that passes its checksum')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .argument('<path>', 'file or directory to write to, or - for stdout (e.g. | ssh host \'cat > bundle\')')
    .option('--decrypt', 'decrypt with the target\'s identity (or LIFEBOAT_AGE_IDENTITY_FILE): the output is a plain bundle')
    .option('--force', 'also read copies a verification marked bad (each is still checked while read)')
    .action(
      auditedAction({ action: 'backup.export' }, async ({ opts, loaded, catalog, audit }, prefix: string, dest: string, o: { decrypt?: boolean; force?: boolean }) => {
        const toStdout = dest === '-';
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { runExport } = await import('../../jobs/export.ts');
          const r = await runExport(loaded, catalog, prefix, toStdout ? { out: process.stdout } : dest, { decrypt: o.decrypt, force: o.force, signal: interrupt.signal, listener });
          listener.end();
          audit.object = r.backupId;
          audit.detail.export = { to: r.path, storage: r.storage, bytes: r.bytes, decrypted: r.decrypted };
          // The bundle itself is on stdout: nothing else may go there.
          if (!toStdout) print(opts, r, () => `exported ${r.backupId} (${formatBytes(r.bytes)}${r.decrypted ? ', decrypted' : ''}) from ${r.storage} to ${r.path}`);
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }),
    );
}
