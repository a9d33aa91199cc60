import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import { auditedAction, interruptSignal, print } from '../context.ts';

/** `lifeboat import`: a bundle from elsewhere into a storage and the catalog. */
export function registerImport(program: Command): void {
  program
    .command('import')
    .description('bring a bundle made elsewhere into a storage and the catalog (checked first; trusted only when a key vouches for it)')
    .argument('<bundle-file>', 'the bundle file (.tar, .tar.zst, .tar.gz, optionally .age)')
    .option('--storage <name>', 'where to put it (default: the primary storage of its target)')
    .option('--key <file>', 'the key of the installation that made it: its `lifeboat key export`, or the age identity file of its recipients')
    .option('--trust-foreign', 'import it though no key vouches for it: it is listed as untrusted')
    .action(
      auditedAction({ action: 'backup.import' }, async ({ opts, loaded, catalog, audit }, file: string, o: { storage?: string; key?: string; trustForeign?: boolean }) => {
        audit.detail.file = file;
        let key;
        if (o.key) {
          let text: string;
          try {
            text = readFileSync(o.key, 'utf8');
          } catch (err) {
            throw new LifeboatError('E_USAGE', `cannot read --key ${o.key}: ${(err as Error).message}`);
          }
          const { parseKey } = await import('../../bundle/installation-key.ts');
          key = parseKey(text, o.key);
        }
        const interrupt = interruptSignal();
        try {
          const { importBundle } = await import('../../jobs/import.ts');
          const r = await importBundle(loaded, catalog, file, { storage: o.storage, key, trustForeign: o.trustForeign, signal: interrupt.signal });
          audit.object = r.id;
          Object.assign(audit.detail, { storage: r.storage, trust: r.trust });
          print(opts, r, () => `imported ${r.id} into storage ${r.storage} as ${r.key}: ${r.trust === 'trusted' ? 'trusted' : `UNTRUSTED (${r.trustReason}); restore needs --trust-foreign, files only with --to-dir`}`);
        } finally {
          interrupt.dispose();
        }
      }),
    );
}
