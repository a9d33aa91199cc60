import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { LifeboatError } from '../errors.ts';
import { onParentDeath, runGuarded } from '../util/process-group.ts';
import { track } from '../util/resource-ledger.ts';
import { connect, parsePgUrl, withDatabase, type PgEndpoint } from './connection.ts';
import { ident } from './introspect.ts';
import { loadCompression } from './load-settings.ts';

const run = promisify(execFile);

/** A throwaway PostgreSQL cluster: its own data directory, port and password; gone after stop(). */
export interface ScratchCluster {
  endpoint: PgEndpoint;
  major: number;
  binDir: string;
  /** Whether its data directory was copied from a kept template instead of made by initdb. */
  fromTemplate: boolean;
  stop(): Promise<void>;
}

/** How the data directory is made; part of a template's name, so a change here never reuses an old one. */
const INITDB_ARGS = ['-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'];

/**
 * Where a template for these server binaries is kept under `dir`: named after the binaries'
 * directory, the server binary's size and mtime (an upgrade makes a new one) and initdb's
 * arguments.
 */
async function templatePath(dir: string, binDir: string, major: number): Promise<string> {
  const st = await fs.stat(path.join(binDir, 'postgres'));
  const key = createHash('sha256').update(JSON.stringify([binDir, st.size, st.mtimeMs, INITDB_ARGS])).digest('hex').slice(0, 16);
  return path.join(dir, `initdb-${major}-${key}`);
}

/** Server binary directories (holding initdb): `binDir` alone when given, else /usr/lib/postgresql/<v>/bin. */
export function serverBinDirs(binDir?: string): { dir: string; major: number }[] {
  if (binDir) return existsSync(path.join(binDir, 'initdb')) ? [{ dir: binDir, major: Number.NaN }] : [];
  const found: { dir: string; major: number }[] = [];
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    for (const v of readdirSync(root)) {
      const dir = path.join(root, v, 'bin');
      if (existsSync(path.join(dir, 'initdb'))) found.push({ dir, major: Number(v) });
    }
  }
  return found.sort((a, b) => b.major - a.major);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
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

async function versionOf(dir: string): Promise<number> {
  const { stdout } = await run(path.join(dir, 'postgres'), ['--version'], { timeout: 10_000 });
  const m = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
  if (!m) throw new LifeboatError('E_PG_TOOL', `cannot tell the version of ${dir}/postgres`);
  return Number(m[1]);
}

/**
 * Starts a cluster from the oldest installed server at least `minMajor`, on a free loopback
 * port with a random password. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` user. The caller must stop() it; a failed start cleans up after itself.
 *
 * With `templateDir` (a directory only this user writes, e.g. under the catalog's home), the
 * data directory initdb makes is kept there and copied for later clusters: 0.3 s instead of
 * initdb's 0.75 s, on the way to a test restore's first row. The template holds no password:
 * local socket connections are trusted (the socket lives in the cluster's own 0700 directory)
 * and each cluster sets its own random password over it before listening to anyone else.
 */
