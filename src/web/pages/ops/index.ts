import type { Screen } from '../../screens.ts';

/** The dashboard, jobs, schedules, retention and verification, events. */
export const screens: Screen[] = [];
