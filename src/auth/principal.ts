import os from 'node:os';
import type { UserRecord } from '../catalog/users.ts';
import type { Permission } from './permissions.ts';
import { ROLE_PERMISSIONS, tokenPermissions, type Role, type Scope } from './roles.ts';

/** Who is asking: what every authorization decision and every audit row is made from. */
export interface Principal {
  /** user: a browser session; token: an API token; cli: the shell on this machine; daemon: the scheduler. */
  kind: 'user' | 'token' | 'cli' | 'daemon';
  /** The user (the token's owner for a token). */
  userId?: number;
  userName?: string;
  /** For a token: its name and id. */
  tokenName?: string;
  tokenId?: number;
  /** For a token: the owner's role as it is now, read when the token was resolved. */
  role: Role;
  /** For a token: what it was given; its permissions are these cut down to `role`. */
  scopes?: Scope[];
  /** As the audit log writes it: `alice`, `token:ci (alice)`, `cli:root`, `daemon`. */
  actor: string;
}

/**
 * Whether the principal may do what `permission` covers. A token gets the intersection of its
 * scopes and its owner's role, so demoting the owner shrinks the token at the next request. The
 * CLI and the daemon run on the machine, where whoever runs them can read the catalog anyway.
 */
export function can(principal: Principal, permission: Permission): boolean {
  if (principal.kind === 'token') return tokenPermissions(principal.scopes ?? [], principal.role).has(permission);
  return ROLE_PERMISSIONS[principal.role].has(permission);
}

export function userPrincipal(user: Pick<UserRecord, 'id' | 'name' | 'role'>): Principal {
  return { kind: 'user', userId: user.id, userName: user.name, role: user.role, actor: user.name };
}

/** The shell: `cli:<os user>`. */
export function cliPrincipal(): Principal {
  let name = process.env.USER ?? 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // No passwd entry for this uid (a container): keep $USER.
  }
  return { kind: 'cli', role: 'admin', actor: `cli:${name}` };
}

export const DAEMON: Principal = { kind: 'daemon', role: 'admin', actor: 'daemon' };
