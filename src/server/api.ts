import { OpenAPIHono, z, type RouteConfig, type RouteHandler } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Permission } from '../auth/permissions.ts';
import { can, type Principal } from '../auth/principal.ts';
import { LifeboatError } from '../errors.ts';
import type { ServerContext } from './context.ts';
import { problemResponse } from './problem.ts';

/**
 * Who may call a route: a permission (auth/permissions.ts), `signed-in` (any valid session or
 * token: one's own session list, sign-out), or `public` (health, login, the setup claim, docs).
 */
export type Access = Permission | 'signed-in' | 'public';

export type ServerEnv = { Variables: { principal: Principal | undefined; server: ServerContext; csrf: string | undefined; sessionHandle: string | undefined } };
export type Api = OpenAPIHono<ServerEnv>;

/** One row of the route table: what the authorization matrix test and the docs are generated from. */
export interface RouteEntry {
  method: string;
  /** The OpenAPI path, `/api/v1/backups/{id}`. */
  path: string;
  access: Access;
  summary: string;
  /** Response schemas by status, for the response check in tests. */
  responses: Record<string, z.ZodType | undefined>;
}

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().openapi({ example: 'E_NOT_FOUND' }),
    hint: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });

/** The answers every route may give besides its own, in the document as in fact. */
const COMMON = {
  400: problem('Bad request: the body, query or path did not validate (each wrong field is listed)'),
  401: problem('Not signed in, or the token is unknown, expired or revoked'),
  403: problem('Signed in, but the role or the token scopes do not allow this'),
  404: problem('No such object'),
  409: problem('The state does not allow it now (a running operation, a protected backup, a stale plan)'),
  429: problem('Too many attempts: Retry-After says when to try again'),
  500: problem('The operation failed; the detail says what the user can do, internals stay in the log'),
} as const;

/** The answer to a route the caller may not use: 401 when nobody is signed in, else 403. */
export function authorize(access: Access): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    if (access === 'public') return next();
    // server.metrics.public: Prometheus scrapes without a token.
    if (access === 'metrics' && c.get('server').loaded().config.server.metrics.public) return next();
    const p = c.get('principal');
    if (!p) return problemResponse(c, new LifeboatError('E_UNAUTHENTICATED', 'sign in, or send an API token as "Authorization: Bearer lb_..."'));
    if (access !== 'signed-in' && !can(p, access)) {
      return problemResponse(c, new LifeboatError('E_FORBIDDEN', `${p.actor} may not do this: it needs the "${access}" permission`, {
        hint: p.kind === 'token' ? 'use a token with a wider scope (its owner\'s role bounds it)' : 'ask an admin for a role that allows it',
      }));
    }
    return next();
  };
}

type Handler<R extends RouteConfig> = (c: Parameters<RouteHandler<R, ServerEnv>>[0]) => Response | Promise<Response>;

/**
 * Declares a route: its OpenAPI definition, who may call it, and its handler. A route cannot be
 * declared without an access rule, and each lands in `table`, from which the authorization
 * matrix test is generated.
 */
export function defineRoute<const R extends RouteConfig>(api: Api, table: RouteEntry[], config: R & { access: Access }, handler: Handler<R>): void {
  const { access, ...route } = config;
  if (!access) throw new Error(`route ${route.method} ${route.path} has no access rule`);
  const responses: Record<string, z.ZodType | undefined> = {};
  for (const [status, r] of Object.entries(route.responses)) {
    const content = (r as { content?: Record<string, { schema?: unknown }> }).content;
    responses[status] = content?.['application/json']?.schema as z.ZodType | undefined;
  }
  table.push({ method: route.method.toUpperCase(), path: route.path, access, summary: route.summary ?? '', responses });
  const full = {
    ...route,
    description: `${route.description ?? ''}${route.description ? '\n\n' : ''}Access: **${access}**.`,
    // The authorization matrix test reads each route's rule from the served document.
    'x-lifeboat-access': access,
    middleware: [authorize(access), ...(Array.isArray(route.middleware) ? route.middleware : route.middleware ? [route.middleware] : [])],
    responses: { ...Object.fromEntries(Object.entries(COMMON).filter(([s]) => !(s in route.responses))), ...route.responses },
  };
  api.openapi(full as unknown as R, handler as never);
}

/** A JSON body or answer description, in the shape OpenAPI wants. */
export const json = <T extends z.ZodType>(schema: T, description = 'OK') => ({ description, content: { 'application/json': { schema } } });

/** A request body that must be JSON and must not carry unknown keys. */
export const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { 'application/json': { schema } } } });

/** 202: a long operation started; `Location` is its job. */
export const JobStartedSchema = z
  .object({ jobId: z.string().openapi({ example: '3f0c9a52-6a1e-4c53-9d64-0b9c1f7a2e11' }), location: z.string() })
  .openapi('JobStarted');
