import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { debianRootfs } from './debian-postgres.ts';
import { importImage, type TestDocker } from './docker.ts';
import { cachedFile, cacheKey } from './image-cache.ts';

const run = promisify(execFile);

/**
 * The official `postgres` image's start-up (postgres-entrypoint.sh): POSTGRES_USER,
 * POSTGRES_PASSWORD, POSTGRES_DB and their *_FILE forms on first start, initdb, then the server
 * as the unprivileged `postgres` user. Containers share the host's network in the tests, so the
 * port comes from PGPORT (which postgres, psql and pg_dump all read). Unlike the official image,
 * 127.0.0.1 needs the password too: a test of wrong credentials must be able to fail.
 */
const ENTRYPOINT = fileURLToPath(new URL('./postgres-entrypoint.sh', import.meta.url));

/** Host files every image needs besides PostgreSQL's own: a shell and the entrypoint's tools. */
const SHELL_TOOLS = ['sh', 'dash', 'bash', 'cat', 'id', 'mkdir', 'chown', 'chmod', 'rm', 'mktemp', 'setpriv', 'ls', 'env', 'sleep', 'tar', 'head', 'mkfifo'].map((b) => `/usr/bin/${b}`);

/** The files a binary loads (ldd), with the real files behind their symlinks. */
export async function libraries(binaries: string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const bin of binaries) {
    const { stdout } = await run('ldd', [bin]).catch(() => ({ stdout: '' }));
    for (const m of stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) {
      const lib = m[1]!;
      found.add(lib);
      found.add(realpathSync(lib));
    }
  }
  // Debian merges /usr: /lib/x86_64-linux-gnu/x is /usr/lib/x86_64-linux-gnu/x, and /lib is a
  // link that the image has too; a member under a link would make docker import fail.
  const paths = [...found].filter((p) => existsSync(p)).map((p) => path.join(realpathSync(path.dirname(p)), path.basename(p)));
  // docker import refuses a member twice.
  return [...new Set(paths)];
}

export interface PostgresImage {
  tag: string;
  major: number;
}

const built = new WeakMap<TestDocker, Map<number, Promise<PostgresImage>>>();

/**
 * A PostgreSQL image with server and client tools, tagged `postgres:<major>`, no registry: 15 from
 * this machine's own Debian packages, 17 from a Debian trixie root file system (debian-postgres.ts).
 * Made once per machine and kept as a `docker save` tarball in the test cache (image-cache.ts),
 * keyed by what it is made of; each test file's engine then only has to `docker load` it.
 */
export function postgresImage(d: TestDocker, major = 15): Promise<PostgresImage> {
  let byMajor = built.get(d);
  if (!byMajor) built.set(d, (byMajor = new Map()));
  let image = byMajor.get(major);
  if (!image) {
    image = cachedImage(d, major);
    byMajor.set(major, image);
  }
  return image;
}

