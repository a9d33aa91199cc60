import type { ComponentType } from 'react';

/** Where a screen is listed in the navigation. */
export type NavGroup = 'Overview' | 'Backups' | 'Configuration' | 'Admin';

/**
 * A screen of the UI: its path (wouter syntax, e.g. `/backups/:id`) and component, and, when it
 * is listed in the navigation, its label, group and the permission without which it is hidden.
 * Each area of pages/ exports its screens; app.tsx puts them together.
 */
export interface Screen {
  path: string;
  component: ComponentType;
  nav?: { label: string; group: NavGroup; permission?: string; order: number };
}
