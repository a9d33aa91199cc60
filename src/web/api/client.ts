// The one way the UI reaches the server: /api/v1, typed from the server's OpenAPI document
// (schema.gen.ts, written by scripts/gen-api-types.ts), so a server change that breaks a screen
// fails `npm run typecheck`.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.gen.ts';

export type { components, paths };
/** A schema of the API by name, e.g. `Schema<'Backup'>`. */
export type Schema<K extends keyof components['schemas']> = components['schemas'][K];

/** RFC 9457 problem details as the server sends them: the error code, message and hint. */
export interface Problem {
  title: string;
  status: number;
  detail: string;
  code: string;
  hint?: string;
  errors?: { path: string; message: string }[];
}

/** A refused or failed request, carrying the server's own message and hint. */
export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
}

let csrfToken: string | undefined;
/** The session's CSRF token: sent with every request that changes something. */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

const listeners = new Set<() => void>();
/** Called when a request answers 401 (the session expired or was ended elsewhere). */
export function onSignedOut(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

const session: Middleware = {
  onRequest({ request }) {
    if (csrfToken && !['GET', 'HEAD'].includes(request.method)) request.headers.set('x-csrf-token', csrfToken);
    return request;
  },
  onResponse({ response, request }) {
    // Signing in with a wrong password is a 401 too, but not a lost session.
    if (response.status === 401 && !request.url.endsWith('/api/v1/session')) for (const l of listeners) l();
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(session);

/** A problem from whatever a failed request answered (a proxy's HTML page included). */
export function toProblem(error: unknown, response: Response): Problem {
  if (error && typeof error === 'object' && 'detail' in error && 'code' in error) return error as Problem;
  return { title: response.statusText || 'Error', status: response.status, detail: `the server answered ${response.status} ${response.statusText}`.trim(), code: 'E_HTTP' };
}

/**
 * The data of an answer, or an ApiError with the server's message: for react-query's queryFn
 * and mutationFn, e.g. `queryFn: () => unwrap(api.GET('/api/v1/targets'))`.
 */
export async function unwrap<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer;
  try {
    answer = await pending;
  } catch (err) {
    throw new ApiError({ title: 'No answer', status: 0, detail: `the server did not answer: ${(err as Error).message}`, code: 'E_NETWORK', hint: 'check that `lifeboat serve` is running' });
  }
  if (!answer.response.ok) throw new ApiError(toProblem(answer.error, answer.response));
  return answer.data as T;
}
