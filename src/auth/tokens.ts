import type { Catalog } from '../catalog/catalog.ts';
import type { TokenRecord } from '../catalog/users.ts';
import { LifeboatError } from '../errors.ts';
import { randomString, sha256 } from './digest.ts';
import { parseName, normalName } from './names.ts';
import { can, type Principal } from './principal.ts';
import { parseScopes, scopeBeyondRole, type Scope } from './roles.ts';

/** `lb_` + 32 random bytes in base64url: recognisable in a leaked config, and by secret scanners. */
const TOKEN = /^lb_[A-Za-z0-9_-]{43}$/;
/** Last-used times are written at most this often for one address: every request must not be a write. */
export const TOKEN_TOUCH_EVERY_MS = 60_000;

/** A token as lists show it: never the token nor its hash. */
export interface TokenSummary {
  id: number;
  name: string;
  owner: string;
  scopes: Scope[];
  createdAt: string;
  createdBy: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
  revokedAt: string | null;
  state: 'active' | 'expired' | 'revoked';
}

function summary(t: TokenRecord, now: Date): TokenSummary {
  const state = t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) <= now.getTime() ? 'expired' : 'active';
  return {
    id: t.id, name: t.name, owner: t.ownerName, scopes: t.scopes as Scope[], createdAt: t.createdAt, createdBy: t.createdBy,
    expiresAt: t.expiresAt, lastUsedAt: t.lastUsedAt, lastUsedAddress: t.lastUsedAddress, revokedAt: t.revokedAt, state,
  };
}

/** `90d`, `12h`, `2w`, `1y` from now, or an ISO date; E_USAGE otherwise or when not in the future. */
export function parseExpiry(text: string, now = new Date()): Date {
  const m = /^(\d+)([hdwy])$/.exec(text.trim());
  const unit = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 };
  const at = m ? new Date(now.getTime() + Number(m[1]) * unit[m[2] as keyof typeof unit]) : new Date(text);
  if (Number.isNaN(at.getTime())) throw new LifeboatError('E_USAGE', `"${text}" is not an expiry: a duration such as 12h, 90d, 2w or 1y, or a date such as 2027-01-31`);
  if (at.getTime() <= now.getTime()) throw new LifeboatError('E_USAGE', `the expiry ${at.toISOString()} is not in the future`);
  return at;
}

/**
 * Creates a token and returns it in clear, the only time it exists outside the caller: the
 * catalog keeps its sha256. Its scopes may not grant anything the owner's role lacks; with `by`,
 * the creator must own it (`tokens.own`) or manage tokens (`tokens.manage`).
 */
export function createToken(
  catalog: Catalog,
  t: { ownerId: number; name: string; scopes: readonly string[]; expiresAt?: Date | null; by?: Principal },
  now = new Date(),
): { token: string; summary: TokenSummary } {
  const owner = catalog.findUserById(t.ownerId);
  if (!owner) throw new LifeboatError('E_NOT_FOUND', `no user with id ${t.ownerId}`);
  if (t.by?.kind === 'token') {
    throw new LifeboatError('E_FORBIDDEN', 'an API token cannot create tokens', { hint: 'sign in, or run `lifeboat token create` on the server' });
  }
  if (t.by && !can(t.by, t.by.userId === owner.id ? 'tokens.own' : 'tokens.manage')) {
    throw new LifeboatError('E_FORBIDDEN', 'only an admin can create tokens for another user');
  }
  if (owner.disabled) throw new LifeboatError('E_CONFLICT', `${owner.name} is disabled: a token of theirs would not work`, { hint: `enable the user first (\`lifeboat user enable ${owner.name}\`)` });
  const name = parseName('token', t.name);
  const scopes = parseScopes(t.scopes);
  for (const scope of scopes) {
    const beyond = scopeBeyondRole(scope, owner.role);
    if (beyond.length) {
      throw new LifeboatError('E_FORBIDDEN', `scope "${scope}" goes beyond ${owner.name}'s role (${owner.role}): it would grant ${beyond.join(', ')}`, {
        hint: `give a scope the role allows, or change the role first (\`lifeboat user role ${owner.name} <role>\`)`,
      });
    }
  }
  if (t.expiresAt && t.expiresAt.getTime() <= now.getTime()) throw new LifeboatError('E_USAGE', `the expiry ${t.expiresAt.toISOString()} is not in the future`);
  const token = `lb_${randomString(32)}`;
  const record = catalog.insertToken({
    ownerId: owner.id, name, tokenHash: sha256(token), scopes, createdAt: now.toISOString(), createdBy: t.by?.actor ?? owner.name,
    expiresAt: t.expiresAt ? t.expiresAt.toISOString() : null,
  });
  return { token, summary: summary(record, now) };
}

