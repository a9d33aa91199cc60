// What jobs create and must not leave behind when killed: scratch databases and clusters, temp
// directories, pipes, tool processes, staged uploads. Each is recorded in the catalog before it
// is created (util/resource-ledger.ts), with its owner's pid and start mark; every command and
// every daemon tick removes those whose owner is dead (reap), and `lifeboat doctor` lists what
// could not be removed.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Catalog, ResourceRecord } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { inContainer, recordedContainer, recordedServer } from '../docker/recorded-server.ts';
import { connect, parsePgUrl, pgError, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { ident } from '../postgres/introspect.ts';
import { openStorage } from '../storage/storage.ts';
import { pidAlive, processStartMark, sameProcessAlive } from '../util/pid.ts';
import { track, type ResourceLedger, type TrackedResource } from '../util/resource-ledger.ts';

/** The ledger jobs record their resources in: the catalog, owned by this process. */
export function catalogLedger(catalog: Catalog, jobId?: string): ResourceLedger {
  const ownerMark = processStartMark(process.pid);
  return {
    add: (spec) => catalog.addResource({ ...spec, ownerPid: process.pid, ownerMark, jobId }),
    update: (id, spec) => catalog.updateResource(id, spec),
    remove: (id) => catalog.removeResource(id),
  };
}

/**
 * Where Lifeboat's temp files go: `tempDir` from lifeboat.yaml, else `tmp/` in the Lifeboat home
 * (created 0700: dumps and restored files hold database contents and secrets). Not the system
 * temp directory: a kill leaves nothing there that no one would look for.
 */
export function tempRoot(loaded: LoadedConfig): string {
  if (loaded.config.tempDir) return loaded.config.tempDir;
  const dir = path.join(loaded.home, 'tmp');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new LifeboatError('E_CONFIG', `cannot make the temp directory ${dir}: ${(err as Error).message}`, {
      cause: err,
      hint: 'set LIFEBOAT_HOME to a writable directory, or tempDir in lifeboat.yaml',
    });
  }
  return dir;
}

const tempDirs = new Map<string, TrackedResource>();

/** Makes a 0700 temp directory `<tempRoot>/<prefix><random>`, recorded before it exists. */
export async function createTempDir(loaded: LoadedConfig, prefix: string): Promise<string> {
  const dir = path.join(tempRoot(loaded), `${prefix}${randomBytes(6).toString('hex')}`);
  const record = track({ kind: 'dir', location: dir });
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (err) {
    record.release();
    throw err;
  }
  tempDirs.set(dir, record);
  return dir;
}

/** Removes a directory createTempDir made, and its record. */
export async function removeTempDir(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
  tempDirs.get(dir)?.release();
  tempDirs.delete(dir);
}

const scratchDatabases = new Map<string, TrackedResource>();

/**
 * Records a scratch database on `server` before it is created; releaseScratchDatabase once it
 * is dropped or renamed into place.
 */
export function trackScratchDatabase(server: PgEndpoint, name: string): void {
  scratchDatabases.set(name, track({ kind: 'database', location: name, server: recordedServer(withDatabase(server, 'postgres')) }));
}

/** Forgets a scratch database that is dropped or was renamed into place. */
export function releaseScratchDatabase(name: string): void {
  scratchDatabases.get(name)?.release();
  scratchDatabases.delete(name);
}

/**
 * Records the staging schema a table restore makes in a live database, before it exists; the
 * caller releases it once the schema is dropped.
 */
export function trackStagingSchema(server: PgEndpoint, database: string, schema: string): TrackedResource {
  return track({ kind: 'schema', location: schema, server: recordedServer(withDatabase(server, database)) });
}

/** How long a scratch database that could not be dropped waits before the next try. */
const RETRY_PAUSE_MS = 10 * 60_000;

/** A resource a dead process left, and what became of it. */
export interface LeakedResource {
  kind: string;
  location: string;
  server: string | null;
  ownerPid: number;
  createdAt: string;
  /** Set when it could not be removed (it stays recorded; the next start tries again). */
  error?: string;
}

/** Resources recorded on this host whose owning process is gone. */
export function leakedResources(catalog: Catalog): ResourceRecord[] {
  return catalog.listResources(hostname()).filter((r) => !sameProcessAlive(r.ownerPid, r.ownerMark));
}

/**
 * Removes the resources dead processes left (drops scratch databases with force, stops scratch
 * clusters, removes directories and pipes, kills orphan process groups, sweeps staged uploads)
 * and forgets them; one that cannot be removed stays recorded with its error. Records one event
 * when anything was found. Never throws.
 */
