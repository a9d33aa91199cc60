// The client tools inside a PostgreSQL container, behind postgres/tool-exec.ts: they always
// match their server's version, and the host needs none of its own.

import { randomBytes } from 'node:crypto';
import { createReadStream, statSync, unlinkSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import type { ToolExec, ToolProcess } from '../postgres/tool-exec.ts';
import { execIn, execText } from './exec.ts';
import { ContainerFifo, PipeUnavailable, procRoot } from './container-fifo.ts';
import { execThroughFifo } from './proc-pipe.ts';
import { serverSocket, sharesNetwork } from './server-socket.ts';

/** How a tool's big stream travels: through a FIFO seen under `root`, or the exec stream, and why. */
type Route = { root: string } | { why: string };

/** What an inspect of the container this run already made tells: its ID and host PID. */
export interface Inspected {
  Id: string;
  State?: { Pid?: number };
}

export class ContainerTools implements ToolExec {
  readonly where: string;
  readonly #container: Dockerode.Container;
  readonly #port: number;
  readonly #pid: number | undefined;
  /** Sessions go over plain TCP: the container shares this process's network (server-socket.ts). */
  readonly #direct: boolean;
  /** The tools and the route, learned once per run (they cannot change within it). */
  #tools: Promise<PgTools> | undefined;
  /** The route once known: runs started after it is the exec stream take that path unwrapped. */
  #known: Route | undefined;
  /** The FIFO the probe made, for the first run that wants one. */
  #spare: { fifo: ContainerFifo; drop: () => void; timer: NodeJS.Timeout } | undefined;

  constructor(container: Dockerode.Container, name: string, port: number, inspected?: Inspected) {
    this.#container = container;
    this.where = `container ${name}`;
    this.#port = port;
    this.#pid = inspected?.State?.Pid || undefined;
    this.#direct = inspected ? sharesNetwork(inspected.Id, this.#pid) : false;
  }

  start(tool: string, args: string[], env: Record<string, string>, options: { input: boolean; fill?: boolean }): ToolProcess {
    // Files on this host (a dump, a list, filtered SQL) are copied in first, under a fresh folder.
    const dir = `/tmp/lifeboat-${randomBytes(6).toString('hex')}`;
    const uploads: { from: string; to: string }[] = [];
    const inside = args.map((arg) => {
      const m = /^(--[a-z-]+=)?(\/.+)$/.exec(arg);
      if (!m || !isFile(m[2]!)) return arg;
      const to = `${dir}/${uploads.length}-${path.basename(m[2]!)}`;
      uploads.push({ from: m[2]!, to });
      return (m[1] ?? '') + to;
    });
    const entries = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const prepare = uploads.length ? () => this.#upload(dir, uploads) : undefined;
    // pg_dump's output and pg_restore's or psql's input are the big streams: those skip the
    // engine's exec stream where a FIFO can carry them (proc-pipe.ts).
    const proc = (options.input || tool === 'pg_dump') && !(this.#known && 'why' in this.#known)
      ? execThroughFifo(this.#container, [tool, ...inside], { env: entries, input: options.input, fill: options.fill }, () => this.#fifo(), prepare)
      : execIn(this.#container, [tool, ...inside], { env: entries, input: options.input }, prepare);
    if (uploads.length) {
      const clean = () => void execText(this.#container, ['rm', '-rf', dir]).catch(() => undefined);
      proc.once('close', clean);
      proc.once('error', clean);
    }
    return proc;
  }

  async #upload(dir: string, files: { from: string; to: string }[]): Promise<void> {
    for (const f of files) {
      // A dump to restore is the big stream of a restore: through a FIFO too where one works.
      const cmd = ['sh', '-c', 'mkdir -p "$1" && cat > "$2"', 'sh', dir, f.to];
      const proc = this.#known && 'why' in this.#known ? execIn(this.#container, cmd, { input: true }) : execThroughFifo(this.#container, cmd, { input: true }, () => this.#fifo());
      let err = '';
      proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      proc.stdout.resume();
      const closed = once(proc, 'close');
      await pipeline(createReadStream(f.from), proc.stdin!);
      const [code] = (await closed) as [number | null];
      if (code !== 0) throw new LifeboatError('E_DOCKER', `cannot copy ${path.basename(f.from)} into the ${this.where}: ${err.trim() || `exit ${code}`}`);
    }
  }

  /** The route, chosen once with the tools: a FIFO made and seen from here, else the exec stream. */
  async #transport(): Promise<Route> {
    await this.tools();
    return this.#known!;
  }

  /** A FIFO for one run, or undefined for the exec stream (from then on, for every run). */
  async #fifo(): Promise<ContainerFifo | undefined> {
    const route = await this.#transport();
    if (!('root' in route)) return undefined;
    const spare = this.#spare;
    if (spare) {
      this.#spare = undefined;
      process.off('exit', spare.drop);
      clearTimeout(spare.timer);
      return spare.fifo;
    }
    try {
      return await ContainerFifo.make(this.#container, route.root);
    } catch (err) {
      if (!(err instanceof PipeUnavailable) || process.env.LIFEBOAT_DOCKER_TRANSPORT === 'pipe') throw err;
      this.#known = { why: err.message };
      if (process.env.LIFEBOAT_DEBUG) process.stderr.write(`${this.where}: the exec stream from now on: ${err.message}\n`);
      return undefined;
    }
  }

  socket(): Duplex {
    return serverSocket(this.#direct, this.#container, this.#port, this.where);
  }

  /**
   * The client tools in the container and how their streams travel, learned once per run by one
   * exec: `pg_dump --version`, and `mkfifo` of the first run's FIFO, whose being seen from here
   * proves the FIFO route. Callers may start it early (target.ts): it runs beside the first
   * connection.
   */
  tools(): Promise<PgTools> {
    this.#tools ??= this.#probe();
    return this.#tools;
  }

  async #probe(): Promise<PgTools> {
    const forced = process.env.LIFEBOAT_DOCKER_TRANSPORT;
    let root: string | undefined;
    let why = 'LIFEBOAT_DOCKER_TRANSPORT=stream';
    if (forced !== 'stream') {
      try {
        root = await procRoot(this.#container, this.#pid);
      } catch (err) {
        why = (err as Error).message;
      }
    }
    const inside = root ? ContainerFifo.newPath() : undefined;
    // mkfifo's failure is told from pg_dump's by its exit code, moved past any tool's own.
    let r = await execText(this.#container, inside ? ['sh', '-c', 'pg_dump --version || exit; mkfifo -m 600 "$1" || exit $((100 + $?))', 'sh', inside] : ['pg_dump', '--version']);
    let m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(r.stdout);
    if (inside && !m) {
      // No sh in the image, or no pg_dump: asked alone, pg_dump says which.
      why = `sh did not run: ${r.stderr.trim() || `exit ${r.code}`}`;
      root = undefined;
      r = await execText(this.#container, ['pg_dump', '--version']);
      m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(r.stdout);
    }
    if (!m || (r.code !== 0 && !(inside && root && r.code !== null && r.code >= 100))) {
      throw new LifeboatError('E_PG_TOOL', `pg_dump does not run in the ${this.where}: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`}`, {
        hint: 'the official postgres images carry pg_dump; for another image set postgres.url and use host tools',
      });
    }
    if (root && inside) {
      try {
        const fifo = await ContainerFifo.check(this.#container, root, inside, { code: r.code! >= 100 ? r.code! - 100 : r.code, stderr: r.stderr });
        // Dropped when no run took it, at exit or after a minute (a server runs on): through
        // /proc, which needs no engine call. A run after that makes its own.
        const drop = () => {
          if (this.#spare?.fifo !== fifo) return;
          this.#spare = undefined;
          process.off('exit', drop);
          try {
            unlinkSync(fifo.outside);
          } catch {
            // Gone with the container.
          }
        };
        process.once('exit', drop);
        this.#spare = { fifo, drop, timer: setTimeout(drop, 60_000).unref() };
      } catch (err) {
        why = (err as Error).message;
        root = undefined;
      }
    }
    if (!root && forced === 'pipe') {
      throw new LifeboatError('E_DOCKER', `LIFEBOAT_DOCKER_TRANSPORT=pipe, but no FIFO reaches into the ${this.where}: ${why}`);
    }
    this.#known = root ? { root } : { why };
    // The route is named where the tools are logged (`using pg_dump 16.4 from ...`): the one
    // place a user sees why a dump went the slow way.
    const sessions = this.#direct ? 'sessions over TCP' : 'sessions through the exec';
    return {
      dir: root ? `${this.where} through a FIFO, ${sessions}` : `${this.where} through the exec stream (${why}), ${sessions}`,
      major: Number(m[1]),
      version: m[2] ? `${m[1]}.${m[2]}` : m[1]!,
      pgDump: 'pg_dump',
      pgDumpall: 'pg_dumpall',
      pgRestore: 'pg_restore',
      psql: 'psql',
    };
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
