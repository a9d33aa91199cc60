import type { Profile } from './profile.ts';

/** No app knowledge: databases and files only. */
export const genericProfile: Profile = {
  name: 'generic',
  readDatabase: () => Promise.resolve({ items: [] }),
};