export async function reapLeaked(loaded: LoadedConfig, catalog: Catalog): Promise<LeakedResource[]> {
  let dead: ResourceRecord[];
  try {
    dead = leakedResources(catalog);
  } catch {
    return [];
  }
  if (!dead.length) return [];
  const results: LeakedResource[] = [];
  // Processes first: a pg_restore still writing into a directory or database holds it.
  const order = ['process', 'container', 'cluster', 'schema', 'database', 'fifo', 'dir', 'upload'];
  dead.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const swept = new Set<string>();
  for (const r of dead) {
    // A scratch database whose server could not be reached is tried again after a pause, not
    // at every command: each try may wait for the connection to time out.
    if ((r.kind === 'database' || r.kind === 'schema') && r.detail && Date.now() - Date.parse(r.detail) < RETRY_PAUSE_MS) continue;
    const leaked: LeakedResource = { kind: r.kind, location: r.location, server: r.server, ownerPid: r.ownerPid, createdAt: r.createdAt };
    try {
      if (r.kind === 'upload') {
        if (!swept.has(r.server ?? '')) await sweepStorage(loaded, r.server ?? '');
        swept.add(r.server ?? '');
      } else {
        await remove(loaded, r);
      }
      catalog.removeResource(r.id);
    } catch (err) {
      leaked.error = (err as Error).message;
      try {
        if (r.kind === 'database' || r.kind === 'schema') catalog.updateResource(r.id, { location: r.location, detail: new Date().toISOString() });
      } catch {
        // Tried again at the next start instead of after the pause.
      }
    }
    // A process record without a pid is one that was never started: not worth a mention.
    if (!(r.kind === 'process' && !r.location)) results.push(leaked);
  }
  if (results.length) {
    const removed = results.filter((r) => !r.error);
    const failed = results.filter((r) => r.error);
    try {
      catalog.recordEvent({
        kind: 'resources_reaped',
        severity: failed.length ? 'error' : 'warning',
        message: reapSummary(results),
        data: { removed: removed.map(describe), failed: failed.map((f) => ({ resource: describe(f), error: f.error })) },
      });
    } catch {
      // The stderr line (or the daemon's log) still says it.
    }
  }
  return results;
}

/** One line for what reapLeaked did, e.g. for stderr. */
export function reapSummary(results: LeakedResource[]): string {
  const removed = results.filter((r) => !r.error);
  const failed = results.filter((r) => r.error);
  const owners = [...new Set(results.map((r) => r.ownerPid))].join(', ');
  const parts = [];
  if (removed.length) parts.push(`removed ${removed.length} resource(s) left by killed Lifeboat process(es) ${owners}: ${removed.map(describe).join(', ')}`);
  if (failed.length) parts.push(`could not remove ${failed.map((f) => `${describe(f)} (${f.error})`).join(', ')}; \`lifeboat doctor\` lists them`);
  return parts.join('; ');
}

/** How a resource reads in a message. */
export function describe(r: { kind: string; location: string; server: string | null }): string {
  switch (r.kind) {
    case 'database':
      return `scratch database ${r.location}${r.server ? ` on ${where(r.server)}` : ''}`;
    case 'schema':
      return `staging schema ${r.location}${r.server ? ` in database ${decodeURIComponent(new URL(r.server).pathname.slice(1))} on ${where(r.server)}` : ''}`;
    case 'cluster':
      return `scratch cluster ${r.location}`;
    case 'container':
      return `container ${r.location}`;
    case 'dir':
      return `temp directory ${r.location}`;
    case 'fifo':
      return `pipe ${r.location}`;
    case 'process':
      return `process group ${r.location}`;
    case 'upload':
      return `staged upload ${r.location} on storage ${r.server}`;
    default:
      return `${r.kind} ${r.location}`;
  }
}

/** A recorded server as a message names it: host and port, or the container. */
function where(server: string): string {
  return inContainer(server) ? `container ${recordedContainer(server)}` : new URL(server).host;
}

async function remove(loaded: LoadedConfig, r: ResourceRecord): Promise<void> {
  switch (r.kind) {
    case 'process':
      return killGroup(r);
    case 'cluster':
      await stopCluster(r.location);
      return removeDir(r.location);
    case 'dir':
    case 'fifo':
      return removeDir(r.location);
    case 'database':
      return dropScratch(loaded, r);
    case 'container':
      return (await import('../docker/scratch-container.ts')).removeLeftContainer(r.server, r.location, r.detail);
    case 'schema':
      return dropStagingSchema(loaded, r);
    default:
      throw new Error(`unknown resource kind ${r.kind}`);
  }
}

/**
 * Kills a tool's process group. Its leader's pid is the group id: killed only when that pid still
 * has the start mark recorded, or is gone while members of its group remain (a group id is not
 * given to a new process while the group has members, so they are ours).
 */
