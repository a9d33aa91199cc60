// `lifeboat doctor`: what a new user or a bug report needs first. Every check is a line with a
// status; a `fail` makes the command exit non-zero, a `warn` does not.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError } from '../errors.ts';
import { findAllTools } from '../postgres/binaries.ts';
import { connect, redactUrl, withDatabase } from '../postgres/connection.ts';
import { targetEndpoint } from '../postgres/target.ts';
import { serverVersion } from '../postgres/introspect.ts';
import { LEASE } from '../scheduler/scheduler.ts';
import { formatBytes } from '../util/format.ts';
import { sameProcessAlive } from '../util/pid.ts';
import { describe, leakedResources, tempRoot } from './resources.ts';
import { checkStorage } from './storage-health.ts';

const run = promisify(execFile);

/** One finding. */
export interface DoctorCheck {
  /** tools, servers, storage, files, resources or daemon. */
  area: string;
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  /** What to do about a warn or fail. */
  hint?: string;
}

export interface DoctorReport {
  /** False when any check failed. */
  ok: boolean;
  checks: DoctorCheck[];
}

/** Temp names Lifeboat gives (resources.ts, pipe.ts, scratch-cluster.ts); not a test's workspace. */
const TEMP_NAME = /^lifeboat-(restore|verify|workflow|pipe|cluster)-/;
/** Scratch database names (restore-databases.ts, restore-tables.ts). */
const SCRATCH_DB = '_lifeboat_|^lifeboat_tables_';

export async function runDoctor(loaded: LoadedConfig, catalog: Catalog): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [];
  const majors = await toolChecks(loaded, checks);
  await serverChecks(loaded, catalog, majors, checks);
  await storageChecks(loaded, catalog, checks);
  fileModeChecks(loaded, catalog, checks);
  resourceChecks(loaded, catalog, checks);
  daemonCheck(loaded, catalog, checks);
  return { ok: !checks.some((c) => c.status === 'fail'), checks };
}

/** Client tools per installed major; zstd and age where targets use them (for restore by hand). */
async function toolChecks(loaded: LoadedConfig, checks: DoctorCheck[]): Promise<number[]> {
  const needsPg = Object.values(loaded.config.targets).some((t) => t.postgres);
  const tools = await findAllTools().catch(() => []);
  for (const t of tools.sort((a, b) => a.major - b.major)) {
    const versions = await Promise.all([t.pgDump, t.pgRestore, t.psql].map((bin) => toolVersion(bin)));
    const missing = ['pg_dump', 'pg_restore', 'psql'].filter((_, i) => !versions[i]);
    checks.push({
      area: 'tools', name: `PostgreSQL ${t.major} client tools`, status: missing.length ? 'fail' : 'ok',
      detail: missing.length ? `${t.dir}: ${missing.join(', ')} missing or not running` : `pg_dump ${versions[0]}, pg_restore ${versions[1]}, psql ${versions[2]} in ${t.dir}`,
      hint: missing.length ? `reinstall postgresql-client-${t.major}` : undefined,
    });
  }
  if (!tools.length) {
    checks.push({
      area: 'tools', name: 'PostgreSQL client tools', status: needsPg ? 'fail' : 'warn', detail: 'no pg_dump found on PATH or in /usr/lib/postgresql/*/bin',
      hint: 'install the client tools of your servers\' version (Debian/Ubuntu: apt-get install postgresql-client-<major>)',
    });
  }
  const targets = Object.values(loaded.config.targets);
  const wanted: [string, boolean][] = [
    ['zstd', targets.some((t) => (t.compression?.algorithm ?? 'zstd') === 'zstd')],
    ['age', targets.some((t) => t.encryption !== undefined)],
  ];
  for (const [tool, used] of wanted) {
    if (!used) continue;
    const version = await toolVersion(tool);
    checks.push({
      area: 'tools', name: tool, status: version ? 'ok' : 'warn',
      detail: version ? version : `not installed: Lifeboat does not need it, a restore by hand (restore.sh) does`,
      hint: version ? undefined : `install ${tool} on the machine you would restore on`,
    });
  }
  return tools.map((t) => t.major);
}

