import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AuditAction } from '../../audit/audit.ts';
import { LifeboatError } from '../../errors.ts';
import type { JobListener } from '../../jobs/job.ts';
import { getJob, listJobs } from '../../reports/jobs.ts';
import { defineRoute, json, type Api, type RouteEntry, type ServerEnv } from '../api.ts';
import { audited } from '../audit.ts';
import type { JobEvent } from '../job-hub.ts';
import { IdParam, JobSchema } from '../schemas.ts';

/**
 * Starts a long operation for a request: records it in the audit log, answers 202 with the job
 * and its `Location`. What fails before a job exists (a bad target, a held lock) is the answer.
 */
export async function startJob<T>(c: Context<ServerEnv>, action: AuditAction, object: string, kind: string, run: (listener: JobListener, signal: AbortSignal) => Promise<T>, shape: (r: T) => unknown): Promise<Response> {
  const server = c.get('server');
  const { jobId } = await audited(c, action, object, () => server.hub.start(kind, run, shape), (r) => ({ job: r.jobId }));
  const location = `/api/v1/jobs/${jobId}`;
  return c.json({ jobId, location }, 202, { location });
}

/** Jobs: list, one with its log, its events as they happen (SSE), cancel. */
export function registerJobs(api: Api, table: RouteEntry[]): void {
  const Query = z.object({
    state: z.enum(['running', 'succeeded', 'failed', 'cancelled']).optional(),
    kind: z.string().max(40).optional(),
    target: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(400).optional(),
  });
  defineRoute(api, table, {
    method: 'get', path: '/api/v1/jobs', access: 'read', tags: ['jobs'],
    summary: 'Jobs, newest first',
    request: { query: Query },
    responses: { 200: json(z.object({ items: z.array(JobSchema), nextCursor: z.string().nullable() })) },
  }, (c) => c.json(listJobs(c.get('server').catalog, c.req.valid('query')), 200));

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/jobs/{id}', access: 'read', tags: ['jobs'],
    summary: 'One job: its state, progress, log lines and, for one the API started, its result',
    request: { params: IdParam },
    responses: { 200: json(JobSchema) },
  }, (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    return c.json({ ...getJob(server.catalog, id), outcome: server.hub.get(id)?.outcome ?? null }, 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/jobs/{id}/cancel', access: 'backup', tags: ['jobs'],
    summary: 'Ask a running job the API started to stop; it cleans up and ends as cancelled',
    request: { params: IdParam },
    responses: { 202: json(z.object({ cancelling: z.literal(true) }), 'Asked: follow the job to its end') },
  }, async (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    await audited(c, 'job.cancel', id, () => {
      getJob(server.catalog, id, { logAfter: Number.MAX_SAFE_INTEGER });
      if (!server.hub.cancel(id)) throw new LifeboatError('E_CONFLICT', `job ${id} is not running in this server`, { hint: 'a job started from the CLI stops with Ctrl-C where it runs' });
    });
    return c.json({ cancelling: true as const }, 202);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/jobs/{id}/events', access: 'read', tags: ['jobs'],
    summary: 'The job as server-sent events: `progress`, `log`, and a final `done` (state and result)',
    description: 'What happened before the client connected is sent first (every log line, the latest progress); `Last-Event-ID` resumes after an event. A client that disconnects never affects the job. A job this server did not start (the CLI, another process) is followed from the catalog.',
    request: { params: IdParam },
    responses: { 200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } } },
  }, (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    getJob(server.catalog, id, { logAfter: Number.MAX_SAFE_INTEGER });
    const after = Number(c.req.header('last-event-id') ?? 0) || 0;
    return streamSSE(c, async (sse) => {
      const send = (e: JobEvent) => sse.write(e.text);
      const live = server.hub.get(id);
      if (live) {
        const queue: JobEvent[] = [];
        let wake: (() => void) | undefined;
        const unsubscribe = server.hub.subscribe(id, (e) => {
          queue.push(e);
          wake?.();
        });
        let last = after;
        for (const e of live.replay(after)) {
          await send(e);
          last = e.seq;
        }
        if (!unsubscribe) return;
        sse.onAbort(() => {
          unsubscribe();
          wake?.();
        });
        for (;;) {
          while (queue.length) {
            const e = queue.shift()!;
            if (e.seq <= last) continue;
            await send(e);
            last = e.seq;
            if (e.event === 'done') return unsubscribe();
          }
          if (sse.aborted || server.stopping.aborted) return unsubscribe();
          await new Promise<void>((r) => {
            wake = r;
            const t = setTimeout(r, 15_000);
            t.unref();
          });
          wake = undefined;
          if (!queue.length && !sse.aborted) await sse.write(': keep-alive\n\n');
        }
      }
      // Not started here: follow the catalog, once a second, until the job ends.
      let seq = after;
      let lastProgress = '';
      for (;;) {
        for (const line of server.catalog.jobLogSince(id, seq)) {
          seq = line.seq;
          await sse.writeSSE({ id: String(line.seq), event: 'log', data: JSON.stringify({ level: line.level, message: line.message, at: line.at }) });
        }
        const job = getJob(server.catalog, id, { logAfter: Number.MAX_SAFE_INTEGER });
        const progress = JSON.stringify(job.progress ?? null);
        if (job.progress && progress !== lastProgress) {
          lastProgress = progress;
          await sse.writeSSE({ event: 'progress', data: progress });
        }
        if (job.state !== 'running') {
          await sse.writeSSE({ event: 'done', data: JSON.stringify({ state: job.state, ...(job.error ? { error: { detail: job.error } } : {}) }) });
          return;
        }
        if (sse.aborted || server.stopping.aborted) return;
        await sse.sleep(1000);
      }
    });
  });
}
