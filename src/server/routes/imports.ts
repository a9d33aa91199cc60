import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { z } from '@hono/zod-openapi';
import { formatFromName } from '../../bundle/codec.ts';
import { LifeboatError } from '../../errors.ts';
import { importBundle } from '../../jobs/import.ts';
import { Job } from '../../jobs/job.ts';
import { createTempDir, removeTempDir } from '../../jobs/resources.ts';
import { defineRoute, json, JobStartedSchema, type Api, type RouteEntry } from '../api.ts';
import { startJob } from './jobs.ts';

/** The path whose body streams to disk, past the JSON body limit. */
export const IMPORT_PATH = '/api/v1/backups/import';

/** Import: a bundle made elsewhere, uploaded, checked, stored and catalogued. */
export function registerImports(api: Api, table: RouteEntry[]): void {
  defineRoute(api, table, {
    method: 'post', path: IMPORT_PATH, access: 'import', tags: ['backups'],
    summary: 'Import a bundle made elsewhere: the body is the bundle file; checked, stored, catalogued',
    description: 'The body streams to the server\'s temp directory; then a job checks every checksum, stores it and catalogs it. It is trusted only when a key of this installation vouches for it; else refused unless `trustForeign=true`, and then listed as untrusted.',
    request: {
      query: z.object({
        filename: z.string().min(1).max(255).openapi({ description: 'the bundle\'s file name, which says its format: .tar, .tar.zst or .tar.gz, optionally .age', example: 'app-20261207T020000Z.tar.zst.age' }),
        storage: z.string().max(200).optional().openapi({ description: 'where to store it; default the primary storage of its target' }),
        trustForeign: z.enum(['true', 'false']).optional(),
      }),
      body: { required: true, content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } } },
    },
    responses: { 202: json(JobStartedSchema, 'Uploaded; the check and import run as a job') },
  }, async (c) => {
    const server = c.get('server');
    const q = c.req.valid('query');
    const name = path.basename(q.filename);
    if (name !== q.filename) throw new LifeboatError('E_USAGE', `filename ${q.filename}: a file name, not a path`);
    formatFromName(name);
    const body = c.req.raw.body;
    if (!body) throw new LifeboatError('E_USAGE', 'the body is empty: send the bundle file');
    const dir = await createTempDir(server.loaded(), 'import-');
    const file = path.join(dir, name);
    try {
      await pipeline(Readable.fromWeb(body as never), createWriteStream(file, { mode: 0o600 }));
    } catch (err) {
      await removeTempDir(dir);
      throw new LifeboatError('E_USAGE', `the upload broke off: ${(err as Error).message}`, { hint: 'nothing was imported' });
    }
    try {
      return await startJob(c, 'backup.import', name, 'import', (listener, signal) =>
        Job.run(server.catalog, { kind: 'import', trigger: 'api' }, listener, signal, async (job) => {
          try {
            const r = await importBundle(server.loaded(), server.catalog, file, { storage: q.storage, trustForeign: q.trustForeign === 'true', signal });
            job.log('info', `imported ${r.id} into ${r.storage} as ${r.key} (${r.trust})`);
            return r;
          } finally {
            await removeTempDir(dir);
          }
        }), (r) => r);
    } catch (err) {
      await removeTempDir(dir);
      throw err;
    }
  });
}
