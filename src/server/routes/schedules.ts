import { z } from '@hono/zod-openapi';
import { runBackupFlow } from '../../jobs/backup-flow.ts';
import { nextFireTimes } from '../../reports/schedule-preview.ts';
import { addSchedule, editSchedule, getSchedule, listSchedules, removeSchedule, timeZone } from '../../scheduler/schedule-admin.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';
import { startJob } from './jobs.ts';

const ScheduleSchema = z.object({
  id: z.number(), target: z.string(), spec: z.string(), cron: z.string(), timezone: z.string(), paused: z.boolean(),
  configKey: z.string().nullable(), cursorAt: z.string().nullable(), next: z.string().nullable(), source: z.enum(['file', 'api']),
}).openapi('Schedule');

const IdParam = z.object({ id: z.coerce.number().int().positive().openapi({ param: { name: 'id', in: 'path' } }) });

/** The daemon's schedules: list, preview, add, edit, pause, resume, remove, run now. */
export function registerSchedules(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/schedules', access: 'read', tags: ['schedules'],
    summary: 'Every schedule with its next run; `source: file` ones come from lifeboat.yaml',
    responses: { 200: json(z.object({ items: z.array(ScheduleSchema) })) },
  }, (c) => {
    const server = c.get('server');
    return c.json({ items: listSchedules(server.loaded(), server.catalog) }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/schedules/preview', access: 'read', tags: ['schedules'],
    summary: 'The next fire times of a cron expression or preset, for a form to show before saving',
    request: { query: z.object({ spec: z.string().min(1).max(200).openapi({ example: 'daily at 02:00' }), timezone: z.string().max(64).optional(), count: z.coerce.number().int().min(1).max(20).default(5) }) },
    responses: { 200: json(z.object({ spec: z.string(), cron: z.string(), timezone: z.string(), next: z.array(z.string()) })) },
  }, (c) => {
    const q = c.req.valid('query');
    const f = nextFireTimes(q.spec, timeZone(q.timezone), q.count, new Date());
    return c.json({ spec: f.spec, cron: f.cron, timezone: f.timezone, next: f.times }, 200);
  });

  const NewSchedule = z.strictObject({ target: z.string().min(1).max(200), spec: z.string().min(1).max(200).openapi({ description: 'a cron expression or a preset: hourly, "daily at 02:00", "weekly on sunday at 03:00", "monthly on day 1"' }), timezone: z.string().max(64).optional() }).openapi('NewSchedule');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/schedules', access: 'config.write', tags: ['schedules'],
    summary: 'Add a schedule', request: body(NewSchedule),
    responses: { 201: json(ScheduleSchema) },
  }, async (c) => {
    const server = c.get('server');
    const s = c.req.valid('json');
    const made = await audited(c, 'schedule.add', s.target, () => addSchedule(server.loaded(), server.catalog, s), (r) => ({ id: r.id, spec: r.spec, timezone: r.timezone }));
    return c.json(getSchedule(server.loaded(), server.catalog, made.id), 201);
  });

  const Change = z.strictObject({ spec: z.string().min(1).max(200).optional(), timezone: z.string().max(64).optional(), paused: z.boolean().optional() }).openapi('ScheduleChange');
  defineRoute(api, table, {
    method: 'patch', path: '/api/v1/schedules/{id}', access: 'config.write', tags: ['schedules'],
    summary: 'Change a schedule\'s expression or zone, or pause or resume it',
    request: { params: IdParam, ...body(Change) },
    responses: { 200: json(ScheduleSchema) },
  }, async (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    const change = c.req.valid('json');
    const action = change.spec === undefined && change.timezone === undefined && change.paused !== undefined ? (change.paused ? 'schedule.pause' : 'schedule.resume') : 'schedule.edit';
    await audited(c, action, String(id), () => editSchedule(server.loaded(), server.catalog, id, change), () => change);
    return c.json(getSchedule(server.loaded(), server.catalog, id), 200);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/schedules/{id}', access: 'config.write', tags: ['schedules'],
    summary: 'Remove a schedule added here (one from lifeboat.yaml: 409, remove it there or pause it)',
    request: { params: IdParam },
    responses: { 200: json(z.object({ id: z.number(), removed: z.literal(true) })) },
  }, async (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    await audited(c, 'schedule.remove', String(id), () => removeSchedule(server.loaded(), server.catalog, id));
    return c.json({ id, removed: true as const }, 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/schedules/{id}/run', access: 'backup', tags: ['schedules'],
    summary: 'Run a schedule\'s backup now (with its check and retention), as the daemon would',
    request: { params: IdParam },
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const s = getSchedule(server.loaded(), server.catalog, c.req.valid('param').id);
    return startJob(c, 'schedule.run', String(s.id), 'backup', (listener, signal) => runBackupFlow(server.loaded(), server.catalog, s.target, { trigger: 'schedule', signal, listener }), (r) => ({ backupId: r.backup.id, schedule: s.id }));
  });
}
