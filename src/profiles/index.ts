import { LifeboatError } from '../errors.ts';
import { genericProfile } from './generic.ts';
import { n8nProfile } from './n8n.ts';
import type { Profile } from './profile.ts';

const profiles: Record<string, Profile> = { generic: genericProfile, n8n: n8nProfile };

/** The profile a target names. django and prisma are not written yet. */
export function getProfile(name: string): Profile {
  const profile = profiles[name];
  if (!profile) {
    throw new LifeboatError('E_CONFIG', `profile "${name}" is not available yet in this version; use profile: generic`, {
      hint: `available profiles: ${Object.keys(profiles).join(', ')}`,
    });
  }
  return profile;
}
