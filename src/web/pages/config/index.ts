import type { Screen } from '../../screens.ts';
import { AccountPage } from './account.tsx';
import { AuditPage } from './admin-audit.tsx';
import { SessionsPage } from './admin-sessions.tsx';
import { TokensPage } from './admin-tokens.tsx';
import { UsersPage } from './admin-users.tsx';
import { ChannelsPage } from './channels.tsx';
import { StoragesPage } from './storages.tsx';
import { TargetPage, TargetsPage } from './targets.tsx';
import { WizardPage } from './wizard.tsx';

/**
 * The first-run wizard, targets, storages, notification channels, and admin (users, tokens,
 * sessions, audit). Tokens and sessions are listed under Admin for admins only, but every user
 * reaches their own from the Account page (a viewer has no Admin group).
 */
export const screens: Screen[] = [
  { path: '/welcome', component: WizardPage },
  { path: '/targets', component: TargetsPage, nav: { label: 'Targets', group: 'Configuration', permission: 'read', order: 40 } },
  { path: '/targets/:name', component: TargetPage },
  { path: '/storages', component: StoragesPage, nav: { label: 'Storages', group: 'Configuration', permission: 'read', order: 41 } },
  { path: '/channels', component: ChannelsPage, nav: { label: 'Notifications', group: 'Configuration', permission: 'read', order: 42 } },
  { path: '/admin/users', component: UsersPage, nav: { label: 'Users', group: 'Admin', permission: 'users.manage', order: 60 } },
  { path: '/admin/tokens', component: TokensPage, nav: { label: 'API tokens', group: 'Admin', permission: 'tokens.manage', order: 61 } },
  { path: '/admin/sessions', component: SessionsPage, nav: { label: 'Sessions', group: 'Admin', permission: 'users.manage', order: 62 } },
  { path: '/admin/audit', component: AuditPage, nav: { label: 'Audit log', group: 'Admin', permission: 'audit.read', order: 63 } },
  { path: '/account', component: AccountPage },
];
