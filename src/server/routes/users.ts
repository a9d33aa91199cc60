import { z } from '@hono/zod-openapi';
import { createToken, createUser, endAllSessions, getUser, listTokens, listUsers, parseExpiry, removeUser, revokeToken, setDisabled, setPassword, setRole, type TokenSummary, type UserRecord } from '../../auth/index.ts';
import { ROLES, SCOPES } from '../../auth/roles.ts';
import { LifeboatError } from '../../errors.ts';
import { body, defineRoute, json, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';

const UserSchema = z.object({
  id: z.number(), name: z.string(), role: z.enum(ROLES), disabled: z.boolean(),
  createdAt: z.string(), updatedAt: z.string(), passwordChangedAt: z.string(), lastLoginAt: z.string().nullable(),
}).openapi('User');

const TokenSchema = z.object({
  id: z.number(), name: z.string(), owner: z.string(), scopes: z.array(z.enum(SCOPES)), createdAt: z.string(), createdBy: z.string(),
  expiresAt: z.string().nullable(), lastUsedAt: z.string().nullable(), lastUsedAddress: z.string().nullable(), revokedAt: z.string().nullable(),
  state: z.enum(['active', 'expired', 'revoked']),
}).openapi('Token');

const userOut = (u: UserRecord) => ({ id: u.id, name: u.name, role: u.role, disabled: u.disabled, createdAt: u.createdAt, updatedAt: u.updatedAt, passwordChangedAt: u.passwordChangedAt, lastLoginAt: u.lastLoginAt });
const NameParam = z.object({ name: z.string().min(1).max(64).openapi({ param: { name: 'name', in: 'path' } }) });

/** Users (admins) and API tokens (one's own; admins everyone's). */
export function registerUsers(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/users', access: 'users.manage', tags: ['users'],
    summary: 'Users', responses: { 200: json(z.object({ items: z.array(UserSchema) })) },
  }, (c) => c.json({ items: listUsers(c.get('server').catalog).map(userOut) }, 200));

  const NewUser = z.strictObject({ name: z.string().min(1).max(64), role: z.enum(ROLES), password: z.string().min(1).max(1024) }).openapi('NewUser');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/users', access: 'users.manage', tags: ['users'],
    summary: 'Create a user (a password of at least 12 characters)', request: body(NewUser),
    responses: { 201: json(UserSchema) },
  }, async (c) => {
    const u = c.req.valid('json');
    const user = await audited(c, 'user.create', u.name, () => createUser(c.get('server').catalog, u), (r) => ({ role: r.role }));
    return c.json(userOut(user), 201);
  });

  const UserChange = z.strictObject({ role: z.enum(ROLES).optional(), disabled: z.boolean().optional(), password: z.string().min(1).max(1024).optional() }).openapi('UserChange');
  defineRoute(api, table, {
    method: 'patch', path: '/api/v1/users/{name}', access: 'users.manage', tags: ['users'],
    summary: 'Change a user\'s role, disable or enable them, or set their password (the last admin cannot be demoted or disabled)',
    request: { params: NameParam, ...body(UserChange) },
    responses: { 200: json(UserSchema) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const { name } = c.req.valid('param');
    const change = c.req.valid('json');
    if (change.role !== undefined) await audited(c, 'user.role', name, () => setRole(catalog, name, change.role!), (u) => ({ role: u.role }));
    if (change.disabled !== undefined) await audited(c, 'user.role', name, () => setDisabled(catalog, name, change.disabled!), (u) => ({ disabled: u.disabled }));
    if (change.password !== undefined) await audited(c, 'user.passwd', name, () => setPassword(catalog, name, change.password!));
    return c.json(userOut(getUser(catalog, name)), 200);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/users/{name}', access: 'users.manage', tags: ['users'],
    summary: 'Remove a user: their sessions end and their tokens are revoked (not the last admin)',
    request: { params: NameParam }, responses: { 200: json(UserSchema) },
  }, async (c) => {
    const { name } = c.req.valid('param');
    return c.json(userOut(await audited(c, 'user.remove', name, () => removeUser(c.get('server').catalog, name))), 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/users/{name}/signout', access: 'users.manage', tags: ['users'],
    summary: 'End every session of a user', request: { params: NameParam },
    responses: { 200: json(z.object({ ended: z.number() })) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const { name } = c.req.valid('param');
    const ended = await audited(c, 'session.signout-all', name, () => endAllSessions(catalog, getUser(catalog, name).id), (n) => ({ ended: n }));
    return c.json({ ended }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/tokens', access: 'tokens.own', tags: ['tokens'],
    summary: 'API tokens: one\'s own (admins: everyone\'s); never the token itself',
    request: { query: z.object({ owner: z.string().max(64).optional(), includeRevoked: z.enum(['true', 'false']).optional() }) },
    responses: { 200: json(z.object({ items: z.array(TokenSchema) })) },
  }, (c) => {
    const q = c.req.valid('query');
    return c.json({ items: listTokens(c.get('server').catalog, c.get('principal')!, { owner: q.owner, includeRevoked: q.includeRevoked === 'true' }) }, 200);
  });

  const NewToken = z.strictObject({
    name: z.string().min(1).max(64),
    scopes: z.array(z.enum(SCOPES)).min(1),
    expires: z.string().max(40).optional().openapi({ description: 'a duration (12h, 90d, 2w, 1y) or a date; default: no expiry' }),
    owner: z.string().max(64).optional().openapi({ description: 'admins: create it for this user; default oneself' }),
  }).openapi('NewToken');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/tokens', access: 'tokens.own', tags: ['tokens'],
    summary: 'Create an API token; the answer is the only time the token is shown',
    request: body(NewToken),
    responses: { 201: json(z.object({ token: z.string().openapi({ example: 'lb_…' }), summary: TokenSchema })) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const by = c.get('principal')!;
    const t = c.req.valid('json');
    const ownerId = t.owner === undefined ? by.userId : getUser(catalog, t.owner).id;
    if (ownerId === undefined) throw new LifeboatError('E_USAGE', 'name the owner');
    const made = await audited(c, 'token.create', t.name, () => createToken(catalog, { ownerId, name: t.name, scopes: t.scopes, expiresAt: t.expires ? parseExpiry(t.expires) : null, by }), (r: { summary: TokenSummary }) => ({ owner: r.summary.owner, scopes: r.summary.scopes, expiresAt: r.summary.expiresAt }));
    return c.json(made, 201);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/tokens/{id}', access: 'tokens.own', tags: ['tokens'],
    summary: 'Revoke a token; it stops working at its next request',
    request: { params: z.object({ id: z.coerce.number().int().positive().openapi({ param: { name: 'id', in: 'path' } }) }) },
    responses: { 200: json(TokenSchema) },
  }, async (c) => {
    const { id } = c.req.valid('param');
    return c.json(await audited(c, 'token.revoke', String(id), () => revokeToken(c.get('server').catalog, c.get('principal')!, { id }), (t) => ({ name: t.name, owner: t.owner })), 200);
  });
}