async function toolVersion(bin: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await run(bin, ['--version'], { timeout: 10_000 });
    const text = (stdout || stderr).trim().split('\n')[0] ?? '';
    return /v?(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? (text || undefined);
  } catch {
    return undefined;
  }
}

/** Each target's server: reachable, its version, a pg_dump that fits it, scratch databases left. */
async function serverChecks(loaded: LoadedConfig, catalog: Catalog, majors: number[], checks: DoctorCheck[]): Promise<void> {
  const recorded = new Set(catalog.listResources().filter((r) => r.kind === 'database' && sameProcessAlive(r.ownerPid, r.ownerMark)).map((r) => r.location));
  for (const [name, t] of Object.entries(loaded.config.targets)) {
    if (!t.postgres) continue;
    let client;
    try {
      const endpoint = withDatabase(await targetEndpoint(t.postgres), 'postgres');
      client = await connect(endpoint);
      const v = await serverVersion(client);
      // A container's own tools always fit its server.
      const fits = endpoint.exec !== undefined || majors.some((m) => m >= v.major);
      checks.push({
        area: 'servers', name: `target ${name}`, status: fits ? 'ok' : 'fail',
        detail: `PostgreSQL ${v.version} at ${redactUrl(endpoint.url)}${fits ? '' : `: no pg_dump ${v.major} or newer is installed`}`,
        hint: fits ? undefined : `install postgresql-client-${v.major}`,
      });
      const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname ~ $1 order by 1', [SCRATCH_DB]);
      const left = rows.map((r) => r.datname).filter((d) => !recorded.has(d));
      // `<db>_lifeboat_old_*` is a live database renamed aside during a swap: if the swap was
      // killed before the restored copy took its name, it holds the only copy of the data.
      const old = left.filter((d) => d.includes('_lifeboat_old_'));
      const scratch = left.filter((d) => !old.includes(d));
      if (scratch.length) {
        checks.push({
          area: 'resources', name: `scratch databases on target ${name}`, status: 'fail',
          detail: `${scratch.join(', ')}: left by a restore that was killed, no running job owns them`,
          hint: scratch.map((d) => `drop database "${d}" with (force);`).join(' '),
        });
      }
      if (old.length) {
        checks.push({
          area: 'resources', name: `databases set aside on target ${name}`, status: 'fail',
          detail: `${old.join(', ')}: a live database renamed aside by a restore that was killed during its swap`,
          hint: 'if the database it was renamed from (the name before _lifeboat_old_) is missing, rename it back (alter database ... rename to ...); drop it only once that database is there',
        });
      }
    } catch (err) {
      checks.push({ area: 'servers', name: `target ${name}`, status: 'fail', detail: asLifeboatError(err).message, hint: asLifeboatError(err).hint });
    } finally {
      await client?.end().catch(() => undefined);
    }
  }
}

/** Each storage: reachable, free space. */
async function storageChecks(loaded: LoadedConfig, catalog: Catalog, checks: DoctorCheck[]): Promise<void> {
  for (const [name, config] of Object.entries(loaded.config.storages)) {
    // Listing a missing directory finds nothing rather than failing: a mount that is not there looks empty.
    if (config.type === 'local' && !existsSync(config.path)) {
      checks.push({ area: 'storage', name: `storage ${name}`, status: 'fail', detail: `${config.path} does not exist`, hint: 'mount it or create it (mode 0700)' });
      continue;
    }
    const h = await checkStorage(loaded, catalog, name).catch((err: unknown) => ({ reachable: false, error: asLifeboatError(err).message, freeBytes: null, totalBytes: null, objects: null, type: '' }));
    if (!h.reachable) {
      checks.push({ area: 'storage', name: `storage ${name}`, status: 'fail', detail: `not reachable: ${h.error}`, hint: 'check its path or credentials' });
      continue;
    }
    const low = h.freeBytes !== null && h.totalBytes ? h.freeBytes / h.totalBytes < 0.1 : false;
    checks.push({
      area: 'storage', name: `storage ${name}`, status: low ? 'warn' : 'ok',
      detail: `reachable (${h.type}), ${h.objects} objects${h.freeBytes !== null ? `, ${formatBytes(h.freeBytes)} free of ${formatBytes(h.totalBytes ?? 0)}` : ', free space not reported'}`,
      hint: low ? 'less than 10% free: prune, or set retention.minFreeSpacePercent' : undefined,
    });
  }
}

