import type { Context, MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { sha256 } from '../auth/digest.ts';
import type { Principal } from '../auth/principal.ts';
import { csrfMatches, resolveSession } from '../auth/sessions.ts';
import { resolveToken, TOKEN_TOUCH_EVERY_MS } from '../auth/tokens.ts';
import type { Catalog } from '../catalog/catalog.ts';
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
    const principal = m ? tokenPrincipal(server.catalog, m[1]!, server.address(c), now) : undefined;
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

/** A token resolved before, with what decides whether resolveToken would answer the same now. */
interface KnownToken {
  /** The catalog's change mark it was read at. */
  mark: string;
  principal: Principal;
  /** Epoch ms; Infinity without expiry. */
  expiresAt: number;
  /** Its recorded last use (epoch ms) and address. */
  usedAt: number;
  address: string | null;
}

const KNOWN_TOKENS = 1000;
const knownTokens = new WeakMap<Catalog, Map<string, KnownToken>>();

/**
 * resolveToken, without its two catalog reads on most requests: a script polling the API
 * resolves the same token over and over. An answer is reused, by the token's sha256, only while
 * it is exactly what resolveToken would say: the catalog's change mark is the same (revoking it,
 * disabling or demoting its owner, any write by this process or another changes it, so they take
 * effect at the next request), it has not expired since, and resolveToken would not record a use
 * now (it does once a minute, or from a new address). Unknown tokens are never kept.
 */
function tokenPrincipal(catalog: Catalog, bearer: string, address: string, now: Date): Principal | undefined {
  let known = knownTokens.get(catalog);
  if (!known) knownTokens.set(catalog, (known = new Map()));
  const key = sha256(bearer);
  const mark = catalog.changeMark();
  const t = now.getTime();
  const hit = known.get(key);
  if (hit && hit.mark === mark && t < hit.expiresAt && t - hit.usedAt < TOKEN_TOUCH_EVERY_MS && hit.address === address) return hit.principal;
  known.delete(key);
  const principal = resolveToken(catalog, bearer, address, now);
  if (!principal) return undefined;
  // Kept only when nothing was written meanwhile (a use just recorded, or another process's
  // write between the reads): what was read then holds at this mark. The next request keeps it.
  const record = catalog.findTokenById(principal.tokenId!);
  if (catalog.changeMark() !== mark || !record?.lastUsedAt) return principal;
  if (known.size >= KNOWN_TOKENS) known.delete(known.keys().next().value!);
  known.set(key, {
    mark, principal, expiresAt: record.expiresAt ? Date.parse(record.expiresAt) : Infinity, usedAt: Date.parse(record.lastUsedAt), address: record.lastUsedAddress,
  });
  return principal;
}
