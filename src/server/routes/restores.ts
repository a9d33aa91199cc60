import { z } from '@hono/zod-openapi';
import { LifeboatError } from '../../errors.ts';
import { decodeCursor, encodeCursor } from '../../reports/cursor.ts';
import { runRestore, type RestorePlan } from '../../jobs/restore.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';
import { boundRequest, checkPlanToken, issuePlanToken, planDigest } from '../restore-token.ts';
import { RestorePlanSchema, RestoreRecordSchema } from '../report-schemas.ts';
import { startJob } from './jobs.ts';

const RestoreRequest = z.strictObject({
  backup: z.string().min(1).max(200).openapi({ description: 'backup id or a unique prefix of it' }),
  databases: z.array(z.string().min(1)).optional().openapi({ description: 'only these databases (names in the backup)' }),
  to: z.string().optional().openapi({ description: 'a database URL (one database) or a server URL without one (every database under its own name)' }),
  tables: z.array(z.string().min(1)).optional().openapi({ description: 'only these tables (schema.table) of the one database named' }),
  renameTo: z.string().optional().openapi({ description: 'restore the one table beside the live one under this name' }),
  files: z.array(z.string().min(1)).optional().openapi({ description: 'only these files: a set name, set:/path or /path' }),
  toDir: z.string().optional().openapi({ description: 'restore files under this directory instead of their original places' }),
  globals: z.boolean().optional().openapi({ description: 'also restore roles and tablespaces (existing ones are kept)' }),
  force: z.boolean().optional().openapi({ description: 'restore despite overridable check failures (schema or version differences)' }),
  trustForeign: z.boolean().optional().openapi({ description: 'restore a backup no key of this installation vouches for' }),
  noOwner: z.boolean().optional().openapi({ description: 'skip ownership and grants' }),
  dryRun: z.boolean().optional().openapi({ description: 'true: answer the plan and a planToken, change nothing' }),
  planToken: z.string().max(2000).optional().openapi({ description: 'from the dry run of the same request, made within the last 10 minutes' }),
  confirm: z.literal('RESTORE').optional().openapi({ description: 'required when the plan replaces existing data' }),
}).openapi('RestoreRequest');

const PlanAnswer = z.object({
  plan: RestorePlanSchema.openapi({ description: 'the same plan object as `lifeboat restore --dry-run --json`' }),
  planToken: z.string().nullable().openapi({ description: 'send it back to run exactly this plan; null when the plan is refused' }),
  refused: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }).nullable(),
}).openapi('RestorePlanAnswer');

/** Restores over HTTP: plan (a dry run binding a planToken), then run exactly that plan. */
export function registerRestores(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/restores', access: 'restore', tags: ['restores'],
    summary: 'Plan a restore (dryRun: true), or run a plan made within 10 minutes',
    description: 'Two steps, so what the user read is what runs. 1: `dryRun: true` answers the plan and a `planToken`. 2: the same request with the `planToken` (and `confirm: "RESTORE"` when the plan replaces data) answers 202 with the job. A plan that changed since (a new table on the target, another backup), a token older than 10 minutes or made for another request: 409.',
    request: body(RestoreRequest),
    responses: { 200: json(PlanAnswer, 'The plan (dry run)'), 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const req = c.req.valid('json');
    const principal = c.get('principal')!;
    const options = {
      databases: req.databases, to: req.to, tables: req.tables, renameTo: req.renameTo, files: req.files, toDir: req.toDir, globals: req.globals,
      force: req.force, trustForeign: req.trustForeign, noOwner: req.noOwner, requestedBy: principal.actor, trigger: 'api' as const,
    };
    const bound = boundRequest(req);
    if (req.dryRun) {
      if (req.planToken || req.confirm) throw new LifeboatError('E_USAGE', 'a dry run takes neither planToken nor confirm');
      const { plan, refusal } = await audited(c, 'restore.plan', req.backup, () => runRestore(server.loaded(), server.catalog, req.backup, { ...options, dryRun: true }), (r) => ({ backup: r.plan.backupId, ...summary(r.plan), refused: r.refusal?.message }));
      return c.json({ plan, planToken: refusal ? null : issuePlanToken(server.planKey, bound, plan), refused: refusal ? { code: refusal.code, message: refusal.message, hint: refusal.hint } : null }, 200);
    }
    if (!req.planToken) throw new LifeboatError('E_USAGE', 'a restore runs only a plan the user has read: send the planToken of a dry run', { hint: 'POST the same request with "dryRun": true first' });
    const token = checkPlanToken(server.planKey, req.planToken, bound);
    if (token.replacesData && req.confirm !== 'RESTORE') throw new LifeboatError('E_USAGE', 'this plan replaces existing data: send "confirm": "RESTORE" with it');
    const backup = server.catalog.resolveBackup(req.backup);
    return startJob(c, 'restore.run', backup.id, 'restore', (listener, signal) => runRestore(server.loaded(), server.catalog, req.backup, {
      ...options, yes: true, signal, listener,
      approve: (plan) => {
        if (planDigest(plan) !== token.digest) throw new LifeboatError('E_CONFLICT', 'the plan changed since it was read (the target or the backup is not as it was)', { hint: 'make the plan again, read it, and run the new one' });
      },
    }), (r) => ({ backupId: r.plan.backupId, safetyBackupId: r.report?.safetyBackupId ?? null, undo: r.report?.undo ?? null, restored: r.report?.restored ?? [], tables: r.report?.tables ?? [], files: r.report?.files.length ?? 0 }));
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/restores', access: 'read', tags: ['restores'],
    summary: 'Restore history, newest first, a page at a time (keyset cursor)',
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(500).optional().openapi({ description: 'nextCursor of the previous page' }) }) },
    responses: { 200: json(z.object({ items: z.array(RestoreRecordSchema), nextCursor: z.string().nullable() })) },
  }, (c) => {
    const { limit, cursor } = c.req.valid('query');
    const before = cursor === undefined ? undefined : decodeCursor('restores', cursor, ['string', 'string']) as [string, string];
    // One more than asked tells whether another page follows.
    const rows = c.get('server').catalog.listRestores(limit + 1, before && { startedAt: before[0], id: before[1] });
    const items = rows.slice(0, limit);
    const last = items.at(-1);
    return c.json({ items, nextCursor: rows.length > limit && last ? encodeCursor('restores', [last.startedAt, last.id]) : null }, 200);
  });
}

/** What a plan does, in a few words for the audit log. */
function summary(plan: RestorePlan): Record<string, unknown> {
  return {
    databases: plan.databases.map((d) => `${d.action} ${d.database} on ${d.server}`),
    tables: plan.tables.map((t) => `${t.action} ${t.table}`),
    files: plan.files.length,
    replacesData: plan.replacesData,
  };
}