/** Why `postgres:<major>` cannot be made here (with the command that fixes it), or undefined. */
export async function postgresImageUnavailable(major: number): Promise<string | undefined> {
  if (major === HOST_MAJOR) return undefined;
  try {
    await debianRootfs(major);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The major whose server and client tools this machine has (Debian 12: 15). */
const HOST_MAJOR = 15;

async function cachedImage(d: TestDocker, major: number): Promise<PostgresImage> {
  const tag = `postgres:${major}`;
  // The recipe is this file and the entrypoint; the ingredients the host's packages or the rootfs.
  const recipe = [readFileSync(fileURLToPath(import.meta.url), 'utf8'), readFileSync(ENTRYPOINT, 'utf8')];
  const ingredients = major === HOST_MAJOR
    ? (await run('dpkg-query', ['-W', '-f', '${Package} ${Version}\n', `postgresql-${major}`, `postgresql-client-${major}`, 'libc6'])).stdout
    : path.basename(await debianRootfs(major));
  const { made, file } = await cachedFile(`postgres-${major}-image`, cacheKey(...recipe, ingredients), async (tmp) => {
    await (major === HOST_MAJOR ? fromHost(d, major) : fromDebian(d, major));
    await d.docker(['save', '-o', tmp, tag], { timeoutMs: 300_000 });
  });
  // Another test file may have made it while this one waited for the lock.
  if (!made || !(await hasImage(d, tag))) await d.docker(['load', '-q', '-i', file], { timeoutMs: 300_000 });
  return { tag, major };
}

async function hasImage(d: TestDocker, tag: string): Promise<boolean> {
  return (await d.docker(['images', '-q', tag])).trim() !== '';
}

/** Copies of the host's own PostgreSQL files, the libraries they load and a shell. */
async function fromHost(d: TestDocker, major: number): Promise<void> {
  const bin = `/usr/lib/postgresql/${major}/bin`;
  const tools = ['postgres', 'initdb', 'pg_ctl', 'pg_dump', 'pg_dumpall', 'pg_restore', 'psql', 'pg_isready'].map((b) => path.join(bin, b));
  const modules = (await run('sh', ['-c', `ls /usr/lib/postgresql/${major}/lib/*.so | grep -v llvmjit`])).stdout.split('\n').filter(Boolean);
  const libs = await libraries([...tools, ...modules, ...SHELL_TOOLS]);
  const base = `lifeboat-test/pg${major}-base`;
  await importImage(d, base, [
    '/bin', '/lib', '/lib64', '/etc/passwd', '/etc/group', '/usr/share/zoneinfo',
    `/usr/lib/postgresql/${major}`, `/usr/share/postgresql/${major}`,
    ...new Set([...SHELL_TOOLS, ...libs]),
  ]);
  await withEntrypoint(d, base, major);
}

/** Debian's own packages of `major`, installed by mmdebstrap into a root file system. */
async function fromDebian(d: TestDocker, major: number): Promise<void> {
  const base = `lifeboat-test/pg${major}-base`;
  await d.docker(['import', await debianRootfs(major), base], { timeoutMs: 300_000 });
  await withEntrypoint(d, base, major);
}

/** `base` with the entrypoint and the official image's settings, tagged `postgres:<major>`. */
async function withEntrypoint(d: TestDocker, base: string, major: number): Promise<void> {
  const id = (await d.docker(['create', base, '/bin/sh'])).trim();
  await d.docker(['cp', ENTRYPOINT, `${id}:/docker-entrypoint.sh`]);
  await d.docker(['commit',
    '--change', `ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/lib/postgresql/${major}/bin`,
    '--change', 'ENV TZ=UTC',
    '--change', 'ENV PGDATA=/var/lib/postgresql/data',
    '--change', 'VOLUME /var/lib/postgresql/data',
    '--change', 'ENTRYPOINT ["/docker-entrypoint.sh"]',
    '--change', 'CMD []',
    id, `postgres:${major}`]);
  await d.docker(['rm', id]);
  await d.docker(['rmi', base]);
}

/** A free TCP port on 127.0.0.1 (containers share the host's network here). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PostgresContainer {
  name: string;
  port: number;
  /** postgres://user:password@127.0.0.1:port/db, as an app beside it would use. */
  url: string;
  user: string;
  password: string;
  database: string;
}

/**
 * Runs a PostgreSQL container like a compose stack's `db` service and waits until it accepts
 * connections. `env` adds or overrides variables (POSTGRES_*_FILE among them).
 */
export async function runPostgres(d: TestDocker, options: {
  name: string;
  major?: number;
  user?: string;
  password?: string;
  database?: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  volume?: string;
  /** Extra `docker run` arguments (mounts). */
  args?: string[];
}): Promise<PostgresContainer> {
  const image = await postgresImage(d, options.major ?? 15);
  const port = await freePort();
  const user = options.user ?? 'app';
  const password = options.password ?? 'secret-pw-' + Math.random().toString(36).slice(2);
  const database = options.database ?? 'app';
  const env: Record<string, string> = { PGPORT: String(port), POSTGRES_USER: user, POSTGRES_PASSWORD: password, POSTGRES_DB: database, ...options.env };
  await d.docker([
    'run', '-d', '--network', 'host', '--name', options.name,
    ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ...Object.entries(options.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...(options.volume ? ['-v', `${options.volume}:/var/lib/postgresql/data`] : []),
    ...(options.args ?? []),
    image.tag,
  ]);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await d.docker(['exec', options.name, 'pg_isready', '-q', '-h', '127.0.0.1', '-p', String(port)], { timeoutMs: 10_000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        const logs = await d.docker(['logs', options.name]).catch(() => '');
        throw new Error(`container ${options.name} did not accept connections within 60 s: ${logs}`, { cause: err });
      }
      await sleep(200);
    }
  }
  return { name: options.name, port, user, password, database, url: `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}` };
}

/**
 * An app image (n8n, a Django site...) that only has to run and hold files: a shell, sleep and a
 * few tools from this machine, tagged as the app's image so discovery can tell what it is.
 */
export async function appImage(d: TestDocker, tag: string): Promise<void> {
  const tools = ['sh', 'dash', 'sleep', 'mkdir', 'cat', 'ls'].map((b) => `/usr/bin/${b}`);
  await importImage(d, tag, ['/bin', '/lib', '/lib64', '/etc/passwd', '/etc/group', ...new Set([...tools, ...(await libraries(tools))])], ['CMD ["sleep", "infinity"]']);
}

/** Runs one query in a container's database, as an app beside it would, and returns its rows. */
export async function query<T extends pg.QueryResultRow>(c: PostgresContainer, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: c.url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A PATH for the Lifeboat process with no PostgreSQL client tool on it (only the containers have
 * them): /usr/bin's other commands, linked into a folder of their own.
 */
export function pathWithoutPostgres(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lb-nopg-'));
  for (const name of readdirSync('/usr/bin')) {
    if (/^(pg_|psql|pgbench|createdb|dropdb|createuser|dropuser|clusterdb|reindexdb|vacuumdb)/.test(name)) continue;
    symlinkSync(path.join('/usr/bin', name), path.join(dir, name));
  }
  return dir;
}
