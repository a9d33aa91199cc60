import path from 'node:path';
import type { TargetConfig } from '../config/schema.ts';
import type { AppItems, CompatibilityCheck, Profile } from './profile.ts';
import { prismaMigrationsInCode } from './migrations-code.ts';

/**
 * Prisma: `_prisma_migrations` read in the dump's snapshot. Applied = finished and not rolled
 * back; a started but unfinished row is a failed migration, said at backup time. At restore,
 * the backup's migrations are checked against `prisma/migrations/<name>/migration.sql`.
 */
export const prismaProfile: Profile = {
  name: 'prisma',

  async readDatabase(ctx) {
    const { rows: present } = await ctx.client.query<{ t: string | null }>("select to_regclass('_prisma_migrations')::text as t");
    if (!present[0]?.t) return { items: [], warnings: [`database ${ctx.database} has no _prisma_migrations table`] };
    const { rows } = await ctx.client.query<{ migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null; started_at: Date }>(
      'select migration_name, checksum, finished_at, rolled_back_at, started_at from _prisma_migrations order by started_at, migration_name',
    );
    const applied = rows.filter((r) => r.finished_at && !r.rolled_back_at);
    const failed = rows.filter((r) => !r.finished_at && !r.rolled_back_at);
    return {
      items: [],
      migrations: applied.map((r) => ({ name: r.migration_name, appliedAt: r.finished_at!.toISOString(), checksum: r.checksum })),
      info: { database: ctx.database, migrations: applied.length, failed: failed.map((r) => r.migration_name) },
      warnings: failed.map((r) => `prisma: migration ${r.migration_name} started at ${r.started_at.toISOString()} and never finished: it failed; the schema may be half-migrated (prisma migrate resolve)`),
    };
  },

  async compatibility(app, target, configDir) {
    return prismaCompatibility(app, target, configDir);
  },
};

export function prismaCompatibility(app: AppItems, target: TargetConfig, configDir: string): CompatibilityCheck[] {
  const dir = path.resolve(configDir, target.prisma?.migrationsDir ?? 'prisma/migrations');
  const code = prismaMigrationsInCode(dir);
  if (!code.size) return [];
  const applied = app.migrations ?? [];
  const unknown = applied.filter((m) => !code.has(m.name)).map((m) => m.name);
  const edited = applied.filter((m) => m.checksum && code.has(m.name) && !code.get(m.name)!.includes(m.checksum)).map((m) => m.name);
  const pending = [...code.keys()].filter((n) => !applied.some((m) => m.name === n)).sort();
  const checks: CompatibilityCheck[] = [];
  if (unknown.length) checks.push({ name: 'prisma migrations', ok: false, detail: `the backup is newer than the code: ${unknown.join(', ')} not in ${dir}; deploy the matching code first` });
  else checks.push({ name: 'prisma migrations', ok: true, detail: pending.length ? `compatible; ${pending.length} pending migration(s) to apply after the restore (prisma migrate deploy): ${pending.join(', ')}` : `compatible: the same ${applied.length} migration(s)` });
  if (edited.length) checks.push({ name: 'prisma migration files', ok: true, detail: `warning: edited since they were applied (checksum differs): ${edited.join(', ')}` });
  return checks;
}
