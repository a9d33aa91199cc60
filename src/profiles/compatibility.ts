import path from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { getProfile } from './index.ts';
import type { CompatibilityCheck } from './profile.ts';

/** A backup's app state against the code deployed now, as the backup's Migrations tab shows it. */
export interface DeployedCompatibility {
  backupId: string;
  /** The profile that read the backup. */
  profile: string;
  /** False when there was nothing to compare with; `reason` says why and what to set. */
  checked: boolean;
  reason?: string;
  /** The same checks a restore's plan makes (a failing one blocks a restore unless forced). */
  checks: CompatibilityCheck[];
}

/** Why a profile compares nothing, per profile, when its code is not configured. */
const UNCONFIGURED: Record<string, (target: string, configDir: string, dir?: string) => string> = {
  django: (t) => `target ${t} names no deployed code: set django.projectRoot (the directory of manage.py) or django.migrationsDirs`,
  prisma: (t, configDir, dir) => `no migrations found in ${path.resolve(configDir, dir ?? 'prisma/migrations')}: set prisma.migrationsDir of target ${t} to the deployed code's prisma/migrations`,
};

/**
 * Runs the backup's profile's compatibility check (profiles/django.ts, prisma.ts: the one a
 * restore's plan runs) against the code the target names now. Reads only the code's migration
 * files; nothing connects anywhere. E_NOT_FOUND for an unknown backup or one without contents.
 */
export async function deployedCompatibility(loaded: LoadedConfig, catalog: Catalog, backupId: string): Promise<DeployedCompatibility> {
  const b = catalog.resolveBackup(backupId);
  const m = catalog.getManifest(b.id);
  if (!m) throw new LifeboatError('E_NOT_FOUND', `backup ${b.id} has no contents: it is ${b.status}`);
  const profileName = m.app.profile;
  const out = { backupId: b.id, profile: profileName, checked: false, checks: [] as CompatibilityCheck[] };
  const profile = getProfile(profileName);
  if (!profile.compatibility) {
    return {
      ...out,
      reason: profileName === 'n8n'
        ? 'n8n applies its own migrations when it starts: restore into an n8n at least as new as the one backed up'
        : `the ${profileName} profile knows no migrations to compare`,
    };
  }
  const target = loaded.config.targets[b.target];
  if (!target) return { ...out, reason: `target ${b.target} is not configured any more: there is no deployed code to compare with` };
  const configDir = path.dirname(loaded.file);
  const checks = await profile.compatibility(m.app, target, configDir);
  if (!checks.length) return { ...out, reason: UNCONFIGURED[profileName]?.(b.target, configDir, target.prisma?.migrationsDir) ?? 'nothing to compare with' };
  return { ...out, checked: true, checks };
}
