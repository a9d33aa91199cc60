/**
 * One error type for everything Lifeboat reports to a user. The `code` is stable (scripts and
 * the HTTP API key on it); the message is one line a person can act on; `cause` keeps the
 * underlying error for logs.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_CONFIG'
  | 'E_NOT_FOUND'
  | 'E_AMBIGUOUS'
  | 'E_PG_CONNECT'
  | 'E_PG_AUTH'
  | 'E_PG_DATABASE'
  | 'E_PG_VERSION'
  | 'E_PG_TOOL'
  | 'E_PG_DUMP'
  | 'E_FILE_UNREADABLE'
  | 'E_FILE_CHANGED'
  | 'E_STORAGE_WRITE'
  | 'E_STORAGE_READ'
  | 'E_STORAGE_NOT_FOUND'
  | 'E_STORAGE_AUTH'
  | 'E_STORAGE_UNREACHABLE'
  | 'E_NO_SPACE'
  | 'E_ENCRYPTION'
  | 'E_BUNDLE_CORRUPT'
  | 'E_DUMP_INDEX'
  | 'E_LOCKED'
  | 'E_RESTORE_CHECK'
  | 'E_RESTORE_FAILED'
  | 'E_ABORTED'
  /** The Docker engine could not be reached or used, or a container is not running. */
  | 'E_DOCKER'
  /** The HTTP API: no valid session or token (401). */
  | 'E_UNAUTHENTICATED'
  /** The HTTP API: the caller's role or token scopes do not allow this (403). */
  | 'E_FORBIDDEN'
  /** The state changed under the request: a stale restore plan, a running backup (409). */
  | 'E_CONFLICT'
  /** Too many attempts (logins); the answer says when to try again (429). */
  | 'E_RATE_LIMITED'
  /** A request body over the server's limit (413). */
  | 'E_TOO_LARGE'
  | 'E_INTERNAL';

/**
 * Codes that mean "the request was wrong", not "the operation failed": exit status 2. A
 * conflict (deleting a protected backup) is the request not fitting the state: also 2.
 */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['E_USAGE', 'E_CONFIG', 'E_AMBIGUOUS', 'E_NOT_FOUND', 'E_CONFLICT', 'E_FORBIDDEN']);

/**
 * The CLI's exit statuses (README, "Exit codes"): a script can tell a refusal it may override or
 * wait out from a failure, and both from its own mistake.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, refused: 3, locked: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it, shown under the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = 'LifeboatError';
    this.code = code;
    this.hint = options.hint;
  }

  /**
   * The CLI exit status for this error: 2 for bad usage or configuration, 3 for a refusal by a
   * plan's checks, 4 when another operation holds a lock, 1 otherwise.
   */
  get exitCode(): ExitCode {
    if (USAGE_CODES.has(this.code)) return EXIT.usage;
    if (this.code === 'E_RESTORE_CHECK') return EXIT.refused;
    if (this.code === 'E_LOCKED') return EXIT.locked;
    return EXIT.failed;
  }
}

/** Wraps anything thrown into a LifeboatError, keeping LifeboatErrors as they are. */
export function asLifeboatError(err: unknown, code: ErrorCode = 'E_INTERNAL'): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if (isAbort(err)) return new LifeboatError('E_ABORTED', 'the operation was cancelled', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new LifeboatError(code, message, { cause: err });
}

/** True for the errors an AbortSignal produces, whichever API raised them. */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: string }).code === 'ABORT_ERR');
}
