import type { Screen } from '../../screens.ts';
import { BackupsPage } from './backups-page.tsx';
import { BackupDetailPage } from './detail-page.tsx';
import { RestorePage } from './restore-page.tsx';
import { RestoresPage } from './restores-page.tsx';
import './backups.css';

/** Backups, a backup's contents, restores. */
export const screens: Screen[] = [
  { path: '/backups', component: BackupsPage, nav: { label: 'Backups', group: 'Backups', permission: 'read', order: 20 } },
  { path: '/backups/:id/restore', component: RestorePage },
  { path: '/backups/:id', component: BackupDetailPage },
  { path: '/restores', component: RestoresPage, nav: { label: 'Restores', group: 'Backups', permission: 'read', order: 21 } },
];
