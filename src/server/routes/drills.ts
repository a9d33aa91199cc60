import { z } from '@hono/zod-openapi';
import { LifeboatError } from '../../errors.ts';
import { runDrill } from '../../jobs/drill.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { DrillReportSchema } from '../report-schemas.ts';
import { BackupParam } from '../schemas.ts';
import { startJob } from './jobs.ts';

const DrillSchema = z.object({
  id: z.string().openapi({ description: 'the drill\'s job id' }),
  backupId: z.string(),
  target: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  ok: z.boolean(),
  rtoMs: z.number().nullable().openapi({ description: 'the sum of the phases; null when the drill stopped before restoring' }),
  phases: DrillReportSchema.shape.phases,
  bundleSize: z.number().nullable(),
  storage: z.string().nullable(),
  tools: z.record(z.string(), z.string()).openapi({ description: 'first line of `--version` of each tool used' }),
  report: DrillReportSchema,
}).openapi('Drill');

/** Bare-metal drills of a backup: run one, read the history. */
export function registerDrills(api: Api, table: RouteEntry[]): void {
  const Start = z.strictObject({ jobs: z.number().int().min(1).max(64).default(2).openapi({ description: 'restore.sh --jobs' }) }).openapi('DrillRequest');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/drills', access: 'verify', tags: ['backups'],
    summary: 'Run the bare-metal drill of a backup: restore.sh in a clean room, timed (RTO)',
    description: 'Fetches the bundle, unpacks it with the system\'s tools, runs its restore.sh with an empty environment into a throwaway cluster and an empty files root, and compares the result with the manifest. Answers 202 with the job; its result is the drill\'s report.',
    request: { params: BackupParam, ...body(Start) },
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const b = server.catalog.resolveBackup(c.req.valid('param').id);
    if (b.status !== 'ok' && b.status !== 'degraded') throw new LifeboatError('E_CONFLICT', `backup ${b.id} is ${b.status}: there is nothing to drill`);
    const { jobs } = c.req.valid('json');
    return startJob(c, 'drill.run', b.id, 'drill', (listener, signal) => runDrill(server.loaded(), server.catalog, b.id, { jobs, signal, listener, trigger: 'api' }), (r) => r);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/drills', access: 'read', tags: ['backups'],
    summary: 'A backup\'s drills, newest first: verdict, RTO and its split, bundle size, tools\' versions',
    request: { params: BackupParam, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: json(z.object({ items: z.array(DrillSchema) })) },
  }, (c) => {
    const { catalog } = c.get('server');
    const b = catalog.resolveBackup(c.req.valid('param').id);
    // The report as runDrill wrote it.
    const items = catalog.listDrills(b.id, c.req.valid('query').limit).map((d) => ({ ...d, report: d.report as z.infer<typeof DrillReportSchema> }));
    return c.json({ items }, 200);
  });
}
