import { LifeboatError } from '../errors.ts';
import type { Row } from './store.ts';
import { ScheduleQueries } from './schedules.ts';

/** A user as everything outside src/auth sees one: never the password hash. */
export interface UserRecord {
  id: number;
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  /** A disabled user cannot log in; their tokens stop working; their sessions were ended. */
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  passwordChangedAt: string;
  lastLoginAt: string | null;
}

/** A browser session as stored: the id itself is never stored, only its sha256 (`id_hash`). */
export interface SessionRecord {
  id: number;
  userId: number;
  /** A short public name for the session, for lists and "end this one"; it opens nothing. */
  handle: string;
  createdAt: string;
  lastSeenAt: string;
  /** The idle limit this session was created with. */
  idleSeconds: number;
  /** The absolute limit: the session ends then whatever its use. */
  expiresAt: string;
  address: string | null;
  userAgent: string | null;
}

/** An API token as stored and listed: the token itself is never stored, only its sha256. */
export interface TokenRecord {
  id: number;
  ownerId: number;
  ownerName: string;
  name: string;
  scopes: string[];
  createdAt: string;
  /** The actor that created it (`alice`, `cli:root`). */
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
  revokedAt: string | null;
}

/** The login throttle's count for one key (`account:<name>` or `address:<ip>`). */
export interface LoginAttemptRecord {
  failures: number;
  lastFailureAt: string;
  lockedUntil: string | null;
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

const toUser = (r: Row): UserRecord => ({
  id: Number(r.id), name: String(r.name), role: r.role as UserRecord['role'], disabled: Number(r.disabled) === 1,
  createdAt: String(r.created_at), updatedAt: String(r.updated_at), passwordChangedAt: String(r.password_changed_at), lastLoginAt: str(r.last_login_at),
});

const toSession = (r: Row): SessionRecord => ({
  id: Number(r.id), userId: Number(r.user_id), handle: String(r.handle), createdAt: String(r.created_at), lastSeenAt: String(r.last_seen_at),
  idleSeconds: Number(r.idle_seconds), expiresAt: String(r.expires_at), address: str(r.address), userAgent: str(r.user_agent),
});

const toToken = (r: Row): TokenRecord => ({
  id: Number(r.id), ownerId: Number(r.owner_id), ownerName: String(r.owner_name), name: String(r.name), scopes: JSON.parse(String(r.scopes_json)) as string[],
  createdAt: String(r.created_at), createdBy: String(r.created_by), expiresAt: str(r.expires_at), lastUsedAt: str(r.last_used_at),
  lastUsedAddress: str(r.last_used_address), revokedAt: str(r.revoked_at),
});

const TOKEN_SELECT = 'select t.*, u.name as owner_name from api_tokens t join users u on u.id = t.owner_id';

/**
 * Users, sessions, API tokens and login attempts (migration 9). Plain storage: the rules
 * (hashing, expiry, scopes, throttling) live in src/auth/, except the one rule that must hold
 * under concurrent writers: the last enabled admin cannot be removed, demoted or disabled.
 */
export class UserQueries extends ScheduleQueries {
  insertUser(u: { name: string; role: UserRecord['role']; passwordHash: string }, at: string): UserRecord {
    return this.tx(() => {
      if (this.one('select 1 from users where name = ?', u.name)) {
        throw new LifeboatError('E_CONFLICT', `a user named ${u.name} exists already`, { hint: 'choose another name, or change that user with `lifeboat user role|passwd`' });
      }
      this.run('insert into users (name, role, password_hash, created_at, updated_at, password_changed_at) values (?, ?, ?, ?, ?, ?)', u.name, u.role, u.passwordHash, at, at, at);
      return toUser(this.one('select * from users where id = last_insert_rowid()')!);
    });
  }

  findUser(name: string): UserRecord | undefined {
    const r = this.one('select * from users where name = ?', name);
    return r ? toUser(r) : undefined;
  }

  findUserById(id: number): UserRecord | undefined {
    const r = this.one('select * from users where id = ?', id);
    return r ? toUser(r) : undefined;
  }

