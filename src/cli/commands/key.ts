import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import { auditedInHome, globals, print } from '../context.ts';
import { table } from '../output.ts';

/**
 * The installation key that signs manifests (installation-key.ts): export it to keep a copy,
 * import it on a rebuilt server. These commands need the home, not the catalog.
 */
export function registerKey(program: Command): void {
  const modules = async () => {
    const [keys, config] = await Promise.all([import('../../bundle/installation-key.ts'), import('../../config/load.ts')]);
    return { ...keys, ...config };
  };
  const key = program.command('key').description('the installation key that signs this installation\'s backups (authenticated bundles)');

  key
    .command('export')
    .description('print the installation key (created if there is none yet): keep it safe, apart from the backups')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      const { configPath, formatKey, installationKey, loadConfig } = await modules();
      const { home } = loadConfig(configPath(opts.config));
      await auditedInHome(home, { action: 'key.export' }, (audit) => {
        const k = installationKey(home, { create: true })!;
        audit.object = k.id;
        // The one place a secret is printed: this is what the user asked for, on stdout only.
        print(opts, { keyId: k.id, key: formatKey(k) }, () => formatKey(k).trimEnd());
      });
    });

  key
    .command('import')
    .description('install a key exported by `lifeboat key export` (this installation\'s, from before a rebuild, or another one\'s)')
    .argument('<file>', 'the exported key file, or - for stdin')
    .option('--replace', 'sign new backups with it too (the current key is kept, to verify older backups)')
    .action(async (file: string, o: { replace?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const { configPath, importKey, KEY_FILE, loadConfig, parseKey } = await modules();
      const { home } = loadConfig(configPath(opts.config));
      await auditedInHome(home, { action: 'key.import' }, (audit) => {
        let text: string;
        try {
          text = readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch (err) {
          throw new LifeboatError('E_USAGE', `cannot read ${file}: ${(err as Error).message}`);
        }
        const k = parseKey(text, file === '-' ? 'stdin' : file);
        const outcome = importKey(home, k, { replace: o.replace });
        audit.object = k.id;
        audit.detail.outcome = outcome;
        const said = {
          installed: `installed key ${k.id} as this installation's key (${path.join(home, KEY_FILE)}): it signs new backups`,
          trusted: `added key ${k.id}: backups it signed are trusted; new backups are still signed with this installation's own key (--replace to change that)`,
          replaced: `key ${k.id} now signs new backups; the previous key is kept to verify older ones`,
          known: `key ${k.id} is already this installation's key`,
        }[outcome];
        print(opts, { keyId: k.id, outcome }, () => `${said}\nrun \`lifeboat catalog rebuild\` to re-check backups already listed as untrusted`);
      });
    });

  key
    .command('show')
    .description('the keys this installation signs and verifies with (ids only, never the keys)')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      const { configPath, installationKey, KEY_FILE, loadConfig, verifyingKeys } = await modules();
      const loaded = loadConfig(configPath(opts.config));
      const own = installationKey(loaded.home, { create: false });
      const keys = verifyingKeys(loaded).map((k) => ({ id: k.id, kind: k.kind, signs: k.id === own?.id, source: k.source }));
      print(opts, keys, () =>
        keys.length === 0
          ? `no key yet: the first backup creates ${path.join(loaded.home, KEY_FILE)}; back it up with \`lifeboat key export\``
          : table(['KEY ID', 'KIND', 'USE', 'FROM'], keys.map((k) => [k.id, k.kind, k.signs ? 'signs, verifies' : k.kind === 'age-identity' ? 'signs its target\'s bundles, verifies' : 'verifies', k.source])),
      );
    });
}
