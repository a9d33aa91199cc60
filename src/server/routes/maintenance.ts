import { z } from '@hono/zod-openapi';
import { runPrune } from '../../jobs/prune.ts';
import { rebuildCatalog } from '../../jobs/rebuild.ts';
import { runReplicatePending } from '../../jobs/replicate.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { startJob } from './jobs.ts';

const TargetBody = z.strictObject({ target: z.string().min(1).max(200).optional().openapi({ description: 'only this target; default all' }) });

/** Long operations on many backups at once: retention, replication, a catalog rebuild. */
export function registerMaintenance(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/prune', access: 'delete', tags: ['retention'],
    summary: 'Apply retention now (GET /api/v1/retention previews it); waits for a restore reading a backup it would delete',
    request: body(TargetBody.openapi('PruneRequest')),
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const { target } = c.req.valid('json');
    return startJob(c, 'prune.run', target ?? 'all', 'prune', (listener, signal) => runPrune(server.loaded(), server.catalog, { target, trigger: 'api', wait: true, signal, listener }), (outcomes) => ({ outcomes }));
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/replicate', access: 'backup', tags: ['storages'],
    summary: 'Copy backups missing from their replicas now',
    request: body(TargetBody.openapi('ReplicateRequest')),
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const { target } = c.req.valid('json');
    return startJob(c, 'replicate.run', target ?? 'all', 'replicate', (listener, signal) => runReplicatePending(server.loaded(), server.catalog, { target, signal, listener }), (r) => r);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/catalog/rebuild', access: 'catalog.rebuild', tags: ['backups'],
    summary: 'Rebuild the catalog\'s backup records from the manifests in storage',
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    return startJob(c, 'catalog.rebuild', 'catalog', 'rebuild', (listener, signal) => rebuildCatalog(server.loaded(), server.catalog, { signal, listener }), (r) => r);
  });
}
