/**
 * Users, roles, sessions, API tokens and login throttling: what the HTTP layer (src/server/) and
 * the CLI call. Each part lives in its own file; this one only gathers them.
 */
export { PERMISSIONS, PERMISSION_NAMES, isPermission, type Permission } from './permissions.ts';
export {
  ROLES, SCOPES, ROLE_PERMISSIONS, SCOPE_PERMISSIONS, isRole, isScope, parseRole, parseScopes, permissionTable, scopeBeyondRole, tokenPermissions,
  type Role, type Scope,
} from './roles.ts';
export { can, cliPrincipal, DAEMON, userPrincipal, type Principal } from './principal.ts';
export { checkPasswordPolicy, dummyHash, hashPassword, needsRehash, verifyPassword, MIN_PASSWORD_LENGTH } from './passwords.ts';
export { changeOwnPassword, createUser, getUser, listUsers, removeUser, setDisabled, setPassword, setRole, type UserRecord } from './users.ts';
export {
  createSession, csrfMatches, DEFAULT_SESSION_POLICY, endAllSessions, endSession, endSessionByHandle, listSessions, purgeSessions, resolveSession, sessionPolicy,
  type NewSession, type ResolvedSession, type SessionPolicy, type SessionSummary,
} from './sessions.ts';
export { createToken, listTokens, parseExpiry, resolveToken, revokeToken, type TokenSummary } from './tokens.ts';
export { delaySeconds, login, purgeLoginAttempts, THROTTLE, type LoginResult } from './throttle.ts';
export { claimSetup, setupPending, setupToken } from './setup.ts';
