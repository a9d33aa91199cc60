import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import type { LoadedConfig } from '../../config/load.ts';
import type { ConfigObjectView, ObjectKind, ObjectProblem } from '../../config/objects.ts';
import { LifeboatError } from '../../errors.ts';
import { catalogAction, globals, print } from '../context.ts';
import { table } from '../output.ts';

/** `lifeboat config check`: the whole file, secrets included; `lifeboat config list`: every object and where it comes from. */
export function registerConfig(program: Command): void {
  const configCmd = program.command('config').description('lifeboat.yaml and the objects created over the API');
  configCmd
    .command('check')
    .description('check lifeboat.yaml: keys, values, paths, key files and every ${VAR} it uses, then the objects created over the API; exit 2 on a problem')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      const [{ configPath, loadConfig }, { exposureWarnings }] = await Promise.all([import('../../config/load.ts'), import('../../config/exposure.ts')]);
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
      // The file first and on its own; then the catalog's objects, only when a catalog exists
      // (a check never creates one).
      const { api, problems } = await catalogObjects(loaded);
      const invalid = problems.filter((p) => p.reason === 'invalid');
      if (invalid.length) {
        throw new LifeboatError('E_CONFIG', invalid.map((p) => `catalog: ${p.message}`).join('\n'), {
          hint: 'fix them over the API (or remove them); until then they are left out',
        });
      }
      for (const p of problems) warnings.push(p.message);
      const { config } = loaded;
      const counts = {
        storages: Object.keys(config.storages).length,
        targets: Object.keys(config.targets).length,
        notifications: Object.keys(config.notifications ?? {}).length,
      };
      print(opts, { file: loaded.file, ok: true, home: loaded.home, ...counts, apiObjects: api, notes, warnings }, () =>
        [
          ...notes.map((n) => `note: ${n}`),
          ...warnings.map((w) => `warn: ${w}`),
          `${loaded.file}: ok (${counts.storages} storage(s), ${counts.targets} target(s), ${counts.notifications} notification channel(s); home ${loaded.home})`,
          ...(api ? [`catalog: ${api} object(s) created over the API in effect`] : []),
        ].join('\n'),
      );
    });

  configCmd
    .command('list')
    .description('targets, storages and notification channels, from lifeboat.yaml (source file) and created over the API (source api); secrets show as "set"')
    .argument('[kind]', 'target, storage or channel (default: all three)')
    .action(
      catalogAction(async ({ opts, loaded, catalog }, kind: string | undefined) => {
        const { listObjects, OBJECT_KINDS } = await import('../../config/objects.ts');
        if (kind !== undefined && !OBJECT_KINDS.includes(kind as ObjectKind)) {
          throw new LifeboatError('E_USAGE', `"${kind}" is not a kind of object`, { hint: 'one of: target, storage, channel' });
        }
        const kinds = kind ? [kind as ObjectKind] : (['target', 'storage', 'channel'] as const);
        const objects: ConfigObjectView[] = kinds.flatMap((k) => listObjects(loaded, catalog, k));
        print(opts, objects, () =>
          objects.length === 0
            ? 'no objects'
            : table(['KIND', 'NAME', 'TYPE', 'SOURCE', 'STATE'], objects.map((o) => [o.kind, o.name, String(o.config.type ?? '-'), o.source, o.shadowed ? 'shadowed by the file' : o.problem ? `invalid: ${o.problem}` : 'in effect'])),
        );
      }),
    );
}

/** The catalog's objects as the other commands would see them, without creating a catalog. */
async function catalogObjects(loaded: LoadedConfig): Promise<{ api: number; problems: ObjectProblem[] }> {
  if (!existsSync(path.join(loaded.home, 'catalog.sqlite'))) return { api: 0, problems: [] };
  const [{ Catalog }, { effectiveConfig, objectProblems }] = await Promise.all([import('../../catalog/catalog.ts'), import('../../config/objects-merge.ts')]);
  const catalog = Catalog.open(loaded.home);
  try {
    const merged = effectiveConfig(loaded, catalog);
    const problems = objectProblems(merged);
    return { api: catalog.listConfigObjects().length - problems.length, problems };
  } finally {
    catalog.close();
  }
}