/** Home, catalog, temp directory and local storages: readable by others is a warning. */
function fileModeChecks(loaded: LoadedConfig, catalog: Catalog, checks: DoctorCheck[]): void {
  const paths: [string, string][] = [
    ['home', loaded.home],
    ['catalog', catalog.file],
    ['temp directory', tempRoot(loaded)],
  ];
  for (const [name, s] of Object.entries(loaded.config.storages)) if (s.type === 'local') paths.push([`storage ${name}`, s.path]);
  for (const [name, p] of paths) {
    let mode: number;
    try {
      mode = statSync(p).mode & 0o777;
    } catch (err) {
      checks.push({ area: 'files', name, status: 'warn', detail: `${p}: ${(err as Error).message}` });
      continue;
    }
    const open = (mode & 0o007) !== 0;
    checks.push({
      area: 'files', name, status: open ? 'warn' : 'ok', detail: `${p} mode ${mode.toString(8).padStart(4, '0')}${open ? ': other users can read it' : ''}`,
      hint: open ? `chmod o-rwx ${p} (it holds database contents and secrets)` : undefined,
    });
  }
}

/** What killed processes left that could not be removed, and temp files no record names. */
function resourceChecks(loaded: LoadedConfig, catalog: Catalog, checks: DoctorCheck[]): void {
  const leaked = leakedResources(catalog);
  const recorded = new Set(catalog.listResources().map((r) => r.location));
  const strays: string[] = [];
  for (const dir of new Set([tempRoot(loaded), tmpdir()])) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    // Only this user's: on a shared machine the system temp directory holds others' too.
    for (const n of names) if (TEMP_NAME.test(n) && !recorded.has(path.join(dir, n)) && ownedByMe(path.join(dir, n))) strays.push(path.join(dir, n));
  }
  if (leaked.length) {
    checks.push({
      area: 'resources', name: 'left by killed processes', status: 'fail', detail: `${leaked.map((r) => `${describe(r)} (pid ${r.ownerPid})`).join(', ')}: could not be removed`,
      hint: 'the next command tries again; see the resources_reaped event (`lifeboat events`) for why',
    });
  }
  if (strays.length) {
    checks.push({
      area: 'resources', name: 'unrecorded temp files', status: 'warn', detail: `${strays.join(', ')}: from an older Lifeboat or a run outside a job`,
      hint: `remove them when no Lifeboat runs: rm -rf ${strays.join(' ')}`,
    });
  }
  if (!leaked.length && !strays.length) checks.push({ area: 'resources', name: 'leaked resources', status: 'ok', detail: 'none' });
}

function ownedByMe(p: string): boolean {
  try {
    return statSync(p).uid === process.getuid?.();
  } catch {
    return false;
  }
}

/** Who holds the scheduler lease: a running daemon, none, or one that died without letting go. */
function daemonCheck(loaded: LoadedConfig, catalog: Catalog, checks: DoctorCheck[]): void {
  const lease = catalog.getLease(LEASE);
  const schedules = Object.values(loaded.config.targets).some((t) => t.schedule?.length);
  const live = lease && new Date(lease.expiresAt) > new Date();
  if (!live) {
    checks.push({
      area: 'daemon', name: 'daemon', status: schedules ? 'warn' : 'ok', detail: `not running${lease ? ` (last heartbeat ${lease.heartbeatAt} from ${lease.holder})` : ''}`,
      hint: schedules ? 'schedules are configured: run `lifeboat serve` (see README, Run as a service)' : undefined,
    });
    return;
  }
  const [host, pid] = lease.holder.split(':');
  const dead = host === hostname() && pid !== undefined && !sameProcessAlive(Number(pid), null);
  checks.push({
    area: 'daemon', name: 'daemon', status: dead ? 'warn' : 'ok',
    detail: dead ? `the lease is held by ${lease.holder}, which is no longer running; it expires at ${lease.expiresAt}` : `running: ${lease.holder}, last heartbeat ${lease.heartbeatAt}`,
    hint: dead ? 'a new daemon takes over once the lease expires' : undefined,
  });
}
