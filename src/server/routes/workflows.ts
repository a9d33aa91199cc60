import { z } from '@hono/zod-openapi';
import { exportWorkflows, restoreWorkflowsToN8n } from '../../jobs/restore-workflow.ts';
import { LifeboatError } from '../../errors.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';
import { checkN8n } from '../../profiles/n8n-api.ts';
import { BackupParam, NameParam } from '../schemas.ts';
import { startJob } from './jobs.ts';

const WorkflowItem = z.object({
  id: z.string(), name: z.string(), updatedAt: z.string().nullable(), database: z.string().nullable(), checksum: z.string().nullable(),
  active: z.boolean().optional(), nodes: z.number().optional(), tags: z.array(z.string()).optional(),
  versions: z.array(z.unknown()).optional(),
}).passthrough().openapi('WorkflowItem');

/** n8n workflows in a backup: list and search (from the manifest), export as JSON, push to n8n. */
export function registerWorkflows(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/workflows', access: 'read', tags: ['workflows'],
    summary: 'The n8n workflows a backup holds, from its manifest (the bundle is not opened)',
    request: { params: BackupParam, query: z.object({ q: z.string().max(200).optional().openapi({ description: 'in the name, id or tags' }) }) },
    responses: { 200: json(z.object({ backupId: z.string(), total: z.number(), items: z.array(WorkflowItem) })) },
  }, (c) => {
    const { catalog } = c.get('server');
    const b = catalog.resolveBackup(c.req.valid('param').id);
    const m = catalog.getManifest(b.id);
    if (!m) throw new LifeboatError('E_NOT_FOUND', `backup ${b.id} has no contents: it is ${b.status}`);
    const needle = c.req.valid('query').q?.toLowerCase();
    const all = m.app.items.filter((i) => i.kind === 'workflow');
    const items = all
      .filter((i) => !needle || [i.name, i.id, ...((i.details?.tags as string[] | undefined) ?? [])].some((v) => v.toLowerCase().includes(needle)))
      .map((i) => ({ ...(i.details ?? {}), id: i.id, name: i.name, updatedAt: i.updatedAt ?? null, database: i.database ?? null, checksum: i.checksum ?? null }));
    return c.json({ backupId: b.id, total: all.length, items }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/workflows/export', access: 'workflows.restore', tags: ['workflows'],
    summary: 'Workflows as the JSON `n8n import:workflow` reads: one (`workflow`) or all, as a download',
    description: 'Read from the bundle (checksums checked), each workflow matching the checksum the backup recorded. Exported inactive.',
    request: { params: BackupParam, query: z.object({ workflow: z.string().max(200).optional().openapi({ description: 'id or exact name; omit for all' }), version: z.string().max(100).optional() }) },
    responses: { 200: { description: 'The workflow JSON', content: { 'application/json': { schema: z.unknown() } } } },
  }, async (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const { backupId, workflows } = await audited(c, 'workflow.export', id, () => exportWorkflows(server.loaded(), server.catalog, id, q.workflow ? [q.workflow] : 'all', { version: q.version }), (r) => ({ backup: r.backupId, workflows: r.workflows.map((w) => w.id) }));
    const one = q.workflow !== undefined;
    const file = `${one ? workflows[0]!.name.replace(/[^A-Za-z0-9._-]+/g, '_') : 'workflows'}-${backupId}.json`;
    return c.json(one ? workflows[0] : workflows, 200, { 'content-disposition': `attachment; filename="${file}"` });
  });

  const Push = z.strictObject({
    workflows: z.union([z.array(z.string().min(1)).min(1), z.literal('all')]).openapi({ description: 'ids or exact names, or "all"' }),
    name: z.string().min(1).max(200).optional().openapi({ description: 'with one workflow: the new workflow\'s name (default <name>_backup_<YYYYMMDD>)' }),
    version: z.string().max(100).optional(),
    trustForeign: z.boolean().optional().openapi({ description: 'push from a backup no key of this installation vouches for' }),
  }).openapi('WorkflowPush');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/workflows/restore', access: 'workflows.restore', tags: ['workflows'],
    summary: 'Create workflows from the backup in the target\'s running n8n (inactive, new names)',
    request: { params: BackupParam, ...body(Push) },
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const b = server.catalog.resolveBackup(c.req.valid('param').id);
    const p = c.req.valid('json');
    return startJob(c, 'workflow.restore', b.id, 'workflow-restore', (listener, signal) => restoreWorkflowsToN8n(server.loaded(), server.catalog, b.id, p.workflows, { name: p.name, version: p.version, trustForeign: p.trustForeign, listener, signal }), (r) => r);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/targets/{name}/n8n', access: 'workflows.restore', tags: ['workflows'],
    summary: 'Whether the target\'s running n8n would take a restored workflow now: configured, reachable, key accepted',
    description: 'Cheap (a health check and one authenticated request, 3 s at most each): the UI asks it before offering "restore to n8n".',
    request: { params: NameParam },
    responses: { 200: json(z.object({ configured: z.boolean(), reachable: z.boolean(), detail: z.string(), hint: z.string().optional() }).openapi('N8nReachability')) },
  }, async (c) => {
    const loaded = c.get('server').loaded();
    const { name } = c.req.valid('param');
    const target = loaded.config.targets[name];
    if (!target) throw new LifeboatError('E_NOT_FOUND', `no target named "${name}"`, { hint: `targets: ${Object.keys(loaded.config.targets).join(', ') || 'none'}` });
    const n8n = target.n8n;
    if (!n8n?.url || !n8n.apiKey) {
      return c.json({ configured: false, reachable: false, detail: `no running n8n is configured for target ${name}`, hint: 'set n8n.url and n8n.apiKey on it' }, 200);
    }
    return c.json({ configured: true, ...(await checkN8n({ url: n8n.url, apiKey: n8n.apiKey })) }, 200);
  });
}
