import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { csrfMatches, resolveSession } from '../auth/sessions.ts';
import { resolveToken } from '../auth/tokens.ts';
import { LifeboatError } from '../errors.ts';
import type { ServerEnv } from './api.ts';
import { problemResponse } from './problem.ts';

export const SESSION_COOKIE = 'lifeboat_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Who is calling: an API token (`Authorization: Bearer lb_...`) or a browser session (cookie).
 * A token that is given but unknown, expired or revoked is a 401 at once, whatever the route:
 * a script with a dead token should hear so, not be served as anonymous. A cookie-authenticated
 * request that changes anything must come from the app's own origin and carry the session's
 * CSRF token: a page elsewhere can make the browser send the cookie, but not read the token.
 */
export const identify: MiddlewareHandler<ServerEnv> = async (c, next) => {
  const server = c.get('server');
  const now = new Date();
  c.set('principal', undefined);
  c.set('csrf', undefined);
  c.set('sessionHandle', undefined);
  const header = c.req.header('authorization');
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = m ? resolveToken(server.catalog, m[1]!, server.address(c), now) : undefined;
    if (!principal) return problemResponse(c, new LifeboatError('E_UNAUTHENTICATED', 'the API token is not valid: unknown, expired or revoked', { hint: '`lifeboat token list` shows tokens; create one with `lifeboat token create`' }));
    c.set('principal', principal);
    return next();
  }
  // A page elsewhere must not sign the browser in (to an account of the attacker's) or claim
  // setup either: browsers say where a request comes from, and a cross-site one changes nothing.
  if (!SAFE.has(c.req.method) && c.req.header('sec-fetch-site') === 'cross-site') {
    return problemResponse(c, new LifeboatError('E_FORBIDDEN', 'cross-site request refused: Sec-Fetch-Site is cross-site', { hint: 'send changes from the Lifeboat UI, or use an API token' }));
  }
  const cookie = getCookie(c, SESSION_COOKIE);
  if (cookie) {
    const session = resolveSession(server.catalog, cookie, now);
    if (session) {
      if (!SAFE.has(c.req.method)) {
        const refused = crossSite(c, server.publicOrigin) ?? (csrfMatches(session, c.req.header(CSRF_HEADER)) ? undefined : `the ${CSRF_HEADER} header is missing or does not match the session`);
        if (refused) return problemResponse(c, new LifeboatError('E_FORBIDDEN', `cross-site request refused: ${refused}`, { hint: 'send changes from the Lifeboat UI, or use an API token' }));
      }
      c.set('principal', session.principal);
      c.set('csrf', session.csrfToken);
      c.set('sessionHandle', session.session.handle);
    }
  }
  return next();
};

/** Why the request is not from the app's own origin, or undefined when it is. */
function crossSite(c: Context, publicOrigin: string | undefined): string | undefined {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' ? undefined : `Sec-Fetch-Site is ${site}`;
  const origin = c.req.header('origin');
  if (!origin) return 'the request has neither Sec-Fetch-Site nor Origin';
  const own = publicOrigin ?? new URL(c.req.url).origin;
  return origin === own ? undefined : `Origin ${origin} is not ${own}`;
}
