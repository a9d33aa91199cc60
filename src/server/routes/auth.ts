import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { recordAudit } from '../../audit/audit.ts';
import { claimSetup, createSession, endAllSessions, endSession, endSessionByHandle, listSessions, login, sessionPolicy, setupPending, setPassword, verifyPassword, type UserRecord } from '../../auth/index.ts';
import { PERMISSION_NAMES } from '../../auth/permissions.ts';
import { can, userPrincipal, type Principal } from '../../auth/principal.ts';
import { LifeboatError } from '../../errors.ts';
import { body, defineRoute, json, type Api, type RouteEntry, type ServerEnv } from '../api.ts';
import { audited } from '../audit.ts';
import { CSRF_HEADER, SESSION_COOKIE } from '../principal.ts';
import { problemResponse } from '../problem.ts';


const SessionAnswer = z.object({
  actor: z.string(),
  kind: z.enum(['user', 'token', 'cli', 'daemon']),
  user: z.string().nullable(),
  role: z.enum(['viewer', 'operator', 'admin']),
  permissions: z.array(z.string()).openapi({ description: 'what this caller may do: the UI hides what it may not' }),
  csrfToken: z.string().nullable().openapi({ description: `send it as ${CSRF_HEADER} with every change made with the session cookie` }),
  expiresAt: z.string().nullable(),
}).openapi('Session');

const SessionSummarySchema = z.object({ handle: z.string(), createdAt: z.string(), lastSeenAt: z.string(), expiresAt: z.string(), address: z.string().nullable(), userAgent: z.string().nullable(), current: z.boolean() }).openapi('SessionSummary');

/** Starts a browser session for a user: the cookie, HttpOnly and SameSite=Lax, Secure over HTTPS. */
function startSession(c: Context<ServerEnv>, user: UserRecord): { csrfToken: string; expiresAt: string } {
  const server = c.get('server');
  const s = createSession(server.catalog, user.id, { address: server.address(c), userAgent: c.req.header('user-agent'), policy: sessionPolicy(server.loaded().config) });
  setCookie(c, SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'Lax', secure: server.secure(c), path: '/', expires: s.expiresAt });
  return { csrfToken: s.csrfToken, expiresAt: s.expiresAt.toISOString() };
}


/** What GET /session answers: who, with which permissions, and the session's CSRF token. */
function sessionAnswer(p: Principal, csrfToken: string | null, expiresAt: string | null) {
  return { actor: p.actor, kind: p.kind, user: p.userName ?? null, role: p.role, permissions: PERMISSION_NAMES.filter((x) => can(p, x)), csrfToken, expiresAt };
}

