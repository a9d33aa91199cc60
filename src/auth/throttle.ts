import { isIPv4, isIPv6 } from 'node:net';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoginAttemptRecord, UserRecord } from '../catalog/users.ts';
import { normalName } from './names.ts';
import { dummyHash, hashPassword, needsRehash, verifyPassword } from './passwords.ts';

/**
 * Login throttling, per account name and per address: a few failures are free, then each one
 * doubles the wait (1 s, 2 s, 4 s ... at most 15 min). A success clears the account's count;
 * an address's count is forgotten a day after its last failure, so an attacker cannot clear it
 * by logging in to an account of their own between guesses at others.
 */
export const THROTTLE = {
  /** Failures allowed per account name before delays start. */
  accountFree: 5,
  /** Per address: more, since several people may share one (an office NAT). */
  addressFree: 10,
  maxDelaySeconds: 900,
  /** A count whose last failure is older than this starts again from zero. */
  forgetAfterMs: 24 * 3_600_000,
} as const;

export type LoginResult =
  | { ok: true; user: UserRecord }
  /** The same for an unknown user, a wrong password and a disabled user; `retryAfterSeconds` when locked (HTTP 429). */
  | { ok: false; retryAfterSeconds?: number };

/** The wait after `failures` failures, when `free` are allowed. */
export function delaySeconds(failures: number, free: number): number {
  return failures <= free ? 0 : Math.min(2 ** (failures - free - 1), THROTTLE.maxDelaySeconds);
}

/**
 * The throttle's key for an address: an IPv4 address as it is (also when IPv4-mapped), an IPv6
 * address by its /64, since one host commonly holds a whole /64 and could rotate through it.
 */
export function addressKey(address: string | null): string {
  if (!address) return 'unknown';
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  if (mapped) return mapped[1]!;
  if (isIPv4(plain) || !isIPv6(plain)) return plain.slice(0, 64);
  const [head = '', tail] = plain.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

const keys = (name: string, address: string | null) => [
  { key: `account:${name.trim().toLowerCase().slice(0, 128)}`, free: THROTTLE.accountFree },
  { key: `address:${addressKey(address)}`, free: THROTTLE.addressFree },
];

function current(catalog: Catalog, key: string, now: Date): LoginAttemptRecord | undefined {
  const a = catalog.getLoginAttempt(key);
  return a && now.getTime() - Date.parse(a.lastFailureAt) < THROTTLE.forgetAfterMs ? a : undefined;
}

/** Seconds until both counts allow another attempt (0: now). */
function waitSeconds(catalog: Catalog, name: string, address: string | null, now: Date): number {
  let until = 0;
  for (const { key } of keys(name, address)) {
    const lock = current(catalog, key, now)?.lockedUntil;
    if (lock) until = Math.max(until, Date.parse(lock));
  }
  return Math.max(0, Math.ceil((until - now.getTime()) / 1000));
}

function setCount(catalog: Catalog, key: string, free: number, failures: number, lastFailureAt: Date): void {
  if (failures <= 0) return catalog.clearLoginAttempt(key);
  const delay = delaySeconds(failures, free);
  catalog.setLoginAttempt(key, {
    failures, lastFailureAt: lastFailureAt.toISOString(),
    lockedUntil: delay ? new Date(lastFailureAt.getTime() + delay * 1000).toISOString() : null,
  });
}

/**
 * Checks a login. A locked account or address is refused before any hashing (so the throttle also
 * caps the CPU an attacker can spend). The attempt is counted as a failure before the password is
 * checked, and taken back on success, so parallel guesses cannot all slip in before the first is
 * counted. An unknown user is checked against a dummy hash: the answer and its timing are the
 * same as for a wrong password.
 */
export async function login(catalog: Catalog, name: string, password: string, address: string | null, now = new Date()): Promise<LoginResult> {
  const wait = waitSeconds(catalog, name, address, now);
  if (wait > 0) return { ok: false, retryAfterSeconds: wait };
  const counted = keys(name, address).map(({ key, free }) => {
    const failures = (current(catalog, key, now)?.failures ?? 0) + 1;
    setCount(catalog, key, free, failures, now);
    return { key, free };
  });

  const key = normalName(name);
  const user = key === undefined ? undefined : catalog.findUser(key);
  const stored = (user && catalog.userPasswordHash(user.id)) ?? (await dummyHash());
  const matches = await verifyPassword(stored, password);
  if (!user || user.disabled || !matches) {
    const after = waitSeconds(catalog, name, address, now);
    return after > 0 ? { ok: false, retryAfterSeconds: after } : { ok: false };
  }

  const [account, addr] = counted as [{ key: string; free: number }, { key: string; free: number }];
  catalog.clearLoginAttempt(account.key);
  const a = catalog.getLoginAttempt(addr.key);
  if (a) setCount(catalog, addr.key, addr.free, a.failures - 1, new Date(a.lastFailureAt));
  catalog.recordLogin(user.id, now.toISOString());
  // Parameters raised since this hash was made: upgrade it now that the password is at hand.
  if (await needsRehash(stored)) catalog.rehashUserPassword(user.id, await hashPassword(password));
  return { ok: true, user: catalog.findUserById(user.id)! };
}

/** Deletes throttle counts old enough to be forgotten anyway: the server calls it now and then. */
export function purgeLoginAttempts(catalog: Catalog, now = new Date()): void {
  catalog.purgeLoginAttempts(new Date(now.getTime() - THROTTLE.forgetAfterMs).toISOString());
}
