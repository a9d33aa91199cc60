import type { Context } from 'hono';
import { withAudit, type AuditAction } from '../audit/audit.ts';
import type { ServerEnv } from './api.ts';

/**
 * Runs a change made over the API and records it in the audit log (audit/audit.ts, withAudit):
 * who (the principal's actor), from where, how it ended (`refused` when the request or the
 * state turned it down, `failed` otherwise) and a small detail of the result.
 */
export function audited<T>(c: Context<ServerEnv>, action: AuditAction, object: string | undefined, fn: () => Promise<T> | T, detail?: (r: T) => Record<string, unknown>): Promise<T> {
  const server = c.get('server');
  const base = { actor: c.get('principal')?.actor ?? 'anonymous', action, object, address: server.address(c), userAgent: c.req.header('user-agent') };
  return withAudit(server.catalog, base, async (note) => {
    const r = await fn();
    if (detail) Object.assign(note.detail, detail(r));
    return r;
  });
}
