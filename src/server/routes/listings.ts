import { z } from '@hono/zod-openapi';
import { CONTENT_KINDS, searchContents } from '../../reports/contents.ts';
import { listEvents, markEventsRead, unreadEventCount } from '../../reports/events.ts';
import { queryBackupsJson, type BackupSummaryRow } from '../../reports/backups.ts';
import { retentionPreview } from '../../reports/retention.ts';
import { targetSchema } from '../../config/schema.ts';
import { deployedCompatibility } from '../../profiles/compatibility.ts';
import { LifeboatError } from '../../errors.ts';
import { body, defineRoute, json, type Api, type RouteEntry } from '../api.ts';
import { BackupParam, BackupSummarySchema } from '../schemas.ts';
import { RetentionPreviewSchema, type Same } from '../report-schemas.ts';

const flag = z.enum(['true', 'false']).optional().transform((v) => (v === undefined ? undefined : v === 'true'));

const BackupRow = z.object({
  id: z.string(), target: z.string(), status: z.enum(['running', 'ok', 'degraded', 'failed', 'deleted']), trust: z.enum(['trusted', 'untrusted']),
  trigger: z.string(), startedAt: z.string(), finishedAt: z.string().nullable(), durationMs: z.number().nullable(), size: z.number().nullable(),
  error: z.string().nullable(),
  verification: z.object({ status: z.enum(['unverified', 'passed', 'failed']), level: z.enum(['quick', 'full']).nullable(), at: z.string().nullable() }),
  protected: z.boolean(), protectedUntil: z.string().nullable(),
  deletion: z.object({ status: z.enum(['none', 'pending', 'deleted']), at: z.string().nullable() }),
  locations: z.array(z.object({ storage: z.string(), status: z.enum(['pending', 'ok', 'failed', 'missing']) })),
  summary: BackupSummarySchema.nullable(), tags: z.array(z.string()),
}).openapi('BackupRow');
const backupRowMatches: Same<z.infer<typeof BackupRow>, BackupSummaryRow> = true;
void backupRowMatches;

const EventSchema = z.object({
  id: z.number(), at: z.string(), kind: z.string(), severity: z.enum(['info', 'warning', 'error', 'critical']), target: z.string().nullable(),
  backupId: z.string().nullable(), jobId: z.string().nullable(), message: z.string(), data: z.unknown(), deliveredAt: z.string().nullable(), readAt: z.string().nullable(),
}).openapi('Event');

