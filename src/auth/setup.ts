import type { Catalog } from '../catalog/catalog.ts';
import type { UserRecord } from '../catalog/users.ts';
import { LifeboatError } from '../errors.ts';
import { randomString, sameString, sha256 } from './digest.ts';
import { parseName } from './names.ts';
import { checkPasswordPolicy, hashPassword } from './passwords.ts';

/**
 * First start: no admin exists, and whoever reaches the server first must not become one. The
 * server prints a link with a one-time token (to its console, which only the installer sees);
 * the catalog keeps the token's sha256, in settings, until an admin exists.
 */
const SETTING = 'auth.setupTokenHash';

/** True while no enabled admin exists: the server offers setup. */
export function setupPending(catalog: Catalog): boolean {
  return catalog.countAdmins() === 0;
}

/**
 * A new setup token, or undefined once an admin exists. Only the catalog's hash survives, so an
 * earlier token cannot be shown again: each call replaces it (the server calls this once at
 * start and prints the link; a restart prints a new one and the old link stops working).
 */
export function setupToken(catalog: Catalog): string | undefined {
  if (!setupPending(catalog)) {
    catalog.setSetting(SETTING, null);
    return undefined;
  }
  const token = randomString(32);
  catalog.setSetting(SETTING, sha256(token));
  return token;
}

/**
 * Creates the first admin with the setup token, which is spent by it. Refused with E_CONFLICT
 * once an admin exists (also when two claims race: the second finds the first's admin), and
 * with E_UNAUTHENTICATED for a wrong or spent token.
 */
export async function claimSetup(catalog: Catalog, token: string, name: string, password: string, now = new Date()): Promise<UserRecord> {
  const check = () => {
    if (!setupPending(catalog)) throw new LifeboatError('E_CONFLICT', 'setup is done: an admin exists already', { hint: 'log in, or ask an admin for an account' });
    const stored = catalog.getSetting<string | null>(SETTING);
    if (!stored || !sameString(stored, sha256(token))) {
      throw new LifeboatError('E_UNAUTHENTICATED', 'the setup token is wrong or was used', { hint: 'use the setup link `lifeboat serve` printed last, or run `lifeboat user add <name> --role admin`' });
    }
  };
  check();
  const userName = parseName('user', name);
  checkPasswordPolicy(password, userName);
  const passwordHash = await hashPassword(password);
  // Hashing yielded to the event loop, so another claim may have won meanwhile: check again. From
  // here on nothing awaits, so no other request of this process runs between check and insert.
  check();
  const user = catalog.insertUser({ name: userName, role: 'admin', passwordHash }, now.toISOString());
  catalog.setSetting(SETTING, null);
  return user;
}
