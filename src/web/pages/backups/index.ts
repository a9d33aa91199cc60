import type { Screen } from '../../screens.ts';

/** Backups, a backup's contents, restores. */
export const screens: Screen[] = [];
