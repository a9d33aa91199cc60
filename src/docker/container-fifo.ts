// A named pipe inside a container, made there with its own mkfifo and opened by this process
// through /proc/<pid>/root (proc-pipe.ts runs tools through it).

import { randomBytes } from 'node:crypto';
import { closeSync, constants, lstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import type Dockerode from 'dockerode';
import { PipeReader } from '../util/pipe.ts';
import { execText } from './exec.ts';

/** Why the container's file system cannot be reached from here: the exec stream is used instead. */
export class PipeUnavailable extends Error {}

/**
 * The container's root as this process sees it, `/proc/<pid>/root`. Seeing it takes the engine
 * on this host, in this PID namespace, and the right to enter another process's root (root, or
 * CAP_SYS_PTRACE over it); the FIFO's own check (ContainerFifo.check) proves the rest. `known`: the
 * PID from an inspect this run already made.
 */
export async function procRoot(container: Dockerode.Container, known?: number): Promise<string> {
  const pid = known ?? (await container.inspect()).State?.Pid;
  if (!pid) throw new PipeUnavailable('the engine reports no process id for the container');
  const root = `/proc/${pid}/root`;
  try {
    statSync(`${root}/tmp`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new PipeUnavailable(`${root} may not be entered by uid ${process.getuid?.()} (it takes root)`);
    }
    if (code === 'ENOENT' && !exists(`/proc/${pid}`)) {
      throw new PipeUnavailable(`no process ${pid} here: the engine runs on another host, or Lifeboat in a container of its own`);
    }
    throw new PipeUnavailable(`${root}/tmp is not reachable: ${code ?? (err as Error).message}`);
  }
  return root;
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * One FIFO in the container's /tmp, for one run of a tool. Nothing here ever blocks in open(),
 * whether or not the tool gets as far as opening the FIFO: see reader() and writer().
 */
export class ContainerFifo {
  /** The FIFO's path inside the container. */
  readonly inside: string;
  /** The same FIFO seen from this process. */
  readonly outside: string;
  readonly #container: Dockerode.Container;
  /** The end this process holds only so that opening never blocks: a writer or a reader. */
  #helper: number | undefined;
  #stream: net.Socket | undefined;
  #reader: PipeReader | undefined;
  #closed = false;

  readonly #root: string;

  private constructor(container: Dockerode.Container, root: string, inside: string) {
    this.#container = container;
    this.#root = root;
    this.inside = inside;
    this.outside = root + inside;
  }

  /** A fresh name for a FIFO in the container's /tmp. */
  static newPath(): string {
    return `/tmp/lifeboat-${randomBytes(8).toString('hex')}.fifo`;
  }

  /** Makes the FIFO (mkfifo inside the container) and checks that this process sees that very one. */
  static async make(container: Dockerode.Container, root: string): Promise<ContainerFifo> {
    const inside = ContainerFifo.newPath();
    let made;
    try {
      made = await execText(container, ['mkfifo', '-m', '600', inside]);
    } catch (err) {
      throw new PipeUnavailable(`mkfifo did not run in the container: ${(err as Error).message}`);
    }
    return ContainerFifo.check(container, root, inside, made);
  }

  /**
   * The FIFO `mkfifo -m 600 <inside>` made in the container (its exit code and stderr), once this
   * process sees that very one through `root`; PipeUnavailable (and the FIFO removed) otherwise.
   */
  static async check(container: Dockerode.Container, root: string, inside: string, made: { code: number | null; stderr: string }): Promise<ContainerFifo> {
    if (made.code !== 0) {
      const why = made.code === 127 || made.code === 126 ? 'mkfifo is not in the image' : made.stderr.trim() || `exit ${made.code}`;
      throw new PipeUnavailable(`cannot make a FIFO in the container's /tmp: ${why}`);
    }
    const fifo = new ContainerFifo(container, root, inside);
    let seen = false;
    try {
      seen = lstatSync(fifo.outside).isFIFO();
    } catch {
      // Not there: another host's process, or another PID namespace's, has that number.
    }
    if (!seen) {
      await fifo.remove();
      throw new PipeUnavailable(`the FIFO made in the container is not at ${fifo.outside}: the engine runs on another host, or Lifeboat in a container of its own`);
    }
    return fifo;
  }

  /**
   * The read end, for a tool's output, with a write end held here so that the tool's open never
   * waits: the output ends once the tool has exited and `release` drops that.
   */
  reader(): net.Socket {
    const fd = openSync(this.outside, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      this.#helper = openSync(this.outside, constants.O_WRONLY);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#stream = new net.Socket({ fd, readable: true, writable: false });
    return this.#stream;
  }

  /** The read end as reader() opens it, read straight into the caller's buffers (util/pipe.ts). */
  pipeReader(): PipeReader {
    const fd = openSync(this.outside, constants.O_RDONLY | constants.O_NONBLOCK);
    let helper: number;
    try {
      helper = openSync(this.outside, constants.O_WRONLY);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    this.#reader = PipeReader.adopt(fd, helper);
    return this.#reader;
  }

  /**
   * The write end, for a tool's input: ending it is the tool's end of input. Opened only once the
   * tool's side waits in its open() (a write end opened and closed before that would leave it
   * waiting for a writer forever), polled without blocking; undefined when `gone` says the tool
   * ended without opening it, or when closed meanwhile.
   */
  async writer(gone: () => boolean): Promise<net.Socket | undefined> {
    let fd: number | undefined;
    while (fd === undefined) {
      if (this.#closed || gone()) return undefined;
      try {
        fd = openSync(this.outside, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    this.#stream = new net.Socket({ fd, readable: false, writable: true });
    // A pipe has no half-close: the end of input is closing it.
    this.#stream.once('finish', () => this.#stream?.destroy());
    return this.#stream;
  }

  /** Drops the write end held for opening, once the tool has exited: the reader then sees the end. */
  release(): void {
    this.#reader?.closeWriteEnd();
    // Once only: a second close could hit another file that got the same number meanwhile.
    if (this.#helper === undefined) return;
    closeSync(this.#helper);
    this.#helper = undefined;
  }

  /**
   * Stops the tool: with this process's end closed, pg_dump's next write is its SIGPIPE and
   * pg_restore or psql reads the end of its input. The exec API has no kill.
   */
  close(): void {
    this.#closed = true;
    this.#stream?.destroy();
    this.#reader?.destroy();
    this.release();
  }

  /** Removes the FIFO: through /proc, or inside the container when that is gone. Never throws. */
  async remove(): Promise<void> {
    try {
      unlinkSync(this.outside);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && exists(this.#root)) return;
    }
    await execText(this.#container, ['rm', '-f', this.inside]).catch(() => undefined);
  }

  /**
   * Sends SIGTERM to a process of the container by its host PID (what the engine's exec inspect
   * reports), for a tool that is not reading or writing and so would not see the FIFO close: one
   * waiting on a lock. Only while that PID is still in the container's mount namespace, so a
   * number reused by another process on this host is never signalled.
   */
  signal(hostPid: number): void {
    try {
      const theirs = statSync(`/proc/${hostPid}/ns/mnt`);
      const container = statSync(this.#root.replace(/\/root$/, '/ns/mnt'));
      if (theirs.ino !== container.ino || theirs.dev !== container.dev) return;
      process.kill(hostPid, 'SIGTERM');
    } catch {
      // Gone already.
    }
  }
}
