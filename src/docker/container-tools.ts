// The client tools inside a PostgreSQL container, behind postgres/tool-exec.ts: they always
// match their server's version, and the host needs none of its own.

import { randomBytes } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';
import type { PgTools } from '../postgres/binaries.ts';
import type { ToolExec, ToolProcess } from '../postgres/tool-exec.ts';
import { execIn, execText } from './exec.ts';
import { ContainerFifo, execThroughFifo, PipeUnavailable, procRoot } from './proc-pipe.ts';

/** How a tool's big stream travels: through a FIFO seen under `root`, or the exec stream, and why. */
type Route = { root: string } | { why: string };

/**
 * A TCP connection to the server from inside the container, carried over the exec's stdin and
 * stdout: the database needs no published port. bash's /dev/tcp is in every official image
 * (their entrypoint is a bash script). When the driver ends its side, the reader is stopped:
 * the server has already been told to close by then.
 */
const TUNNEL = 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 3; cat <&3 & cat >&3; kill $! 2>/dev/null; wait';

export class ContainerTools implements ToolExec {
  readonly where: string;
  readonly #container: Dockerode.Container;
  readonly #port: number;
  #route: Promise<Route> | undefined;
  /** The route once known: runs started after it is the exec stream take that path unwrapped. */
  #known: Route | undefined;

  constructor(container: Dockerode.Container, name: string, port: number) {
    this.#container = container;
    this.where = `container ${name}`;
    this.#port = port;
  }

  start(tool: string, args: string[], env: Record<string, string>, options: { input: boolean }): ToolProcess {
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
      ? execThroughFifo(this.#container, [tool, ...inside], { env: entries, input: options.input }, () => this.#fifo(), prepare)
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

  /** The route, chosen once: a FIFO made and seen from here, else the exec stream. */
  #transport(): Promise<Route> {
    this.#route ??= (async () => {
      const forced = process.env.LIFEBOAT_DOCKER_TRANSPORT;
      if (forced === 'stream') return { why: 'LIFEBOAT_DOCKER_TRANSPORT=stream' };
      try {
        const root = await procRoot(this.#container);
        await (await ContainerFifo.make(this.#container, root)).remove();
        return { root };
      } catch (err) {
        if (forced === 'pipe') {
          throw new LifeboatError('E_DOCKER', `LIFEBOAT_DOCKER_TRANSPORT=pipe, but no FIFO reaches into the ${this.where}: ${(err as Error).message}`);
        }
        return { why: (err as Error).message };
      }
    })();
    return this.#route.then((r) => (this.#known = r));
  }

  /** A FIFO for one run, or undefined for the exec stream (from then on, for every run). */
  async #fifo(): Promise<ContainerFifo | undefined> {
    const route = await this.#transport();
    if (!('root' in route)) return undefined;
    try {
      return await ContainerFifo.make(this.#container, route.root);
    } catch (err) {
      if (!(err instanceof PipeUnavailable) || process.env.LIFEBOAT_DOCKER_TRANSPORT === 'pipe') throw err;
      this.#known = { why: err.message };
      this.#route = Promise.resolve(this.#known);
      if (process.env.LIFEBOAT_DEBUG) process.stderr.write(`${this.where}: the exec stream from now on: ${err.message}\n`);
      return undefined;
    }
  }

  socket(): Duplex {
    return new TunnelSocket(this.#container, this.#port, this.where);
  }

  async tools(): Promise<PgTools> {
    const r = await execText(this.#container, ['pg_dump', '--version']);
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(r.stdout);
    if (r.code !== 0 || !m) {
      throw new LifeboatError('E_PG_TOOL', `pg_dump does not run in the ${this.where}: ${r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`}`, {
        hint: 'the official postgres images carry pg_dump; for another image set postgres.url and use host tools',
      });
    }
    // The route is named where the tools are logged (`using pg_dump 16.4 from ...`): the one
    // place a user sees why a dump went the slow way.
    const route = await this.#transport();
    return {
      dir: 'root' in route ? `${this.where} through a FIFO` : `${this.where} through the exec stream (${route.why})`,
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

/** The tunnel as the socket node-postgres expects (its `stream` option): connect, then bytes. */
class TunnelSocket extends Duplex {
  readonly #container: Dockerode.Container;
  readonly #port: number;
  readonly #where: string;
  #proc: ToolProcess | undefined;

  constructor(container: Dockerode.Container, port: number, where: string) {
    super();
    this.#container = container;
    this.#port = port;
    this.#where = where;
  }

  connect(): this {
    const proc = execIn(this.#container, ['bash', '-c', TUNNEL, 'lifeboat-tunnel', String(this.#port)], { input: true });
    this.#proc = proc;
    let err = '';
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    proc.stdout.on('data', (d: Buffer) => this.push(d));
    proc.on('error', (e: Error) => this.destroy(e));
    proc.on('close', (code: number | null) => {
      if (code === 0 || code === null) return void this.push(null);
      const why = code === 127 ? 'bash is not in the image' : err.trim() || `exit ${code}`;
      this.destroy(new LifeboatError('E_PG_CONNECT', `cannot reach PostgreSQL inside the ${this.#where} on port ${this.#port}: ${why}`));
    });
    queueMicrotask(() => this.emit('connect'));
    return this;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.#proc!.stdin!.write(chunk, done);
  }

  override _final(done: () => void): void {
    this.#proc?.stdin?.end();
    done();
  }

  override _read(): void {}

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.#proc?.stdin?.end();
    done(err);
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}
