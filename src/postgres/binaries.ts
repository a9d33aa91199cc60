import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LifeboatError } from '../errors.ts';

const run = promisify(execFile);

/** One installation of the PostgreSQL client tools. */
export interface PgTools {
  dir: string;
  /** Major version, e.g. 15. */
  major: number;
  /** Full version string as pg_dump prints it, e.g. "15.18". */
  version: string;
  pgDump: string;
  pgDumpall: string;
  pgRestore: string;
  psql: string;
}

/** Directories that may hold client tools, most specific first. */
function candidateDirs(binDir: string | undefined): string[] {
  const dirs: string[] = [];
  if (binDir) dirs.push(binDir);
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) dirs.push(dir);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const v of readdirSync(root)) dirs.push(path.join(root, v, 'bin'));
  }
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

async function probe(dir: string): Promise<PgTools | undefined> {
  const pgDump = path.join(dir, 'pg_dump');
  if (!existsSync(pgDump)) return undefined;
  try {
    const { stdout } = await run(pgDump, ['--version'], { timeout: 10_000 });
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!m) return undefined;
    const major = Number(m[1]);
    return {
      dir,
      major,
      version: m[2] ? `${m[1]}.${m[2]}` : m[1]!,
      pgDump,
      pgDumpall: path.join(dir, 'pg_dumpall'),
      pgRestore: path.join(dir, 'pg_restore'),
      psql: path.join(dir, 'psql'),
    };
  } catch {
    return undefined;
  }
}

/**
 * Probes run in this process in the last minute, by search path: each runs `pg_dump --version`
 * in every candidate directory (Debian's /usr/bin one is a Perl wrapper), 0.1-0.5 s, and one
 * restore asks for the tools three times (its plan, its table plan, its run). Kept a minute
 * only, so a daemon sees client tools installed while it runs.
 */
const probed = new Map<string, { at: number; tools: Promise<PgTools[]> }>();
const PROBE_TTL_MS = 60_000;

/** Every client tool installation found, deduplicated by version. */
export async function findAllTools(binDir?: string): Promise<PgTools[]> {
  const dirs = candidateDirs(binDir);
  const key = dirs.join('\0');
  let probing = probed.get(key);
  if (!probing || Date.now() - probing.at > PROBE_TTL_MS) {
    probing = { at: Date.now(), tools: Promise.all(dirs.map(probe)).then((all) => all.filter((t) => t !== undefined)) };
    probed.set(key, probing);
  }
  // A copy: callers sort the list they get.
  const found = [...(await probing.tools)];
  if (binDir && !found.some((t) => t.dir === path.resolve(binDir))) {
    throw new LifeboatError('E_PG_TOOL', `postgres.binDir ${binDir} holds no working pg_dump`, {
      hint: 'point binDir at the bin directory of a PostgreSQL installation, or remove it to search PATH',
    });
  }
  return found;
}

/**
 * The client tools for a server of the given major version: the lowest major that is at least
 * the server's (pg_dump refuses older servers' dumps never, newer servers always). A configured
 * binDir is used alone.
 */
export async function toolsForServer(serverMajor: number, binDir?: string): Promise<PgTools> {
  const all = await findAllTools(binDir);
  const pool = binDir ? all.filter((t) => t.dir === path.resolve(binDir)) : all;
  if (pool.length === 0) {
    throw new LifeboatError('E_PG_TOOL', 'pg_dump was not found (searched PATH and /usr/lib/postgresql/*/bin)', {
      hint: `install the PostgreSQL ${serverMajor} client tools (Debian/Ubuntu: apt-get install postgresql-client-${serverMajor}), or set postgres.binDir`,
    });
  }
  // Ties go to the versioned directories: /usr/bin/pg_dump on Debian is a wrapper script.
  const versioned = (t: PgTools) => (t.dir.startsWith('/usr/lib/postgresql/') ? 0 : 1);
  const fit = pool
    .filter((t) => t.major >= serverMajor)
    .sort((a, b) => a.major - b.major || versioned(a) - versioned(b))[0];
  if (!fit) {
    const newest = pool.sort((a, b) => b.major - a.major)[0]!;
    throw new LifeboatError(
      'E_PG_VERSION',
      `the server runs PostgreSQL ${serverMajor} but the newest pg_dump found is ${newest.version} (${newest.dir}); pg_dump cannot dump a newer server`,
      { hint: `install the PostgreSQL ${serverMajor} client tools (Debian/Ubuntu: apt-get install postgresql-client-${serverMajor}), or set postgres.binDir` },
    );
  }
  return fit;
}