export async function startScratchCluster(options: { minMajor: number; binDir?: string; tempDir?: string; templateDir?: string }): Promise<ScratchCluster> {
  const candidates = [];
  for (const c of serverBinDirs(options.binDir)) candidates.push({ dir: c.dir, major: Number.isNaN(c.major) ? await versionOf(c.dir) : c.major });
  const fit = candidates.filter((c) => c.major >= options.minMajor).sort((a, b) => a.major - b.major)[0];
  if (!fit) {
    throw new LifeboatError('E_PG_TOOL', `no PostgreSQL server ${options.minMajor} or newer is installed to restore into (found: ${candidates.map((c) => c.major).join(', ') || 'none'})`, {
      hint: `install postgresql-${options.minMajor} (the server package; it need not run), or set verification.binDir`,
    });
  }
  const asRoot = process.getuid?.() === 0;
  let owner: { uid: number; gid: number } | undefined;
  if (asRoot) {
    try {
      const [{ stdout: u }, { stdout: g }] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      owner = { uid: Number(u.trim()), gid: Number(g.trim()) };
    } catch {
      throw new LifeboatError('E_PG_TOOL', 'running as root, but there is no postgres user to run the scratch cluster as', {
        hint: 'create it (useradd --system postgres) or run lifeboat as an ordinary user',
      });
    }
  }
  const dir = path.join(await clusterBase(options.tempDir, asRoot), `lifeboat-cluster-${randomBytes(6).toString('hex')}`);
  const data = path.join(dir, 'data');
  // Recorded before it exists, and stopped and removed by a watchdog if Lifeboat dies meanwhile
  // (pg_ctl detaches the server, so it would outlive a killed Lifeboat otherwise).
  const record = track({ kind: 'cluster', location: dir });
  await fs.mkdir(dir, { mode: 0o700 }).catch((err: unknown) => {
    record.release();
    throw new LifeboatError('E_CONFIG', `cannot make a scratch cluster directory in ${path.dirname(dir)}: ${(err as Error).message}`, { cause: err });
  });
  const guard = onParentDeath(['/bin/sh', '-c', `${asRoot ? 'runuser -u postgres -- ' : ''}"$0" -D "$1" -m immediate stop >/dev/null 2>&1; rm -rf -- "$2"`, path.join(fit.dir, 'pg_ctl'), data, dir]);
  const password = randomBytes(18).toString('base64url');
  // initdb in a guarded process group: it would go on filling a removed directory after a kill.
  // Not pg_ctl: the server it starts must outlive it (the watchdog above stops that one).
  const exec = (bin: string, args: string[]) => {
    const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(fit.dir, bin), ...args]] : [path.join(fit.dir, bin), args];
    return bin === 'initdb' ? runGuarded(cmd, argv, { timeout: 120_000 }) : run(cmd, argv, { timeout: 120_000 });
  };
  let started = false;
  const stop = async () => {
    guard.disarm();
    if (started) await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    started = false;
    await fs.rm(dir, { recursive: true, force: true });
    record.release();
  };
  try {
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      await run('runuser', ['-u', 'postgres', '--', 'test', '-w', dir]).catch(() => {
        throw new LifeboatError('E_CONFIG', `the postgres user cannot enter ${path.dirname(dir)}, where the scratch cluster would live`, {
          hint: 'set tempDir in lifeboat.yaml to a directory every user can traverse (e.g. /var/tmp)',
        });
      });
    }
    const template = options.templateDir ? await templatePath(options.templateDir, fit.dir, fit.major).catch(() => undefined) : undefined;
    let fromTemplate = false;
    if (template && existsSync(path.join(template, 'PG_VERSION'))) {
      fromTemplate = await runGuarded('cp', ['-a', template, data]).then(() => true, async () => {
        await fs.rm(data, { recursive: true, force: true });
        return false;
      });
    }
    if (!fromTemplate) {
      await exec('initdb', ['-D', data, ...INITDB_ARGS]);
      if (template) await keepTemplate(data, template);
    }
    const port = await freePort();
    started = true;
    const start = () => exec('pg_ctl', [
      '-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start',
      '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    ]);
    try {
      await start();
    } catch (err) {
      if (!fromTemplate) throw err;
      // A template that does not start (damaged, or from binaries it no longer fits): make a fresh one.
      await fs.rm(template!, { recursive: true, force: true });
      await fs.rm(data, { recursive: true, force: true });
      fromTemplate = false;
      await exec('initdb', ['-D', data, ...INITDB_ARGS]);
      await keepTemplate(data, template!);
      await start();
    }
    const sessionOptions = await prepareCluster(dir, port, password);
    return {
      endpoint: { ...parsePgUrl(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`), options: sessionOptions },
      major: fit.major,
      binDir: fit.dir,
      fromTemplate,
      stop,
    };
  } catch (err) {
    if (err instanceof LifeboatError) {
      await stop();
      throw err;
    }
    const log = await fs.readFile(path.join(dir, 'log'), 'utf8').catch(() => '');
    await stop();
    throw new LifeboatError('E_PG_TOOL', `cannot start a scratch PostgreSQL ${fit.major} cluster: ${(err as Error).message.split('\n')[0]}${log ? ` (${log.trim().split('\n').slice(-2).join(' | ')})` : ''}`, { cause: err });
  }
}

/**
 * The directory a cluster's directory goes in: `tempDir`. As root, the cluster runs as the
 * postgres user, which cannot enter Lifeboat's own 0700 temp directory: there the system temp
 * directory is used instead (the cluster's directory itself is still 0700, owned by postgres).
 */
async function clusterBase(tempDir: string | undefined, asRoot: boolean): Promise<string> {
  if (!tempDir) return os.tmpdir();
  if (!asRoot) return tempDir;
  const enters = await run('runuser', ['-u', 'postgres', '--', 'test', '-x', tempDir]).then(() => true, () => false);
  return enters ? tempDir : os.tmpdir();
}

/** Copies a fresh data directory to `template`, whole or not at all (another run may race us). */
async function keepTemplate(data: string, template: string): Promise<void> {
  const partial = `${template}.partial-${randomBytes(4).toString('hex')}`;
  try {
    await fs.mkdir(path.dirname(template), { recursive: true, mode: 0o700 });
    await run('cp', ['-a', data, partial]);
    await fs.rename(partial, template);
  } catch {
    // No template this time (no room, a race lost): the next cluster runs initdb again.
  } finally {
    await fs.rm(partial, { recursive: true, force: true });
  }
}

/**
 * Sets the superuser's password over the cluster's own socket (which initdb's template trusts),
 * and returns the session settings its loads use: lz4 TOAST compression where the server has it
 * (load-settings.ts; the copy is thrown away, only that its rows load and read back matters).
 */
async function prepareCluster(socketDir: string, port: number, password: string): Promise<string | undefined> {
  const client = new pg.Client({ host: socketDir, port, user: 'postgres', database: 'postgres' });
  await client.connect();
  try {
    await client.query(`alter role postgres password '${password}'`); // base64url: nothing to quote
    return (await loadCompression(client, 'auto')).options;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes `name` an empty database of `encoding` in a scratch cluster, built from template0 like
 * every database pg_dump's archives are meant for. A database of that name that exists already is
 * dropped first: the stock `postgres` and `template1` a fresh cluster starts with (both empty:
 * `databases: all` holds `postgres`; backups leave templates out, but a bundle holding
 * `template1` is handled alike), or what a failed attempt left. Re-creating them rather than restoring into the stock ones gives them the source's
 * encoding instead of the cluster's UTF8 and keeps their names, so a verification check naming
 * `database: postgres` runs where it expects; the cluster is ours and holds nothing else.
 * A template stays a template. Only for scratch clusters: it never asks before dropping.
 */
export async function freshDatabase(server: PgEndpoint, name: string, encoding: string): Promise<void> {
  // A database cannot be dropped by a session connected to it: go through another one.
  const admin = await connect(withDatabase(server, name === 'postgres' ? 'template1' : 'postgres'));
  try {
    const { rows } = await admin.query<{ t: boolean }>('select datistemplate as t from pg_database where datname = $1', [name]);
    const template = rows[0]?.t === true;
    if (template) await admin.query(`alter database ${ident(name)} is_template false`);
    if (rows.length) await admin.query(`drop database ${ident(name)} with (force)`);
    // The cluster's C.UTF-8 locale takes UTF8 alone; C takes every encoding (LATIN1, SQL_ASCII...).
    const locale = encoding.toUpperCase() === 'UTF8' ? '' : " locale 'C'";
    await admin.query(`create database ${ident(name)} template template0 encoding '${encoding.replaceAll("'", "''")}'${locale} is_template ${template}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}
