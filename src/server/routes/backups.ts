import { z } from '@hono/zod-openapi';
import { stream } from 'hono/streaming';
import { LifeboatError } from '../../errors.ts';
import { manifestFields } from '../../bundle/manifest-schema.ts';
import { VerifyReportSchema } from '../report-schemas.ts';
import { runBackupFlow } from '../../jobs/backup-flow.ts';
import { readOrder } from '../../jobs/copies.ts';
import { cancelDeletion, protectBackup, unprotectBackup } from '../../jobs/protection.ts';
import { runDelete } from '../../jobs/prune.ts';
import { runVerify } from '../../jobs/verify.ts';
import { openStorage } from '../../storage/storage.ts';
import { body, defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { audited } from '../audit.ts';
import { BackupParam, BackupSchema, NameParam } from '../schemas.ts';
import { startJob } from './jobs.ts';

/** Backups: start, read, protect, delete, verify, download. */
export function registerBackups(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/targets/{name}/backups', access: 'backup', tags: ['backups'],
    summary: 'Start a backup of a target (with its check and retention, as the scheduler runs it)',
    description: 'The external trigger of a scheduler-less setup: a token with scope `backup`. Answers 202 with the job; 409 when a backup of the target is running.',
    request: { params: NameParam },
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const { name } = c.req.valid('param');
    const server = c.get('server');
    const loaded = server.loaded();
    if (!loaded.config.targets[name]) throw new LifeboatError('E_NOT_FOUND', `no target named "${name}"`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ') || 'none'}` });
    const holder = server.catalog.lockHolder(`backup:${name}`);
    if (holder) throw new LifeboatError('E_CONFLICT', `a backup of target "${name}" is running (job ${holder.jobId}, since ${holder.since})`, { hint: `follow it: GET /api/v1/jobs/${holder.jobId}` });
    return startJob(c, 'backup.start', name, 'backup', (listener, signal) => runBackupFlow(server.loaded(), server.catalog, name, { trigger: 'api', signal, listener }), (r) => ({
      backupId: r.backup.id, size: r.backup.size, check: r.check ? { ok: r.check.ok } : null, checkSkipped: r.checkSkipped ?? null, pruneError: r.pruneError ?? null,
    }));
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}', access: 'read', tags: ['backups'],
    summary: 'One backup: its record and its manifest (without the member list)',
    request: { params: BackupParam },
    responses: { 200: json(z.object({ backup: BackupSchema, manifest: manifestFields.omit({ members: true }).nullable().openapi('Manifest', { description: 'as manifest.json holds it, without the member list; null for a backup with none (failed, running)' }) })) },
  }, (c) => {
    const { catalog } = c.get('server');
    const b = catalog.resolveBackup(c.req.valid('param').id);
    const m = catalog.getManifest(b.id);
    return c.json({ backup: b, manifest: m ? { ...m, members: undefined } : null }, 200);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/verifications', access: 'read', tags: ['backups'],
    summary: 'A backup\'s verification reports, newest first: every check with what was expected and found',
    request: { params: BackupParam, query: z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }) },
    responses: { 200: json(z.object({ items: z.array(z.object({ id: z.string(), level: z.enum(['quick', 'full']), startedAt: z.string(), finishedAt: z.string(), ok: z.boolean(), report: VerifyReportSchema })) })) },
  }, (c) => {
    const { catalog } = c.get('server');
    const b = catalog.resolveBackup(c.req.valid('param').id);
    // The report as runVerify wrote it.
    const items = catalog.listVerifications(b.id, c.req.valid('query').limit).map((v) => ({ ...v, report: v.report as z.infer<typeof VerifyReportSchema> }));
    return c.json({ items }, 200);
  });

  const Protect = z.strictObject({ days: z.number().positive().optional().openapi({ description: 'only for this many days; default until unprotected' }) }).openapi('ProtectRequest');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/protect', access: 'protect', tags: ['backups'],
    summary: 'Keep a backup whatever retention says (and cancel a pending deletion)',
    request: { params: BackupParam, ...body(Protect) },
    responses: { 200: json(BackupSchema) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const { id } = c.req.valid('param');
    const { days } = c.req.valid('json');
    return c.json(await audited(c, 'backup.protect', id, () => protectBackup(catalog, id, days), (b) => ({ backup: b.id, until: b.protectedUntil })), 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/unprotect', access: 'protect', tags: ['backups'],
    summary: 'Let retention decide about a backup again',
    request: { params: BackupParam },
    responses: { 200: json(BackupSchema) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const { id } = c.req.valid('param');
    return c.json(await audited(c, 'backup.unprotect', id, () => unprotectBackup(catalog, id)), 200);
  });

  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/cancel-deletion', access: 'protect', tags: ['backups'],
    summary: 'Keep a backup whose deletion is pending (it becomes protected)',
    request: { params: BackupParam },
    responses: { 200: json(BackupSchema) },
  }, async (c) => {
    const { catalog } = c.get('server');
    const { id } = c.req.valid('param');
    return c.json(await audited(c, 'backup.cancel-deletion', id, () => cancelDeletion(catalog, id)), 200);
  });

  defineRoute(api, table, {
    method: 'delete', path: '/api/v1/backups/{id}', access: 'delete', tags: ['backups'],
    summary: 'Delete a backup now, from every storage (409 when it is protected)',
    request: { params: BackupParam },
    responses: { 200: json(BackupSchema) },
  }, async (c) => {
    const server = c.get('server');
    const { id } = c.req.valid('param');
    return c.json(await audited(c, 'backup.delete', id, () => runDelete(server.loaded(), server.catalog, id)), 200);
  });

  const Verify = z.strictObject({ level: z.enum(['quick', 'full']).default('full').openapi({ description: 'quick: every checksum; full: a test restore into a scratch database' }) }).openapi('VerifyRequest');
  defineRoute(api, table, {
    method: 'post', path: '/api/v1/backups/{id}/verify', access: 'verify', tags: ['backups'],
    summary: 'Verify a backup now: checksums (quick) or a real test restore (full)',
    request: { params: BackupParam, ...body(Verify) },
    responses: { 202: json(JobStartedSchema, 'Started: follow the job') },
  }, async (c) => {
    const server = c.get('server');
    const b = server.catalog.resolveBackup(c.req.valid('param').id);
    const { level } = c.req.valid('json');
    return startJob(c, 'verify.run', b.id, 'verify', (listener, signal) => runVerify(server.loaded(), server.catalog, b.id, { quick: level === 'quick', signal, listener, trigger: 'api' }), (r) => r);
  });

  defineRoute(api, table, {
    method: 'get', path: '/api/v1/backups/{id}/download', access: 'download', tags: ['backups'],
    summary: 'The bundle as stored (encrypted if the target encrypts), with HTTP Range',
    request: { params: BackupParam },
    responses: { 200: { description: 'The bundle', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } }, 206: { description: 'The requested range', content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } }, 416: { description: 'The range is outside the bundle' } },
  }, async (c) => {
    const server = c.get('server');
    const loaded = server.loaded();
    const b = server.catalog.resolveBackup(c.req.valid('param').id);
    const location = b.status === 'ok' || b.status === 'degraded' ? readOrder(loaded, b)[0] : undefined;
    if (!location) throw new LifeboatError('E_CONFLICT', `backup ${b.id} is ${b.status}: no stored copy can be downloaded`);
    const storage = await openStorage(location.storage, loaded.config.storages[location.storage]!);
    const stat = await storage.stat(location.key);
    if (!stat) {
      await storage.close();
      throw new LifeboatError('E_STORAGE_NOT_FOUND', `the copy of ${b.id} on ${location.storage} is missing`, { hint: `\`lifeboat verify ${b.id}\` checks every copy` });
    }
    const size = stat.size;
    const range = parseRange(c.req.header('range'), size);
    if (range === 'invalid') {
      await storage.close();
      return c.body(null, 416, { 'content-range': `bytes */${size}` });
    }
    await audited(c, 'backup.download', b.id, () => undefined, () => ({ storage: location.storage, range: range ? `${range.start}-${range.end}` : 'all' }));
    const name = location.key.split('/').at(-1)!;
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
      'accept-ranges': 'bytes',
      'content-length': String(range ? range.end - range.start + 1 : size),
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${size}` } : {}),
      ...(b.sha256 && !range ? { 'x-lifeboat-sha256': b.sha256 } : {}),
    };
    c.status(range ? 206 : 200);
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    return stream(c, async (out) => {
      const abort = new AbortController();
      out.onAbort(() => abort.abort());
      try {
        const source = await storage.get(location.key, { ...(range ?? {}), signal: abort.signal });
        for await (const chunk of source) await out.write(chunk as Uint8Array);
      } catch (err) {
        if (!abort.signal.aborted) server.log('warn', `download of ${b.id} broke off: ${(err as Error).message}`);
      } finally {
        await storage.close();
      }
    });
  });
}

/** One `bytes=start-end` range (the only form download managers send); undefined: the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'invalid' {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? 'invalid' : { start, end };
}
