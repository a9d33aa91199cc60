import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LifeboatError } from '../errors.ts';
import { parsePgUrl, type PgEndpoint } from './connection.ts';

const run = promisify(execFile);

/** A throwaway PostgreSQL cluster: its own data directory, port and password; gone after stop(). */
export interface ScratchCluster {
  endpoint: PgEndpoint;
  major: number;
  binDir: string;
  stop(): Promise<void>;
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
 */
export async function startScratchCluster(options: { minMajor: number; binDir?: string; tempDir?: string }): Promise<ScratchCluster> {
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
  const dir = await fs.mkdtemp(path.join(options.tempDir ?? os.tmpdir(), 'lifeboat-cluster-'));
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'pw');
  const password = randomBytes(18).toString('base64url');
  const exec = (bin: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(fit.dir, bin), ...args], { timeout: 120_000 }) : run(path.join(fit.dir, bin), args, { timeout: 120_000 });
  let started = false;
  const stop = async () => {
    if (started) await exec('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
    started = false;
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await fs.writeFile(pwfile, password + '\n', { mode: 0o600 });
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      chownSync(pwfile, owner.uid, owner.gid);
      await run('runuser', ['-u', 'postgres', '--', 'test', '-w', dir]).catch(() => {
        throw new LifeboatError('E_CONFIG', `the postgres user cannot enter ${path.dirname(dir)}, where the scratch cluster would live`, {
          hint: 'set tempDir in lifeboat.yaml to a directory every user can traverse (e.g. /var/tmp)',
        });
      });
    }
    await exec('initdb', ['-D', data, '-U', 'postgres', '--pwfile', pwfile, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    const port = await freePort();
    started = true;
    await exec('pg_ctl', [
      '-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start',
      '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
    ]);
    return {
      endpoint: parsePgUrl(`postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`),
      major: fit.major,
      binDir: fit.dir,
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
