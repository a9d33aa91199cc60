import type { Screen } from '../../screens.ts';

/** The first-run wizard, targets, storages, notification channels, and admin (users, tokens, sessions, audit). */
export const screens: Screen[] = [];