  listUsers(): UserRecord[] {
    return this.all('select * from users order by name').map(toUser);
  }

  /** The stored PHC string; only the login and password checks read it. */
  userPasswordHash(id: number): string | undefined {
    return str(this.one('select password_hash from users where id = ?', id)?.password_hash) ?? undefined;
  }

  /** Enabled admins: the ones who can still manage the installation. */
  countAdmins(): number {
    return Number(this.one("select count(*) as n from users where role = 'admin' and disabled = 0")!.n);
  }

  updateUserRole(id: number, role: UserRecord['role'], at: string): void {
    this.tx(() => {
      if (role !== 'admin') this.#refuseLastAdmin(id, 'demote');
      this.run('update users set role = ?, updated_at = ? where id = ?', role, at, id);
    });
  }

  /** A new password ends every session of the user: whoever knew the old one is signed out. */
  updateUserPassword(id: number, passwordHash: string, at: string): void {
    this.tx(() => {
      this.run('update users set password_hash = ?, password_changed_at = ?, updated_at = ? where id = ?', passwordHash, at, at, id);
      this.run('delete from sessions where user_id = ?', id);
    });
  }

  /** Rewrites the hash after a login with outdated parameters; sessions are kept (same password). */
  rehashUserPassword(id: number, passwordHash: string): void {
    this.run('update users set password_hash = ? where id = ?', passwordHash, id);
  }

  setUserDisabled(id: number, disabled: boolean, at: string): void {
    this.tx(() => {
      if (disabled) {
        this.#refuseLastAdmin(id, 'disable');
        this.run('delete from sessions where user_id = ?', id);
      }
      this.run('update users set disabled = ?, updated_at = ? where id = ?', disabled ? 1 : 0, at, id);
    });
  }

  /** Removes the user; their sessions and tokens go with them (foreign keys cascade). */
  deleteUser(id: number): void {
    this.tx(() => {
      this.#refuseLastAdmin(id, 'remove');
      this.run('delete from users where id = ?', id);
    });
  }

  recordLogin(id: number, at: string): void {
    this.run('update users set last_login_at = ? where id = ?', at, id);
  }

  #refuseLastAdmin(id: number, verb: string): void {
    const u = this.one('select name, role, disabled from users where id = ?', id);
    if (!u || u.role !== 'admin' || Number(u.disabled) === 1) return;
    if (this.countAdmins() <= 1) {
      throw new LifeboatError('E_CONFLICT', `cannot ${verb} ${String(u.name)}: the last admin`, { hint: 'make another user admin first (`lifeboat user role <name> admin`)' });
    }
  }

  insertSession(s: Omit<SessionRecord, 'id'> & { idHash: string }): SessionRecord {
    this.run(
      'insert into sessions (user_id, id_hash, handle, created_at, last_seen_at, idle_seconds, expires_at, address, user_agent) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      s.userId, s.idHash, s.handle, s.createdAt, s.lastSeenAt, s.idleSeconds, s.expiresAt, s.address, s.userAgent,
    );
    return toSession(this.one('select * from sessions where id = last_insert_rowid()')!);
  }

  findSessionByHash(idHash: string): SessionRecord | undefined {
    const r = this.one('select * from sessions where id_hash = ?', idHash);
    return r ? toSession(r) : undefined;
  }

  touchSession(id: number, at: string): void {
    this.run('update sessions set last_seen_at = ? where id = ?', at, id);
  }

  deleteSession(id: number): void {
    this.run('delete from sessions where id = ?', id);
  }

  /** Ends one of a user's sessions by its handle; false when the user has none by that handle. */
  deleteSessionByHandle(userId: number, handle: string): boolean {
    const found = this.one('select id from sessions where user_id = ? and handle = ?', userId, handle);
    if (found) this.deleteSession(Number(found.id));
    return found !== undefined;
  }

  /** Ends every session of a user; returns how many there were. */
  deleteUserSessions(userId: number): number {
    const n = Number(this.one('select count(*) as n from sessions where user_id = ?', userId)!.n);
    this.run('delete from sessions where user_id = ?', userId);
    return n;
  }