/** First-start setup, login, logout, one's session and sessions, one's password. */
export function registerAuth(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/setup', access: 'public', tags: ['session'],
    summary: 'Whether the instance waits for its first admin (setup with the link `lifeboat serve` printed)',
    responses: { 200: json(z.object({ pending: z.boolean() })) },
  }, (c) => c.json({ pending: setupPending(c.get('server').catalog) }, 200));

  const Setup = z.strictObject({ token: z.string().min(1).max(200), name: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).openapi('SetupRequest');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/setup', access: 'public', tags: ['session'],
    summary: 'Create the first admin with the one-time setup token, and sign in as them',
    description: 'The token is printed by `lifeboat serve` on its console only while no admin exists: a fresh instance exposed by accident cannot be claimed by a stranger.',
    request: body(Setup),
    responses: { 201: json(SessionAnswer) },
  }, async (c) => {
    const server = c.get('server');
    const { token, name, password } = c.req.valid('json');
    const user = await audited(c, 'user.create', name, () => claimSetup(server.catalog, token, name, password), (u) => ({ role: u.role, via: 'setup' }));
    const s = startSession(c, user);
    return c.json(sessionAnswer(userPrincipal(user), s.csrfToken, s.expiresAt), 201);
  });

  const Login = z.strictObject({ name: z.string().min(1).max(200), password: z.string().min(1).max(1024) }).openapi('LoginRequest');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/session', access: 'public', tags: ['session'],
    summary: 'Sign in: sets the session cookie and answers the CSRF token',
    description: 'The answer to a failed login never says whether the user exists. Repeated failures per account and per address are delayed exponentially: 429 with Retry-After.',
    request: body(Login),
    responses: { 200: json(SessionAnswer) },
  }, async (c) => {
    const server = c.get('server');
    const { name, password } = c.req.valid('json');
    const address = server.address(c);
    const result = await login(server.catalog, name, password, address);
    const base = { actor: name.slice(0, 100), object: name.slice(0, 100), address, userAgent: c.req.header('user-agent') };
    if (!result.ok) {
      recordAudit(server.catalog, { ...base, action: 'session.login-failed', outcome: 'refused', detail: result.retryAfterSeconds ? { throttled: result.retryAfterSeconds } : undefined });
      if (result.retryAfterSeconds) {
        return problemResponse(c, new LifeboatError('E_RATE_LIMITED', `too many failed logins: try again in ${result.retryAfterSeconds} s`), {}, { 'retry-after': String(result.retryAfterSeconds) });
      }
      return problemResponse(c, new LifeboatError('E_UNAUTHENTICATED', 'wrong user name or password'));
    }
    recordAudit(server.catalog, { ...base, actor: result.user.name, action: 'session.login', outcome: 'ok' });
    const s = startSession(c, result.user);
    return c.json(sessionAnswer(userPrincipal(result.user), s.csrfToken, s.expiresAt), 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/session', access: 'signed-in', tags: ['session'],
    summary: 'Who is calling, with what permissions (and, for a browser session, its CSRF token)',
    responses: { 200: json(SessionAnswer) },
  }, (c) => {
    const p = c.get('principal')!;
    return c.json(sessionAnswer(p, c.get('csrf') ?? null, null), 200);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/session', access: 'signed-in', tags: ['session'],
    summary: 'Sign out: ends this browser session',
    responses: { 200: json(z.object({ signedOut: z.literal(true) })) },
  }, async (c) => {
    const server = c.get('server');
    const cookie = c.req.header('cookie')?.match(new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]+)`))?.[1];
    await audited(c, 'session.logout', c.get('principal')!.userName, () => {
      if (cookie) endSession(server.catalog, decodeURIComponent(cookie));
    });
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ signedOut: true as const }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/sessions', access: 'account', tags: ['session'],
    summary: 'One\'s own live sessions (no ids: a short handle each)',
    responses: { 200: json(z.object({ items: z.array(SessionSummarySchema) })) },
  }, (c) => {
    const p = c.get('principal')!;
    const server = c.get('server');
    const current = c.get('sessionHandle');
    const items = listSessions(server.catalog, p.userId!).map((s) => ({ ...s, current: s.handle === current }));
    return c.json({ items }, 200);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/sessions/{handle}', access: 'account', tags: ['session'],
    summary: 'End one of one\'s own sessions',
    request: { params: z.object({ handle: z.string().min(1).max(64).openapi({ param: { name: 'handle', in: 'path' } }) }) },
    responses: { 200: json(z.object({ ended: z.literal(true) })) },
  }, async (c) => {
    const p = c.get('principal')!;
    const { handle } = c.req.valid('param');
    await audited(c, 'session.logout', p.userName, () => {
      if (!endSessionByHandle(c.get('server').catalog, p.userId!, handle)) throw new LifeboatError('E_NOT_FOUND', `no session ${handle} of yours`);
    }, () => ({ handle }));
    return c.json({ ended: true as const }, 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/sessions/signout-all', access: 'account', tags: ['session'],
    summary: 'Sign out everywhere: ends every session of one\'s own, this one included',
    responses: { 200: json(z.object({ ended: z.number() })) },
  }, async (c) => {
    const p = c.get('principal')!;
    const ended = await audited(c, 'session.signout-all', p.userName, () => endAllSessions(c.get('server').catalog, p.userId!), (n) => ({ ended: n }));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ ended }, 200);
  });

  const Password = z.strictObject({ current: z.string().min(1).max(1024), password: z.string().min(1).max(1024) }).openapi('PasswordChange');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/account/password', access: 'account', tags: ['session'],
    summary: 'Change one\'s own password (the current one is asked again); other sessions end',
    request: body(Password),
    responses: { 200: json(z.object({ changed: z.literal(true) })) },
  }, async (c) => {
    const server = c.get('server');
    const p = c.get('principal')!;
    const { current, password } = c.req.valid('json');
    await audited(c, 'user.passwd', p.userName, async () => {
      const hash = server.catalog.userPasswordHash(p.userId!);
      if (!hash || !(await verifyPassword(hash, current))) throw new LifeboatError('E_FORBIDDEN', 'the current password is wrong');
      await setPassword(server.catalog, p.userName!, password);
    });
    return c.json({ changed: true as const }, 200);
  });
}
