import { readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type { FileSetConfig, TargetConfig } from '../config/schema.ts';
import type { CompatibilityCheck, Profile } from './profile.ts';
import { djangoMigrationsInCode } from './migrations-code.ts';

/**
 * Django: the migration state (`django_migrations`: app, name, applied) read in the dump's
 * snapshot, and at restore a check against the migrations in the deployed code.
 */
export const djangoProfile: Profile = {
  name: 'django',

  async readDatabase(ctx) {
    const { rows: present } = await ctx.client.query<{ t: string | null }>("select to_regclass('django_migrations')::text as t");
    if (!present[0]?.t) return { items: [], warnings: [`database ${ctx.database} has no django_migrations table`] };
    const { rows } = await ctx.client.query<{ app: string; name: string; applied: Date }>('select app, name, applied from django_migrations order by id');
    return {
      items: [],
      migrations: rows.map((r) => ({ name: `${r.app}.${r.name}`, appliedAt: r.applied.toISOString() })),
      info: { database: ctx.database, migrations: rows.length },
      warnings: undetected(ctx.target, ctx.configDir),
    };
  },

  fileSets(target, configDir): Record<string, FileSetConfig> {
    const media = target.django?.mediaRoot;
    return media && !target.files.media ? { media: { paths: [path.resolve(configDir, media)], include: undefined, exclude: undefined } } : {};
  },

  async compatibility(app, target, configDir) {
    return djangoCompatibility(app.migrations?.map((m) => m.name) ?? [], target, configDir);
  },
};

/**
 * What the profile could not do for want of settings, said at every backup rather than silently
 * done less: without MEDIA_ROOT the uploads are not in the backup; without the project's
 * location a restore cannot check the backup's migrations against the code. A `manage.py` found
 * near lifeboat.yaml is suggested.
 */
export function undetected(target: TargetConfig, configDir: string): string[] {
  const warnings: string[] = [];
  const project = target.django?.projectRoot ?? findProject(configDir);
  const suggest = project && !target.django?.projectRoot ? ` (manage.py found in ${project})` : '';
  if (!target.django?.mediaRoot && !target.files.media) {
    warnings.push(`django: uploaded media files are not backed up: no django.mediaRoot (MEDIA_ROOT) and no file set named media in the target; set one${suggest}`);
  }
  if (!target.django?.projectRoot && !target.django?.migrationsDirs?.length) {
    warnings.push(`django: a restore cannot check this backup's migrations against the deployed code: set django.projectRoot to the directory of manage.py${suggest}`);
  }
  return warnings;
}

/** The directory of a manage.py in the config's directory, or one or two levels below it. */
function findProject(configDir: string): string | undefined {
  const walk = (dir: string, depth: number): string | undefined => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    if (entries.some((e) => e.isFile() && e.name === 'manage.py')) return dir;
    if (depth === 0) return undefined;
    for (const e of entries) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules' || e.name === 'venv') continue;
      const found = walk(path.join(dir, e.name), depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk(configDir, 2);
}

/** The backup's applied migrations against the code's: older is fine (pending forward), newer blocks. */
export function djangoCompatibility(applied: string[], target: TargetConfig, configDir: string): CompatibilityCheck[] {
  const dirs = target.django?.migrationsDirs?.map((d) => path.resolve(configDir, d)) ?? (target.django?.projectRoot ? [path.resolve(configDir, target.django.projectRoot)] : []);
  if (!dirs.length) return [];
  const code = djangoMigrationsInCode(dirs);
  // Only apps whose migrations the code holds can be checked: django.contrib's live in site-packages.
  const apps = new Set([...code].map((m) => m.split('.')[0]));
  const unknown = applied.filter((m) => apps.has(m.split('.')[0]) && !code.has(m));
  const pending = [...code].filter((m) => !applied.includes(m)).sort();
  if (unknown.length) {
    return [{ name: 'django migrations', ok: false, detail: `the backup is newer than the code: ${unknown.length} applied migration(s) the code does not have (${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''}); deploy the matching code first` }];
  }
  const migrate = target.django?.migrateCommand ? `; then run: ${target.django.migrateCommand}` : '; run manage.py migrate after the restore';
  return [{ name: 'django migrations', ok: true, detail: pending.length ? `compatible; ${pending.length} migration(s) of the code are not applied in the backup (${pending.slice(0, 5).join(', ')}${pending.length > 5 ? ', ...' : ''})${migrate}` : `compatible: the same ${applied.length} migration(s)` }];
}
