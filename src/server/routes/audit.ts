import { z } from '@hono/zod-openapi';
import { listAudit, verifyAuditChain } from '../../audit/audit.ts';
import { defineRoute, json, type Api, type RouteEntry } from '../api.ts';

const Entry = z.object({
  id: z.number(), at: z.string(), actor: z.string(), action: z.string(), object: z.string().nullable(), address: z.string().nullable(),
  userAgent: z.string().nullable(), outcome: z.enum(['ok', 'failed', 'refused']), detail: z.record(z.string(), z.unknown()).nullable(),
  prevHash: z.string(), hash: z.string(),
}).openapi('AuditEntry');

/** The audit log: read and verify (no route changes or deletes it; retention is by age, in config). */
export function registerAudit(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/audit', access: 'audit.read', tags: ['audit'],
    summary: 'Every change made over the API, the CLI and by the daemon, newest first',
    request: {
      query: z.object({
        since: z.string().max(40).optional().openapi({ description: 'an ISO time or an age: 7d, 12h, 30m' }),
        until: z.string().max(40).optional(),
        actor: z.string().max(200).optional(),
        action: z.string().max(60).optional().openapi({ description: 'a prefix: backup. for every backup action' }),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        cursor: z.string().max(40).optional(),
      }),
    },
    responses: { 200: json(z.object({ items: z.array(Entry), nextCursor: z.string().nullable() })) },
  }, (c) => {
    const page = listAudit(c.get('server').catalog, c.req.valid('query'));
    return c.json({ items: page.entries, nextCursor: page.nextCursor }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/audit/verify', access: 'audit.read', tags: ['audit'],
    summary: 'Check the log\'s hash chain, as `lifeboat audit verify`: the first broken row, if any',
    responses: { 200: json(z.union([z.object({ ok: z.literal(true), rows: z.number(), head: z.unknown(), anchor: z.unknown() }), z.object({ ok: z.literal(false), rowId: z.number(), reason: z.string() })])) },
  }, (c) => c.json(verifyAuditChain(c.get('server').catalog), 200));
}
