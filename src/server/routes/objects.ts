import { z } from '@hono/zod-openapi';
import { createObject, getObject, listObjects, removeObject, testObject, updateObject, type ObjectKind } from '../../config/objects.ts';
import type { Permission } from '../../auth/permissions.ts';
import type { AuditAction } from '../../audit/audit.ts';
import { targetHealth } from '../../reports/health.ts';
import { storageList } from '../../reports/storage.ts';
import { body, defineRoute, json, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';
import { NameParam } from '../schemas.ts';
import { StorageUsageSchema, TargetHealthSchema } from '../report-schemas.ts';

const ObjectView = z.object({
  kind: z.enum(['target', 'storage', 'channel']),
  name: z.string(),
  source: z.enum(['file', 'api']).openapi({ description: 'file: from lifeboat.yaml, read-only here; api: created over the API' }),
  config: z.record(z.string(), z.unknown()).openapi({ description: 'the keys lifeboat.yaml takes, defaults applied; each secret with a value reads "set"' }),
  shadowed: z.boolean().optional(),
  problem: z.string().optional(),
  createdAt: z.string().optional(), updatedAt: z.string().optional(), createdBy: z.string().optional(), updatedBy: z.string().optional(),
}).openapi('ConfigObject');

const TestReport = z.object({
  kind: z.string(), name: z.string(), ok: z.boolean(), ms: z.number(),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string(), hint: z.string().optional() })),
  storage: z.unknown().optional(), delivery: z.unknown().optional(),
  detected: z.object({
    configured: z.string().openapi({ description: 'the profile the target names (auto chooses per database)' }),
    databases: z.array(z.object({ name: z.string(), sizeBytes: z.number(), tables: z.number(), profile: z.enum(['n8n', 'django', 'prisma', 'generic']), error: z.string().optional() })),
    more: z.number().openapi({ description: 'databases beyond the first 20, not looked into' }),
  }).optional().openapi({ description: 'targets: the databases a backup would take now and the app profile found in each' }),
}).openapi('ObjectTestReport');

const KINDS: { kind: ObjectKind; plural: string; tag: string; test: Permission; what: string }[] = [
  { kind: 'target', plural: 'targets', tag: 'targets', test: 'verify', what: 'connects to its PostgreSQL server, checks its databases and file sets' },
  { kind: 'storage', plural: 'storages', tag: 'storages', test: 'verify', what: 'lists, writes, reads back and measures free space' },
  { kind: 'channel', plural: 'channels', tag: 'channels', test: 'channels.test', what: 'sends a test notification' },
];

/**
 * Targets, storages and notification channels: those of lifeboat.yaml read-only (`source:
 * file`), those created here kept in the catalog with their secrets sealed (`source: api`).
 * Secrets are write-only: answers show `"set"`.
 */
