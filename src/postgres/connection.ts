import pg from 'pg';
import { LifeboatError } from '../errors.ts';
import type { ToolExec } from './tool-exec.ts';

/**
 * A PostgreSQL connection URL split so the password never reaches a command line, a log or a
 * manifest: tools get it through PGPASSWORD, people see `redacted`.
 */
export interface PgEndpoint {
  /** The URL without its password, for libpq tools and for display. */
  url: string;
  password: string | undefined;
  /** Settings for every session opened to it (`-c name=value ...`): libpq's PGOPTIONS, the driver's `options`. */
  options?: string;
  /** Set when the server is reached from inside its container: tools and connections go through it. */
  exec?: ToolExec;
}

export function parsePgUrl(raw: string): PgEndpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LifeboatError('E_CONFIG', `not a PostgreSQL URL: ${redactUrl(raw)}`, {
      hint: 'expected postgres://user:password@host:5432/database',
    });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new LifeboatError('E_CONFIG', `not a PostgreSQL URL (scheme ${url.protocol}): ${redactUrl(raw)}`);
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.password = '';
  return { url: url.toString(), password };
}

/** The same endpoint pointed at another database. */
export function withDatabase(endpoint: PgEndpoint, database: string): PgEndpoint {
  const url = new URL(endpoint.url);
  url.pathname = '/' + encodeURIComponent(database);
  return { ...endpoint, url: url.toString() };
}

/** The database a URL names, or undefined when it names none. */
export function databaseOf(endpoint: PgEndpoint): string | undefined {
  const db = decodeURIComponent(new URL(endpoint.url).pathname.replace(/^\//, ''));
  return db || undefined;
}

/** A URL fit for logs: the password, if any, replaced. */
export function redactUrl(raw: string): string {
  // libpq also takes the password, and the client key's passphrase, as query parameters.
  return raw.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@').replace(/([?&](?:ssl)?password=)[^&#]*/gi, '$1***');
}

/**
 * The libpq variables a tool run elsewhere (in a container) gets: only these, since this
 * process's environment means nothing there.
 */
export function remoteToolEnv(endpoint: PgEndpoint): Record<string, string> {
  const env: Record<string, string> = { PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' };
  if (endpoint.password !== undefined) env.PGPASSWORD = endpoint.password;
  if (endpoint.options) env.PGOPTIONS = endpoint.options;
  return env;
}

/** Environment for libpq tools: the password travels here, never in argv. */
export function toolEnv(endpoint: PgEndpoint): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' };
  if (endpoint.password !== undefined) env.PGPASSWORD = endpoint.password;
  if (endpoint.options) env.PGOPTIONS = [process.env.PGOPTIONS, endpoint.options].filter(Boolean).join(' ');
  return env;
}

export async function connect(endpoint: PgEndpoint): Promise<pg.Client> {
  // In-process only: the password may sit in this URL because it never reaches argv or a log.
  const url = new URL(endpoint.url);
  if (endpoint.password !== undefined) url.password = encodeURIComponent(endpoint.password);
  const client = new pg.Client({
    connectionString: url.toString(),
    connectionTimeoutMillis: 10_000,
    application_name: 'lifeboat',
    ...(endpoint.options ? { options: [process.env.PGOPTIONS, endpoint.options].filter(Boolean).join(' ') } : {}),
    ...(endpoint.exec ? { stream: () => endpoint.exec!.socket() } : {}),
  });
  // A dropped connection also fails the pending query, which is where it is handled.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw pgError(err, endpoint);
  }
  return client;
}

/** Maps driver errors to the messages a user can act on. */
export function pgError(err: unknown, endpoint: PgEndpoint): LifeboatError {
  const e = err as { code?: string; message?: string };
  const where = redactUrl(endpoint.url);
  switch (e.code) {
    case '28P01':
    case '28000':
      return new LifeboatError('E_PG_AUTH', `PostgreSQL refused the login at ${where}: ${e.message}`, {
        cause: err,
        hint: 'check the user and password in the target\'s postgres.url',
      });
    case '3D000':
      return new LifeboatError('E_PG_DATABASE', `database does not exist at ${where}: ${e.message}`, {
        cause: err,
        hint: 'check postgres.databases in the target, or list them with `psql -l`',
      });
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
    case 'ENOENT':
      return new LifeboatError('E_PG_CONNECT', `cannot reach PostgreSQL at ${where}: ${e.message || e.code}`, {
        cause: err,
        hint: 'is the server running, and are host and port right?',
      });
    default:
      if (/timeout/i.test(e.message ?? '')) {
        return new LifeboatError('E_PG_CONNECT', `cannot reach PostgreSQL at ${where}: ${e.message}`, { cause: err });
      }
      return new LifeboatError('E_PG_CONNECT', `PostgreSQL error at ${where}: ${e.message ?? String(err)}`, { cause: err });
  }
}
