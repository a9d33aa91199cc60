import { z } from '@hono/zod-openapi';
import { renderMetrics } from '../../reports/metrics.ts';
import { daemonStatus } from '../../reports/status.ts';
import { LEASE } from '../../scheduler/scheduler.ts';
import { defineRoute, json, type Api, type RouteEntry } from '../api.ts';
import { DaemonStatusSchema } from '../report-schemas.ts';

/** Health, readiness, metrics and the daemon's status. */
export function registerSystem(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/healthz', access: 'public', tags: ['system'],
    summary: 'The process is up',
    responses: { 200: json(z.object({ ok: z.literal(true) })) },
  }, (c) => c.json({ ok: true as const }, 200));

  defineRoute(api, table, {
    method: 'get', path: '/readyz', access: 'public', tags: ['system'],
    summary: 'Ready: the catalog takes writes, and the daemon holds its lease or stands by for it',
    responses: { 200: json(z.object({ ready: z.boolean(), catalog: z.string(), daemon: z.string() })), 503: json(z.object({ ready: z.boolean(), catalog: z.string(), daemon: z.string() }), 'Not ready') },
  }, (c) => {
    const { catalog } = c.get('server');
    let writable = 'writable';
    try {
      catalog.probeWritable();
    } catch (err) {
      writable = `not writable: ${(err as Error).message}`;
    }
    const lease = catalog.getLease(LEASE);
    const daemon = !lease || Date.parse(lease.expiresAt) < Date.now() ? 'standing by (no daemon holds the lease)' : `lease held by ${lease.holder}`;
    const ready = writable === 'writable';
    return c.json({ ready, catalog: writable, daemon }, ready ? 200 : 503);
  });

  defineRoute(api, table, {
    method: 'get', path: '/metrics', access: 'metrics', tags: ['system'],
    summary: 'Prometheus metrics (a token with scope `metrics`, unless server.metrics.public)',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
  }, async (c) => {
    const server = c.get('server');
    const loaded = server.loaded();
    const m = await renderMetrics(loaded, server.catalog, new Date());
    return c.body(m.body, 200, { 'content-type': m.contentType });
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/status', access: 'read', tags: ['system'],
    summary: 'The daemon, next runs, running jobs, the last result per target, storage use (as `lifeboat status --json`)',
    responses: { 200: json(DaemonStatusSchema) },
  }, (c) => {
    const server = c.get('server');
    return c.json(daemonStatus(server.loaded(), server.catalog, new Date()) as z.infer<typeof DaemonStatusSchema>, 200);
  });
}
