import type { MiddlewareHandler } from 'hono';
import type { RouteEntry, ServerEnv } from './api.ts';

/**
 * For tests: every JSON answer is checked against the schema its route declares for that status;
 * one that does not match becomes a 500 naming the route and the mismatch, so a test fails on it.
 */
export function checkResponses(routes: RouteEntry[]): MiddlewareHandler<ServerEnv> {
  const compiled = () => routes.map((r) => ({ r, re: new RegExp(`^${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }));
  let table: ReturnType<typeof compiled> | undefined;
  return async (c, next) => {
    await next();
    table ??= compiled();
    const type = c.res.headers.get('content-type') ?? '';
    if (!type.startsWith('application/json')) return;
    const hit = table.find((t) => t.r.method === c.req.method && t.re.test(c.req.path));
    if (!hit) return;
    const schema = hit.r.responses[String(c.res.status)];
    const fail = (message: string) => {
      c.res = new Response(JSON.stringify({ type: 'about:blank', title: 'Response check failed', status: 500, code: 'E_INTERNAL', detail: `${hit.r.method} ${hit.r.path} answered ${c.res.status}: ${message}` }), { status: 500, headers: { 'content-type': 'application/problem+json' } });
    };
    if (!schema) return fail('no JSON schema is declared for this status');
    const parsed = schema.safeParse(await c.res.clone().json());
    if (!parsed.success) fail(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  };
}