  listUserSessions(userId: number): SessionRecord[] {
    return this.all('select * from sessions where user_id = ? order by last_seen_at desc', userId).map(toSession);
  }

  /** Drops sessions past their absolute or their idle limit; returns how many. */
  purgeExpiredSessions(at: string): number {
    const where = "expires_at <= ?1 or unixepoch(last_seen_at) + idle_seconds <= unixepoch(?1)";
    const n = Number(this.one(`select count(*) as n from sessions where ${where}`, at)!.n);
    this.run(`delete from sessions where ${where}`, at);
    return n;
  }

  /** Drops login-throttle counts whose last failure is before `before`. */
  purgeLoginAttempts(before: string): void {
    this.run('delete from login_attempts where last_failure_at < ?', before);
  }

  insertToken(t: { ownerId: number; name: string; tokenHash: string; scopes: string[]; createdAt: string; createdBy: string; expiresAt: string | null }): TokenRecord {
    return this.tx(() => {
      if (this.one('select 1 from api_tokens where owner_id = ? and name = ? and revoked_at is null', t.ownerId, t.name)) {
        const owner = String(this.one('select name from users where id = ?', t.ownerId)?.name);
        throw new LifeboatError('E_CONFLICT', `${owner} has a token named ${t.name} already`, { hint: 'choose another name, or revoke that one first (`lifeboat token revoke`)' });
      }
      this.run(
        'insert into api_tokens (owner_id, name, token_hash, scopes_json, created_at, created_by, expires_at) values (?, ?, ?, ?, ?, ?, ?)',
        t.ownerId, t.name, t.tokenHash, JSON.stringify(t.scopes), t.createdAt, t.createdBy, t.expiresAt,
      );
      return toToken(this.one(`${TOKEN_SELECT} where t.id = last_insert_rowid()`)!);
    });
  }

  findTokenByHash(tokenHash: string): TokenRecord | undefined {
    const r = this.one(`${TOKEN_SELECT} where t.token_hash = ?`, tokenHash);
    return r ? toToken(r) : undefined;
  }

  findTokenById(id: number): TokenRecord | undefined {
    const r = this.one(`${TOKEN_SELECT} where t.id = ?`, id);
    return r ? toToken(r) : undefined;
  }

  /** Tokens, newest first: one owner's or everyone's; revoked ones only when asked. */
  listTokens(options: { ownerId?: number; includeRevoked?: boolean } = {}): TokenRecord[] {
    const where = [options.ownerId !== undefined ? 't.owner_id = ?' : '', options.includeRevoked ? '' : 't.revoked_at is null'].filter(Boolean);
    const sql = `${TOKEN_SELECT}${where.length ? ` where ${where.join(' and ')}` : ''} order by t.created_at desc, t.id desc`;
    return (options.ownerId !== undefined ? this.all(sql, options.ownerId) : this.all(sql)).map(toToken);
  }

  touchToken(id: number, at: string, address: string | null): void {
    this.run('update api_tokens set last_used_at = ?, last_used_address = ? where id = ?', at, address, id);
  }

  revokeTokenById(id: number, at: string): void {
    this.run('update api_tokens set revoked_at = ? where id = ? and revoked_at is null', at, id);
  }

  getLoginAttempt(key: string): LoginAttemptRecord | undefined {
    const r = this.one('select * from login_attempts where key = ?', key);
    return r ? { failures: Number(r.failures), lastFailureAt: String(r.last_failure_at), lockedUntil: str(r.locked_until) } : undefined;
  }

  setLoginAttempt(key: string, a: LoginAttemptRecord): void {
    this.run(
      `insert into login_attempts (key, failures, last_failure_at, locked_until) values (?, ?, ?, ?)
       on conflict (key) do update set failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until`,
      key, a.failures, a.lastFailureAt, a.lockedUntil,
    );
  }

  clearLoginAttempt(key: string): void {
    this.run('delete from login_attempts where key = ?', key);
  }
}
