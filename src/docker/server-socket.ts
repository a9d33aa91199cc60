// The byte stream from this process to the PostgreSQL server in a container, for the node
// driver's `stream` option (introspection, the snapshot's session): plain TCP where this process
// shares the container's network, else a TCP connection made inside the container and carried
// over an exec.

import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';
import type { ToolProcess } from '../postgres/tool-exec.ts';
import { execIn } from './exec.ts';

/**
 * Whether the container with this ID and host PID is in this process's network namespace (host
 * networking, or Lifeboat in the container's network): then 127.0.0.1:<port> here is the very
 * socket the server listens on there, and a connection to it is the same as one made inside.
 * The PID's cgroup naming the container proves the PID is that container's here (not a number
 * from another host's engine or another PID namespace). Needs root, as /proc/<pid>/ns does.
 * LIFEBOAT_DOCKER_CONNECT=exec always carries connections over the exec.
 */
export function sharesNetwork(id: string, pid: number | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!pid || env.LIFEBOAT_DOCKER_CONNECT === 'exec') return false;
  try {
    if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id)) return false;
    const theirs = statSync(`/proc/${pid}/ns/net`);
    const ours = statSync('/proc/self/ns/net');
    return theirs.ino === ours.ino && theirs.dev === ours.dev;
  } catch {
    return false;
  }
}

/**
 * A TCP connection to the server from inside the container, carried over the exec's stdin and
 * stdout: the database needs no published port. bash's /dev/tcp is in every official image
 * (their entrypoint is a bash script). When the driver ends its side, the reader is stopped:
 * the server has already been told to close by then.
 */
const TUNNEL = 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 3; cat <&3 & cat >&3; kill $! 2>/dev/null; wait';

/** The tunnel as the socket node-postgres expects (its `stream` option): connect, then bytes. */
export class TunnelSocket extends Duplex {
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

/** The stream for one connection: the driver calls its connect(port, host) with the URL's 127.0.0.1. */
export function serverSocket(direct: boolean, container: Dockerode.Container, port: number, where: string): Duplex {
  return direct ? new net.Socket() : new TunnelSocket(container, port, where);
}