export function registerObjects(api: Api, table: RouteEntry[]): void {
  for (const k of KINDS) {
    const base = `/api/v1/${k.plural}`;
    defineRoute(api, table, {
      method: 'get', path: base, access: 'read', tags: [k.tag],
      summary: `Every ${k.kind}: from lifeboat.yaml and created here${k.kind === 'target' ? ', with health (last success, next run, last verification, success rate over 30 days)' : k.kind === 'storage' ? ', with used, free and quota' : ''}`,
      responses: { 200: json(z.object({ items: z.array(ObjectView.extend({ health: TargetHealthSchema.nullable().optional(), usage: StorageUsageSchema.nullable().optional() })) })) },
    }, (c) => {
      const server = c.get('server');
      const loaded = server.loaded();
      const items = listObjects(loaded, server.catalog, k.kind);
      const health = k.kind === 'target' ? new Map(targetHealth(loaded, server.catalog).map((h) => [h.target, h])) : undefined;
      const usage = k.kind === 'storage' ? new Map(storageList(loaded, server.catalog).map((u) => [u.name, u])) : undefined;
      // Health and use are of the object in effect: a shadowed catalog copy has none of its own.
      const decorated = items.map((v) => ({ ...v, ...(health && !v.shadowed ? { health: health.get(v.name) ?? null } : {}), ...(usage && !v.shadowed ? { usage: usage.get(v.name) ?? null } : {}) }));
      return c.json({ items: decorated as z.infer<typeof ObjectView>[] }, 200);
    });

    defineRoute(api, table, {
      method: 'get', path: `${base}/{name}`, access: 'read', tags: [k.tag],
      summary: `One ${k.kind} (the file's when both have the name)`,
      request: { params: NameParam },
      responses: { 200: json(ObjectView) },
    }, (c) => {
      const server = c.get('server');
      return c.json(getObject(server.loaded(), server.catalog, k.kind, c.req.valid('param').name) as z.infer<typeof ObjectView>, 200);
    });

    const Create = z.strictObject({
      name: z.string().min(1).max(64),
      config: z.record(z.string(), z.unknown()).openapi({ description: `the keys lifeboat.yaml takes for a ${k.kind}, validated the same way` }),
    }).openapi(`New${k.kind[0]!.toUpperCase()}${k.kind.slice(1)}`);
    defineRoute(api, table, {
      method: 'post', path: base, access: 'config.write', tags: [k.tag],
      summary: `Create a ${k.kind} (kept in the catalog; its secrets sealed, never shown again)`,
      request: body(Create),
      responses: { 201: json(ObjectView) },
    }, async (c) => {
      const server = c.get('server');
      const b = c.req.valid('json');
      const view = await audited(c, `${k.kind}.create` as AuditAction, b.name, () => createObject(server.loaded(), server.catalog, k.kind, b.name, b.config, c.get('principal')!.actor), (v) => ({ config: v.config }));
      server.reload();
      return c.json(view as z.infer<typeof ObjectView>, 201);
    });

    defineRoute(api, table, {
      method: 'patch', path: `${base}/{name}`, access: 'config.write', tags: [k.tag],
      summary: `Change a ${k.kind} created here: a JSON merge patch (a key set to null is removed; a secret left out keeps its value)`,
      description: 'Objects from lifeboat.yaml: 409, edit the file.',
      request: { params: NameParam, body: { required: true, content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
      responses: { 200: json(ObjectView) },
    }, async (c) => {
      const server = c.get('server');
      const { name } = c.req.valid('param');
      const view = await audited(c, `${k.kind}.update` as AuditAction, name, () => updateObject(server.loaded(), server.catalog, k.kind, name, c.req.valid('json'), c.get('principal')!.actor), (v) => ({ config: v.config }));
      server.reload();
      return c.json(view as z.infer<typeof ObjectView>, 200);
    });

    defineRoute(api, table, {
      method: 'delete', path: `${base}/{name}`, access: 'config.write', tags: [k.tag],
      summary: `Remove a ${k.kind} created here (409: one from lifeboat.yaml; ${k.kind === 'storage' ? 'a storage a target uses, or one holding backups without force' : k.kind === 'target' ? 'a target with backups without force' : 'never for channels'})`,
      request: { params: NameParam, query: z.object({ force: z.enum(['true', 'false']).optional() }) },
      responses: { 200: json(z.object({ name: z.string(), removed: z.literal(true) })) },
    }, async (c) => {
      const server = c.get('server');
      const { name } = c.req.valid('param');
      const force = c.req.valid('query').force === 'true';
      await audited(c, `${k.kind}.delete` as AuditAction, name, () => removeObject(server.loaded(), server.catalog, k.kind, name, { force }), () => ({ force }));
      server.reload();
      return c.json({ name, removed: true as const }, 200);
    });

    defineRoute(api, table, {
      method: 'post', path: `${base}/{name}/test`, access: k.test, tags: [k.tag],
      summary: `Test a ${k.kind} now: ${k.what}`,
      request: { params: NameParam },
      responses: { 200: json(TestReport) },
    }, async (c) => {
      const server = c.get('server');
      const { name } = c.req.valid('param');
      const report = await audited(c, `${k.kind}.test` as AuditAction, name, () => testObject(server.loaded(), server.catalog, k.kind, name), (r) => ({ ok: r.ok }));
      return c.json(report, 200);
    });
  }
}
