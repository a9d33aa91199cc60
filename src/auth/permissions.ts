/**
 * What a route may need: a small closed set. Every HTTP route declares exactly one of these
 * (the lead's route table); roles.ts says which role and which token scope grants which.
 * Secrets have no permission: nothing reads them back, whoever asks.
 */
export const PERMISSIONS = {
  read: 'read targets, storages, schedules, retention, backups and their contents, jobs, events, restores, channels, daemon status (never secrets)',
  'events.ack': 'mark events read',
  metrics: 'read /metrics',
  account: 'one\'s own account: change one\'s password, list and end one\'s own sessions',
  'tokens.own': 'create, list and revoke one\'s own API tokens (scopes never beyond one\'s role)',
  download: 'download a bundle as stored (it holds the data)',
  backup: 'start a backup or a replication, run a schedule now',
  verify: 'verify a backup now',
  protect: 'protect or unprotect a backup, cancel a pending deletion',
  restore: 'plan and run a restore',
  'workflows.restore': 'export or push n8n workflows from a backup',
  'channels.test': 'send a test notification',
  delete: 'delete a backup, run retention (prune)',
  'config.write': 'create or change targets, storages, schedules, retention, verification policy, channels',
  import: 'import a bundle made elsewhere',
  'catalog.rebuild': 'rebuild the catalog from storage',
  'users.manage': 'create, change, disable and remove users; end their sessions',
  'tokens.manage': 'list and revoke every user\'s tokens, create tokens for another user',
  'audit.read': 'read the audit log',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const PERMISSION_NAMES = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}
