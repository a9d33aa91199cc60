import type { Catalog } from '../catalog/catalog.ts';
import type { UserRecord } from '../catalog/users.ts';
import { LifeboatError } from '../errors.ts';
import { parseName, normalName } from './names.ts';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.ts';
import type { Role } from './roles.ts';

export type { UserRecord };

/** Creates a user after checking the name and the password policy; E_CONFLICT when the name is taken. */
export async function createUser(catalog: Catalog, u: { name: string; role: Role; password: string }, now = new Date()): Promise<UserRecord> {
  const name = parseName('user', u.name);
  if (catalog.findUser(name)) throw new LifeboatError('E_CONFLICT', `a user named ${name} exists already`, { hint: 'choose another name' });
  checkPasswordPolicy(u.password, name);
  const passwordHash = await hashPassword(u.password);
  return catalog.insertUser({ name, role: u.role, passwordHash }, now.toISOString());
}

export function listUsers(catalog: Catalog): UserRecord[] {
  return catalog.listUsers();
}

/** The user by name (any case), or E_NOT_FOUND. */
export function getUser(catalog: Catalog, name: string): UserRecord {
  const key = normalName(name);
  const user = key === undefined ? undefined : catalog.findUser(key);
  if (!user) throw new LifeboatError('E_NOT_FOUND', `no user named ${name}`, { hint: 'run `lifeboat user list`' });
  return user;
}

/** Changes the role at once (the user's tokens follow it at their next use); the last admin cannot be demoted. */
export function setRole(catalog: Catalog, name: string, role: Role, now = new Date()): UserRecord {
  const user = getUser(catalog, name);
  catalog.updateUserRole(user.id, role, now.toISOString());
  return getUser(catalog, user.name);
}

/** Sets a new password (policy checked) and ends all the user's sessions. */
export async function setPassword(catalog: Catalog, name: string, password: string, now = new Date()): Promise<void> {
  const user = getUser(catalog, name);
  checkPasswordPolicy(password, user.name);
  catalog.updateUserPassword(user.id, await hashPassword(password), now.toISOString());
}

/**
 * A user changing their own password: the current one must be given (a session left open on a
 * shared screen must not be enough to take the account over). Ends all their sessions, this one
 * too: the caller starts a new one for the browser that asked.
 */
export async function changeOwnPassword(catalog: Catalog, userId: number, current: string, next: string, now = new Date()): Promise<void> {
  const user = catalog.findUserById(userId);
  const stored = user && catalog.userPasswordHash(user.id);
  if (!user || !stored) throw new LifeboatError('E_NOT_FOUND', `no user with id ${userId}`);
  if (!(await verifyPassword(stored, current))) throw new LifeboatError('E_FORBIDDEN', 'the current password is wrong; nothing was changed');
  checkPasswordPolicy(next, user.name);
  catalog.updateUserPassword(user.id, await hashPassword(next), now.toISOString());
}

/** Disables (or enables) a user: a disabled one cannot log in, loses their sessions, and their tokens stop working. */
export function setDisabled(catalog: Catalog, name: string, disabled: boolean, now = new Date()): UserRecord {
  const user = getUser(catalog, name);
  catalog.setUserDisabled(user.id, disabled, now.toISOString());
  return getUser(catalog, user.name);
}

/** Removes a user with their sessions and tokens; the last admin cannot be removed. */
export function removeUser(catalog: Catalog, name: string): UserRecord {
  const user = getUser(catalog, name);
  catalog.deleteUser(user.id);
  return user;
}