/** The read side a console needs: backups paged and filtered, a backup's contents, events, retention preview. */
export function registerListings(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups', access: 'read', tags: ['backups'],
    summary: 'Backups, filtered and sorted, a page at a time (keyset cursors)',
    request: {
      query: z.object({
        target: z.string().max(200).optional(),
        status: z.enum(['running', 'ok', 'degraded', 'failed', 'deleted']).optional(),
        verified: z.enum(['none', 'failed', 'passed', 'quick', 'full']).optional(),
        protected: flag,
        pendingDeletion: flag,
        from: z.string().max(40).optional().openapi({ description: 'started at or after (ISO time)' }),
        to: z.string().max(40).optional().openapi({ description: 'started before (ISO time)' }),
        sort: z.enum(['startedAt', 'size', 'target']).default('startedAt'),
        order: z.enum(['asc', 'desc']).default('desc'),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(500).optional(),
        total: flag.openapi({ description: 'also count every match (ask on the first page only)' }),
      }),
    },
    responses: { 200: json(z.object({ items: z.array(BackupRow), nextCursor: z.string().nullable(), total: z.number().optional() })) },
  }, async (c) => {
    const q = c.req.valid('query');
    const { catalog, reader } = c.get('server');
    const query = { ...q, protected: q.protected, pendingDeletion: q.pendingDeletion, withTotal: q.total === true };
    const page = reader ? await reader.backupsPage(query) : queryBackupsJson(catalog, query);
    return c.body(page, 200, { 'content-type': 'application/json' });
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/contents', access: 'read', tags: ['backups'],
    summary: 'What a backup holds, searchable: databases, tables, files, workflows, credentials (names only), migrations',
    description: 'From the manifest: the bundle is not opened. A credential\'s data is never in the manifest, so never here.',
    request: {
      params: BackupParam,
      query: z.object({ q: z.string().max(200).optional(), kind: z.enum(CONTENT_KINDS as [string, ...string[]]).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(500).optional() }),
    },
    responses: { 200: json(z.object({ backupId: z.string(), profile: z.string(), items: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().nullable(), counts: z.record(z.string(), z.number()), total: z.number() })) },
  }, (c) => {
    const { catalog } = c.get('server');
    const b = catalog.resolveBackup(c.req.valid('param').id);
    const q = c.req.valid('query');
    return c.json(searchContents(catalog, b.id, q as Parameters<typeof searchContents>[2]) as never, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/compatibility', access: 'read', tags: ['backups'],
    summary: 'A backup\'s migration state against the code deployed now (Django, Prisma): the checks a restore\'s plan would make',
    description: 'Reads the migration files of the code the target names (django.projectRoot or migrationsDirs, prisma.migrationsDir); `checked: false` with the reason when there is nothing to compare with.',
    request: { params: BackupParam },
    responses: { 200: json(z.object({ backupId: z.string(), profile: z.string(), checked: z.boolean(), reason: z.string().optional(), checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() })) }).openapi('DeployedCompatibility')) },
  }, async (c) => {
    const server = c.get('server');
    return c.json(await deployedCompatibility(server.loaded(), server.catalog, c.req.valid('param').id), 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/events', access: 'read', tags: ['events'],
    summary: 'The event log (what notifications are sent from), newest first, with the unread count',
    request: { query: z.object({ unread: flag, kind: z.string().max(60).optional(), severity: z.enum(['info', 'warning', 'error', 'critical']).optional(), target: z.string().max(200).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(100).optional() }) },
    responses: { 200: json(z.object({ items: z.array(EventSchema), nextCursor: z.string().nullable(), unread: z.number() })) },
  }, (c) => c.json(listEvents(c.get('server').catalog, c.req.valid('query')) as never, 200));

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/events/unread', access: 'read', tags: ['events'],
    summary: 'How many events no one has read (the badge)',
    responses: { 200: json(z.object({ unread: z.number() })) },
  }, (c) => c.json({ unread: unreadEventCount(c.get('server').catalog) }, 200));

  const Mark = z.strictObject({ ids: z.array(z.number().int().positive()).optional(), upTo: z.number().int().positive().optional().openapi({ description: 'the newest id the user saw: later events stay unread' }), all: z.literal(true).optional() }).openapi('MarkRead');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/events/read', access: 'events.ack', tags: ['events'],
    summary: 'Mark events read: some ids, everything up to one, or all',
    request: body(Mark),
    responses: { 200: json(z.object({ marked: z.number(), unread: z.number() })) },
  }, (c) => c.json(markEventsRead(c.get('server').catalog, c.req.valid('json')), 200));

  const Preview = RetentionPreviewSchema;
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/retention', access: 'read', tags: ['retention'],
    summary: 'Each target\'s retention policy and a dry run: every backup with its decision and reasons (as `prune --dry-run`)',
    request: { query: z.object({ target: z.string().max(200).optional() }) },
    responses: { 200: json(z.object({ items: z.array(Preview) })) },
  }, async (c) => {
    const server = c.get('server');
    return c.json({ items: await retentionPreview(server.loaded(), server.catalog, { target: c.req.valid('query').target }) }, 200);
  });

  const Draft = z.strictObject({
    target: z.string().min(1).max(200),
    policy: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'the `retention:` block to try, as lifeboat.yaml takes it (null: no rules); validated as the file is, never saved' }),
  }).openapi('RetentionDraft');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/retention/preview', access: 'read', tags: ['retention'],
    summary: 'The dry run of GET /api/v1/retention for a policy not saved yet: what it would keep and delete now, and why',
    description: 'For a settings form previewing as the user types. The target\'s backups are decided by the same code as a saved policy; nothing is saved, deleted or recorded.',
    request: body(Draft),
    responses: { 200: json(Preview) },
  }, async (c) => {
    const server = c.get('server');
    const { target, policy } = c.req.valid('json');
    const loaded = server.loaded();
    const current = loaded.config.targets[target];
    if (!current) throw new LifeboatError('E_NOT_FOUND', `no target named "${target}"`, { hint: `targets: ${Object.keys(loaded.config.targets).join(', ') || 'none'}` });
    const parsed = policy === null ? undefined : targetSchema.shape.retention.unwrap().safeParse(policy);
    if (parsed && !parsed.success) {
      throw new LifeboatError('E_CONFIG', parsed.error.issues.map((i) => `retention${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`).join('\n'), { hint: 'README.md ("Retention") lists the rules' });
    }
    // The same preview as a saved policy gets, over a copy of the configuration holding the draft.
    const draft = { ...loaded, config: { ...loaded.config, targets: { ...loaded.config.targets, [target]: { ...current, retention: parsed?.data } } } };
    const [item] = await retentionPreview(draft, server.catalog, { target });
    return c.json(item!, 200);
  });
}
