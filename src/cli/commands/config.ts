import { Command } from 'commander';
import { exposureWarnings } from '../../config/exposure.ts';
import { configPath, loadConfig } from '../../config/load.ts';
import { LifeboatError } from '../../errors.ts';
import { globals, print } from '../context.ts';

/** `lifeboat config check`: the whole file, secrets included, without touching the catalog. */
export function registerConfig(program: Command): void {
  const configCmd = program.command('config').description('lifeboat.yaml');
  configCmd
    .command('check')
    .description('check lifeboat.yaml: keys, values, paths, key files and every ${VAR} it uses; exit 2 on a problem')
    .action((_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      const loaded = loadConfig(configPath(opts.config));
      const warnings = exposureWarnings(loaded);
      const notes = loaded.notes ?? [];
      const unresolved = loaded.unresolved ?? [];
      // Other commands tolerate a missing secret they do not read; a check reports every one.
      if (unresolved.length) {
        throw new LifeboatError('E_CONFIG', unresolved.map((e) => e.message).join('\n'), {
          hint: unresolved.map((e) => e.hint).find(Boolean),
        });
      }
      const { config } = loaded;
      const counts = {
        storages: Object.keys(config.storages).length,
        targets: Object.keys(config.targets).length,
        notifications: Object.keys(config.notifications ?? {}).length,
      };
      print(opts, { file: loaded.file, ok: true, home: loaded.home, ...counts, notes, warnings }, () =>
        [
          ...notes.map((n) => `note: ${n}`),
          ...warnings.map((w) => `warn: ${w}`),
          `${loaded.file}: ok (${counts.storages} storage(s), ${counts.targets} target(s), ${counts.notifications} notification channel(s); home ${loaded.home})`,
        ].join('\n'),
      );
    });
}
