import type pg from 'pg';
import type { TargetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { djangoProfile } from './django.ts';
import { genericProfile } from './generic.ts';
import { n8nProfile } from './n8n.ts';
import { prismaProfile } from './prisma.ts';
import type { Profile } from './profile.ts';

/**
 * `profile: auto`: per database, n8n when its workflow table is there (in `n8n.schema` with
 * `n8n.tablePrefix` when set), Django when `django_migrations` is, Prisma when
 * `_prisma_migrations` is, else generic. The manifest names the profile that read it.
 */
const autoProfile: Profile = {
  name: 'auto',
  async readDatabase(ctx) {
    const chosen = profiles[await detectProfile(ctx.client, ctx.target)]!;
    return { ...(await chosen.readDatabase(ctx)), profile: chosen.name };
  },
  fileSets: (target, configDir, purpose) => ({
    ...(target.n8n ? n8nProfile.fileSets?.(target, configDir, purpose) : {}),
    ...(target.django ? djangoProfile.fileSets?.(target, configDir, purpose) : {}),
  }),
  excludedData: (target) => (target.n8n ? n8nProfile.excludedData?.(target) : undefined),
};

/**
 * The profile `auto` chooses for the connected database (see above). Also what a target's test
 * reports before any backup, so the first-run wizard can show it.
 */
export async function detectProfile(client: pg.Client, target: Pick<TargetConfig, 'n8n'>): Promise<'n8n' | 'django' | 'prisma' | 'generic'> {
  const schema = target.n8n?.schema ?? 'public';
  const prefix = target.n8n?.tablePrefix ?? '';
  const { rows } = await client.query<{ n8n: boolean; django: boolean; prisma: boolean }>(
    `select exists (select 1 from information_schema.tables where table_schema = $1 and table_name = $2) as n8n,
            to_regclass('django_migrations') is not null as django, to_regclass('_prisma_migrations') is not null as prisma`,
    [schema, `${prefix}workflow_entity`],
  );
  const found = rows[0]!;
  return found.n8n ? 'n8n' : found.django ? 'django' : found.prisma ? 'prisma' : 'generic';
}

const profiles: Record<string, Profile> = { generic: genericProfile, auto: autoProfile, n8n: n8nProfile, django: djangoProfile, prisma: prismaProfile };

/** The profile a target names, or (for restore checks) the one a manifest records. */
export function getProfile(name: string): Profile {
  const profile = profiles[name];
  if (!profile) throw new LifeboatError('E_CONFIG', `unknown profile "${name}"`, { hint: `profiles: ${Object.keys(profiles).join(', ')}` });
  return profile;
}