async function killGroup(r: ResourceRecord): Promise<void> {
  const pgid = Number(r.location);
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  const leader = pidAlive(pgid);
  if (leader && !sameProcessAlive(pgid, r.detail)) return; // the pid was reused
  if (!leader && !groupAlive(pgid)) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
  for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(20);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Stops the server of a scratch cluster by its postmaster.pid: immediate shutdown, then SIGKILL. */
async function stopCluster(dir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return; // never started, or stopped
  }
  if (!Number.isInteger(pid) || pid <= 1 || !pidAlive(pid)) return;
  // Only a postgres whose command line names this directory: the pid may have been reused.
  const cmdline = (() => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      return '';
    }
  })();
  if (!cmdline.includes(dir)) return;
  process.kill(pid, 'SIGQUIT');
  for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(50);
  if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function removeDir(dir: string): Promise<void> {
  // Only what Lifeboat names: a record is never a licence to delete anything else.
  if (!path.isAbsolute(dir) || !path.basename(dir).startsWith('lifeboat-')) throw new Error(`refusing to remove ${dir}: not a Lifeboat temp path`);
  await fs.rm(dir, { recursive: true, force: true });
}

/**
 * Drops a scratch database left on a server, connecting as the target whose server it is (its
 * password comes from the config, never from the catalog) or, for a `--to` URL, with what libpq's
 * environment provides.
 */
async function dropScratch(loaded: LoadedConfig, r: ResourceRecord): Promise<void> {
  if (!/_lifeboat_|^lifeboat_/.test(r.location)) throw new Error(`refusing to drop ${r.location}: not a Lifeboat scratch database`);
  await onRecordedServer(loaded, r, async (client) => {
    await stopCreation(client, r.location);
    await client.query(`drop database if exists ${ident(r.location)} with (force)`);
  });
}

/**
 * A process killed just after it sent CREATE DATABASE leaves the server creating it: a drop
 * that runs first finds nothing, the record is forgotten, and the database appears a moment
 * later for good (a command started right after the kill, or the daemon's tick). The backends
 * still creating `name` are stopped and awaited (5 s at most) before the drop.
 */
async function stopCreation(client: pg.Client, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await client.query<{ pid: number }>(
      "select pid from pg_stat_activity where pid <> pg_backend_pid() and state = 'active' and query ~* '^\\s*create\\s+database\\s' and position($1 in query) > 0",
      [ident(name)],
    );
    if (!rows.length) return;
    // Not allowed for another role's backend: the drop below still runs, and says why it failed.
    await client.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [rows.map((x) => x.pid)]).catch(() => undefined);
    await sleep(50);
  }
}

/** A table restore's staging schema in a live database: only the schema, never anything else. */
async function dropStagingSchema(loaded: LoadedConfig, r: ResourceRecord): Promise<void> {
  if (!/^lifeboat_staging_[0-9a-f]+$/.test(r.location)) throw new Error(`refusing to drop schema ${r.location}: not a Lifeboat staging schema`);
  await onRecordedServer(loaded, r, (client) => client.query(`drop schema if exists ${ident(r.location)} cascade`));
}

/**
 * Runs `work` connected to the database a resource was recorded on, with the password of the
 * configured target on that server when there is one (the record holds no secret).
 */
async function onRecordedServer(loaded: LoadedConfig, r: ResourceRecord, work: (client: pg.Client) => Promise<unknown>): Promise<void> {
  if (!r.server) throw new Error('no server recorded');
  if (inContainer(r.server)) {
    // Through the container's exec tunnel, logged in as the container's environment says now.
    const client = await connect(await (await import('../docker/recorded-server.ts')).recordedEndpoint(r.server, loaded));
    try {
      await work(client);
    } finally {
      await client.end().catch(() => undefined);
    }
    return;
  }
  const database = decodeURIComponent(new URL(r.server).pathname.slice(1)) || 'postgres';
  let endpoint: PgEndpoint = { url: r.server, password: process.env.PGPASSWORD };
  for (const t of Object.values(loaded.config.targets)) {
    if (!t.postgres?.url) continue;
    const e = withDatabase(parsePgUrl(t.postgres.url), database);
    if (e.url === r.server) endpoint = e;
  }
  // A short timeout: this runs at the start of every command, which must not hang on a server that is down.
  const url = new URL(endpoint.url);
  if (endpoint.password !== undefined) url.password = encodeURIComponent(endpoint.password);
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 3000, application_name: 'lifeboat' });
  client.on('error', () => undefined);
  try {
    await client.connect().catch((err: unknown) => {
      throw pgError(err, endpoint);
    });
    await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Removes the temp objects dead writers left on a storage (each driver's sweep). */
async function sweepStorage(loaded: LoadedConfig, name: string): Promise<void> {
  const config = loaded.config.storages[name];
  if (!config) return; // no longer configured: nothing to reach it with
  const storage = await openStorage(name, config);
  try {
    await storage.sweep();
  } finally {
    await storage.close().catch(() => undefined);
  }
}
