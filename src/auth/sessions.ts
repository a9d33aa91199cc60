import crypto from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { SessionRecord, UserRecord } from '../catalog/users.ts';
import type { Config } from '../config/schema.ts';
import { randomString, sameString, sha256 } from './digest.ts';
import { userPrincipal, type Principal } from './principal.ts';

/** How long a browser session lives: `server.sessions` in lifeboat.yaml. */
export interface SessionPolicy {
  /** Ends after this long without a request. */
  idleHours: number;
  /** Ends this long after login, however busy. */
  absoluteDays: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { idleHours: 12, absoluteDays: 7 };

export function sessionPolicy(config: Config): SessionPolicy {
  return config.server.sessions;
}

/** Seen times are written at most this often: a busy UI must not turn every read into a write. */
const TOUCH_EVERY_MS = 60_000;
/** 32 random bytes in base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export interface NewSession {
  /** The opaque id for the cookie; the catalog keeps only its sha256, so it is shown here only. */
  id: string;
  /** For forms and the UI's X-CSRF-Token header; derived from the id, so it is not stored either. */
  csrfToken: string;
  /** A short public name for the session (lists, "end this session"). */
  handle: string;
  /** The absolute end; the idle limit may end it sooner. */
  expiresAt: Date;
}

/** A session presented with a request and found valid. */
export interface ResolvedSession {
  user: UserRecord;
  session: SessionRecord;
  principal: Principal;
  /** The session's CSRF token, to compare with what a changing request carries (csrfMatches). */
  csrfToken: string;
}

/** A session as its user sees it in a list: no id, no hash. */
export interface SessionSummary {
  handle: string;
  createdAt: string;
  lastSeenAt: string;
  /** When it ends if unused: the earlier of the idle and the absolute limit. */
  expiresAt: string;
  address: string | null;
  userAgent: string | null;
}

/** Keyed by the session id, so the token is worthless without the cookie and needs no storage. */
function csrfFor(id: string): string {
  return crypto.createHmac('sha256', id).update('lifeboat csrf v1').digest('base64url');
}

/** Starts a session for a user who has just logged in. */
export function createSession(
  catalog: Catalog,
  userId: number,
  o: { address?: string | null; userAgent?: string | null; policy?: SessionPolicy; now?: Date } = {},
): NewSession {
  const now = o.now ?? new Date();
  const policy = o.policy ?? DEFAULT_SESSION_POLICY;
  const id = randomString(32);
  const expiresAt = new Date(now.getTime() + policy.absoluteDays * 86_400_000);
  const session = catalog.insertSession({
    userId, idHash: sha256(id), handle: randomString(6), createdAt: now.toISOString(), lastSeenAt: now.toISOString(),
    idleSeconds: Math.round(policy.idleHours * 3600), expiresAt: expiresAt.toISOString(),
    address: o.address ?? null, userAgent: o.userAgent?.slice(0, 256) ?? null,
  });
  return { id, csrfToken: csrfFor(id), handle: session.handle, expiresAt };
}

const idleEnd = (s: SessionRecord) => new Date(Date.parse(s.lastSeenAt) + s.idleSeconds * 1000);

/**
 * The session for a cookie's id, or undefined when it is unknown, idle too long, past its
 * absolute limit, or its user is disabled or gone. An expired session is deleted here.
 */
export function resolveSession(catalog: Catalog, id: string, now = new Date()): ResolvedSession | undefined {
  if (!SESSION_ID.test(id)) return undefined;
  const session = catalog.findSessionByHash(sha256(id));
  if (!session) return undefined;
  if (now.getTime() >= Date.parse(session.expiresAt) || now.getTime() >= idleEnd(session).getTime()) {
    catalog.deleteSession(session.id);
    return undefined;
  }
  const user = catalog.findUserById(session.userId);
  if (!user || user.disabled) return undefined;
  if (now.getTime() - Date.parse(session.lastSeenAt) >= TOUCH_EVERY_MS) {
    catalog.touchSession(session.id, now.toISOString());
    session.lastSeenAt = now.toISOString();
  }
  return { user, session, principal: userPrincipal(user), csrfToken: csrfFor(id) };
}

/** True when `submitted` is the session's CSRF token (constant-time). */
export function csrfMatches(resolved: ResolvedSession, submitted: string | undefined | null): boolean {
  return typeof submitted === 'string' && sameString(resolved.csrfToken, submitted);
}

/** Logout: ends the session with this id (nothing happens for an unknown id). */
export function endSession(catalog: Catalog, id: string): void {
  if (!SESSION_ID.test(id)) return;
  const session = catalog.findSessionByHash(sha256(id));
  if (session) catalog.deleteSession(session.id);
}

/** Ends one of the user's own sessions by its handle; false when they have none by that handle. */
export function endSessionByHandle(catalog: Catalog, userId: number, handle: string): boolean {
  return catalog.deleteSessionByHandle(userId, handle);
}

/** "Sign out everywhere": ends every session of the user; returns how many ended. */
export function endAllSessions(catalog: Catalog, userId: number): number {
  return catalog.deleteUserSessions(userId);
}

/** The user's live sessions, most recently used first. */
export function listSessions(catalog: Catalog, userId: number, now = new Date()): SessionSummary[] {
  return catalog
    .listUserSessions(userId)
    .filter((s) => now.getTime() < Date.parse(s.expiresAt) && now.getTime() < idleEnd(s).getTime())
    .map((s) => ({
      handle: s.handle, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt,
      expiresAt: new Date(Math.min(Date.parse(s.expiresAt), idleEnd(s).getTime())).toISOString(),
      address: s.address, userAgent: s.userAgent,
    }));
}

/** Deletes expired sessions (idle or absolute): the server calls it now and then; returns how many. */
export function purgeSessions(catalog: Catalog, now = new Date()): number {
  return catalog.purgeExpiredSessions(now.toISOString());
}