/**
 * The principal for a bearer token, or undefined when it is malformed, unknown, revoked, expired
 * or its owner is disabled: the caller answers 401 alike. The owner's role is read now, so a
 * demotion shrinks the token at its next use. Records the time and address of use.
 */
export function resolveToken(catalog: Catalog, bearer: string, address: string | null, now = new Date()): Principal | undefined {
  if (!TOKEN.test(bearer)) return undefined;
  const t = catalog.findTokenByHash(sha256(bearer));
  if (!t || t.revokedAt || (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime())) return undefined;
  const owner = catalog.findUserById(t.ownerId);
  if (!owner || owner.disabled) return undefined;
  if (!t.lastUsedAt || now.getTime() - Date.parse(t.lastUsedAt) >= TOKEN_TOUCH_EVERY_MS || t.lastUsedAddress !== address) {
    catalog.touchToken(t.id, now.toISOString(), address);
  }
  return {
    kind: 'token', userId: owner.id, userName: owner.name, tokenName: t.name, tokenId: t.id, role: owner.role,
    scopes: t.scopes as Scope[], actor: `token:${t.name} (${owner.name})`,
  };
}

/** Tokens `by` may see: everyone's with `tokens.manage`, else their own; `owner` narrows to one user. */
export function listTokens(catalog: Catalog, by: Principal, o: { owner?: string; includeRevoked?: boolean } = {}, now = new Date()): TokenSummary[] {
  const manage = can(by, 'tokens.manage');
  let ownerId = manage ? undefined : by.userId;
  if (!manage && (ownerId === undefined || !can(by, 'tokens.own'))) return [];
  if (o.owner !== undefined) {
    const owner = normalName(o.owner) === undefined ? undefined : catalog.findUser(normalName(o.owner)!);
    if (!owner || (!manage && owner.id !== by.userId)) throw new LifeboatError('E_NOT_FOUND', `no user named ${o.owner}`, { hint: 'run `lifeboat user list`' });
    ownerId = owner.id;
  }
  return catalog.listTokens({ ownerId, includeRevoked: o.includeRevoked }).map((t) => summary(t, now));
}

/**
 * Revokes a token by id, or by name (with `owner` when several users have one by that name).
 * `by` revokes their own tokens, or anyone's with `tokens.manage`; another user's token is
 * "not found" to someone who may not see it. Takes effect at the token's next request.
 */
export function revokeToken(catalog: Catalog, by: Principal, which: { id: number } | { name: string; owner?: string }, now = new Date()): TokenSummary {
  const manage = can(by, 'tokens.manage');
  const visible = (t: TokenRecord) => manage || (by.userId !== undefined && t.ownerId === by.userId && can(by, 'tokens.own'));
  let target: TokenRecord | undefined;
  if ('id' in which) {
    target = catalog.findTokenById(which.id);
    if (!target || !visible(target)) throw new LifeboatError('E_NOT_FOUND', `no token with id ${which.id}`, { hint: 'run `lifeboat token list`' });
  } else {
    const name = normalName(which.name);
    const owner = which.owner === undefined ? undefined : normalName(which.owner);
    const found = catalog
      .listTokens({})
      .filter((t) => t.name === name && visible(t) && (owner === undefined || t.ownerName === owner));
    if (found.length === 0) throw new LifeboatError('E_NOT_FOUND', `no active token named ${which.name}${which.owner ? ` owned by ${which.owner}` : ''}`, { hint: 'run `lifeboat token list`' });
    if (found.length > 1) {
      throw new LifeboatError('E_AMBIGUOUS', `${found.length} tokens are named ${which.name} (owned by ${found.map((t) => t.ownerName).join(', ')})`, { hint: 'say whose with --user <owner>, or revoke by id' });
    }
    target = found[0]!;
  }
  catalog.revokeTokenById(target.id, now.toISOString());
  return summary(catalog.findTokenById(target.id)!, now);
}
