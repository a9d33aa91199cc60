import { LifeboatError } from '../errors.ts';
import { PERMISSION_NAMES, type Permission } from './permissions.ts';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const SCOPES = ['read', 'backup', 'restore', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

const VIEWER: readonly Permission[] = ['read', 'events.ack', 'metrics', 'account', 'tokens.own'];
const OPERATOR: readonly Permission[] = [...VIEWER, 'download', 'backup', 'verify', 'protect', 'restore', 'workflows.restore', 'channels.test'];
const ADMIN: readonly Permission[] = [...OPERATOR, 'delete', 'config.write', 'import', 'catalog.rebuild', 'users.manage', 'tokens.manage', 'audit.read'];

/** Each role's permissions; each role has everything the one below it has. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set(VIEWER),
  operator: new Set(OPERATOR),
  admin: new Set(ADMIN),
};

/**
 * Credentials are managed only by a person (a browser session) or on the machine (the CLI),
 * never by a token: a leaked token cannot mint tokens or users that outlive its revocation,
 * whatever its scope.
 */
const PERSON_ONLY: ReadonlySet<Permission> = new Set(['account', 'tokens.own', 'tokens.manage', 'users.manage']);

/**
 * What each token scope grants, before it is cut down to the owner's current role. `backup` can
 * read (the external trigger follows its job's progress with the same token) and verify and
 * protect what it made; `restore` can download, a restore's worth of data access.
 */
export const SCOPE_PERMISSIONS: Readonly<Record<Scope, ReadonlySet<Permission>>> = {
  read: new Set(['read']),
  backup: new Set(['read', 'backup', 'verify', 'protect']),
  restore: new Set(['read', 'restore', 'workflows.restore', 'download']),
  admin: new Set(PERMISSION_NAMES.filter((p) => !PERSON_ONLY.has(p))),
  metrics: new Set(['metrics']),
};

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** The role, or E_USAGE naming the valid ones. */
export function parseRole(value: string): Role {
  if (!isRole(value)) throw new LifeboatError('E_USAGE', `unknown role "${value}": one of ${ROLES.join(', ')}`);
  return value;
}

/** The scopes, deduplicated in canonical order, or E_USAGE naming the unknown one. */
export function parseScopes(values: readonly string[]): Scope[] {
  if (values.length === 0) throw new LifeboatError('E_USAGE', `a token needs at least one scope: ${SCOPES.join(', ')}`);
  for (const v of values) {
    if (!isScope(v)) throw new LifeboatError('E_USAGE', `unknown scope "${v}": one of ${SCOPES.join(', ')}`);
  }
  return SCOPES.filter((s) => values.includes(s));
}

/** The permissions of `scope` that `role` lacks: a scope may be given only when there are none. */
export function scopeBeyondRole(scope: Scope, role: Role): Permission[] {
  return [...SCOPE_PERMISSIONS[scope]].filter((p) => !ROLE_PERMISSIONS[role].has(p));
}

/** A token's effective permissions: what its scopes grant and its owner's role allows. */
export function tokenPermissions(scopes: readonly Scope[], role: Role): Set<Permission> {
  const granted = new Set<Permission>();
  for (const s of scopes) for (const p of SCOPE_PERMISSIONS[s]) if (ROLE_PERMISSIONS[role].has(p)) granted.add(p);
  return granted;
}

/**
 * The whole table, for documentation and for the authorization-matrix test: for each
 * permission, which roles have it and which scopes grant it (before the owner's role cuts in).
 */
export function permissionTable(): { permission: Permission; roles: Role[]; scopes: Scope[] }[] {
  return PERMISSION_NAMES.map((permission) => ({
    permission,
    roles: ROLES.filter((r) => ROLE_PERMISSIONS[r].has(permission)),
    scopes: SCOPES.filter((s) => SCOPE_PERMISSIONS[s].has(permission)),
  }));
}
