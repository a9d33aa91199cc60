import { LifeboatError } from '../errors.ts';
import { genericProfile } from './generic.ts';
import type { Profile } from './profile.ts';

const profiles: Record<string, Profile> = { generic: genericProfile };

/** The profile a target names. n8n, django and prisma arrive with the app-profiles issue. */
export function getProfile(name: string): Profile {
  const profile = profiles[name];
  if (!profile) {
    throw new LifeboatError('E_CONFIG', `profile "${name}" is not available yet in this version; use profile: generic`, {
      hint: `available profiles: ${Object.keys(profiles).join(', ')}`,
    });
  }
  return profile;
}
