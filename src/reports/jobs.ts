import type { Catalog, JobFilter } from '../catalog/catalog.ts';
import type { Row } from '../catalog/store.ts';
import { LifeboatError } from '../errors.ts';
import { decodeCursor, encodeCursor, pageLimit } from './cursor.ts';

export type JobState = NonNullable<JobFilter['state']>;
const STATES: readonly JobState[] = ['running', 'succeeded', 'failed', 'cancelled'];

/** One job as lists show it. */
export interface JobSummary {
  id: string;
  /** backup, restore, verify, prune, delete, replicate, ... */
  kind: string;
  target: string | null;
  backupId: string | null;
  trigger: string;
  state: JobState;
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** The last progress saved (at most once a second while it runs): phase, done, total, unit. */
  progress: unknown;
}

/** A job with its log lines; `seq` numbers them from 1, so a stream can resume after one. */
export interface JobDetail extends JobSummary {
  log: { seq: number; at: string; level: string; message: string }[];
}

export interface JobQuery extends JobFilter {
  /** 1 to 200; default 50. */
  limit?: number;
  cursor?: string;
}

/** Jobs, newest first, filtered and paged by keyset cursor: `GET /api/v1/jobs`. */
export function listJobs(catalog: Catalog, q: JobQuery = {}): { items: JobSummary[]; nextCursor: string | null } {
  if (q.state !== undefined && !STATES.includes(q.state)) throw new LifeboatError('E_USAGE', `state "${String(q.state)}": use one of ${STATES.join(', ')}`);
  const limit = pageLimit(q.limit);
  const after = q.cursor === undefined ? undefined : (decodeCursor('jobs', q.cursor, ['string', 'string']) as [string, string]);
  const rows = catalog.jobPage({ state: q.state, kind: q.kind, target: q.target }, after, limit + 1);
  const items = rows.slice(0, limit).map(toJob);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor('jobs', [last.startedAt, last.id]) : null };
}

/**
 * One job with its log lines after `logAfter` (default: all of them): `GET /api/v1/jobs/:id`.
 * E_NOT_FOUND for an unknown id.
 */
export function getJob(catalog: Catalog, id: string, options: { logAfter?: number } = {}): JobDetail {
  const row = catalog.jobRow(id);
  if (!row) throw new LifeboatError('E_NOT_FOUND', `no job ${id}`, { hint: 'list jobs with GET /api/v1/jobs' });
  return { ...toJob(row), log: catalog.jobLogSince(id, options.logAfter ?? 0) };
}

function toJob(r: Row): JobSummary {
  return {
    id: String(r.id), kind: String(r.kind), target: (r.target as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null,
    trigger: String(r.trigger), state: r.status as JobState, startedAt: String(r.started_at), finishedAt: (r.finished_at as string | null) ?? null,
    error: (r.error as string | null) ?? null, progress: r.progress_json ? (JSON.parse(String(r.progress_json)) as unknown) : null,
  };
}
