import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { asLifeboatError, type ErrorCode, LifeboatError } from '../errors.ts';

/** The HTTP status an error code answers with; anything not listed is the operation failing (500). */
const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  E_USAGE: 400,
  E_CONFIG: 400,
  E_AMBIGUOUS: 400,
  E_NOT_FOUND: 404,
  E_UNAUTHENTICATED: 401,
  E_FORBIDDEN: 403,
  E_CONFLICT: 409,
  E_LOCKED: 409,
  E_RESTORE_CHECK: 409,
  E_TOO_LARGE: 413,
  E_RATE_LIMITED: 429,
  E_PG_CONNECT: 502,
  E_PG_AUTH: 502,
  E_STORAGE_UNREACHABLE: 502,
  E_STORAGE_AUTH: 502,
};

const TITLE: Record<number, string> = {
  400: 'Bad request', 401: 'Not signed in', 403: 'Not allowed', 404: 'Not found', 409: 'Conflict',
  413: 'Body too large', 429: 'Too many requests', 500: 'Operation failed', 502: 'A server Lifeboat uses did not answer',
};

/** RFC 9457 problem details, carrying Lifeboat's error code, message and hint. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  hint?: string;
  /** 400 from validation: each wrong field, and what was expected. */
  errors?: { path: string; message: string }[];
}

export function statusOf(e: LifeboatError): ContentfulStatusCode {
  return STATUS[e.code] ?? 500;
}

/**
 * The problem document for an error. An internal error says only that it happened and where to
 * look: its message may carry paths or SQL, which stay in the server's log.
 */
export function problemOf(err: unknown, extra: Partial<Problem> = {}): Problem {
  const e = asLifeboatError(err);
  const status = statusOf(e);
  const internal = e.code === 'E_INTERNAL';
  return {
    type: `https://lifeboat.dev/problems/${e.code.slice(2).toLowerCase().replaceAll('_', '-')}`,
    title: TITLE[status] ?? 'Error',
    status,
    detail: internal ? 'an internal error happened; the server log has the details' : e.message,
    code: e.code,
    ...(e.hint && !internal ? { hint: e.hint } : {}),
    ...extra,
  };
}

export function problemResponse(c: Context, err: unknown, extra: Partial<Problem> = {}, headers: Record<string, string> = {}): Response {
  const p = problemOf(err, extra);
  return c.body(JSON.stringify(p), p.status as ContentfulStatusCode, { 'content-type': 'application/problem+json', ...headers });
}
