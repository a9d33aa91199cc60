// A tool run in a container with its big stream (pg_dump's output, pg_restore's input) through a
// FIFO there (container-fifo.ts), bypassing the engine's exec stream (containerd-shim -> dockerd ->
// hijacked HTTP frames), which moved a dump at a third of the speed pg_dump makes it
// (bench/README.md).

import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { ToolProcess } from '../postgres/tool-exec.ts';
import { fillerFrom, type Filler } from '../util/pipe.ts';
import type { ContainerFifo } from './container-fifo.ts';
import { execIn, type ExecOptions } from './exec.ts';

/**
 * `cmd` run in the container with its output, or with `input` its input, through a FIFO that
 * `setup` makes; stderr (and, for input, stdout) through the exec stream as before. When `setup`
 * gives no FIFO, `cmd` runs plainly through the exec stream. Shaped like execIn's process.
 */
export function execThroughFifo(
  container: Dockerode.Container,
  cmd: string[],
  options: ExecOptions & { input: boolean; fill?: boolean },
  setup: () => Promise<ContainerFifo | undefined>,
  prepare?: () => Promise<void>,
): ToolProcess {
  const proc = new EventEmitter() as ToolProcess;
  const stdout = new PassThrough({ highWaterMark: 1 << 20 });
  const stderr = new PassThrough();
  const stdin = options.input ? new Relay() : null;
  let fifo: ContainerFifo | undefined;
  let inner: ToolProcess | undefined;
  let exec: Dockerode.Exec | undefined;
  let stopping: Promise<void> | undefined;
  Object.assign(proc, {
    stdout,
    stderr,
    stdin,
    kill: () => {
      if (stopping) return true;
      fifo?.close();
      // The tool's host PID, before the exec's connection is cut.
      stopping = (exec ? exec.inspect().then((s) => s.Pid && fifo?.signal(s.Pid), () => undefined) : Promise.resolve()).then(() => undefined);
      inner?.kill();
      return true;
    },
  });
  // The reader gave up (a failed backup): the tool's next write is its SIGPIPE.
  if (!options.input) stdout.once('close', () => fifo?.close());
  // With `fill`, output through a FIFO is read straight into the caller's buffers; through the
  // exec stream, from stdout as before. Which one is known once the FIFO is (or is not) made.
  let setFill: (f: Filler | undefined) => void = () => undefined;
  let drained: () => void = () => undefined;
  if (options.fill && !options.input) {
    const source = new Promise<Filler | undefined>((resolve) => (setFill = resolve));
    let fromStdout: Filler | undefined;
    proc.fill = async (into, onBytes) => ((await source) ?? (fromStdout ??= fillerFrom(stdout)))(into, onBytes);
  }
  const run = async (): Promise<[number | null, NodeJS.Signals | null]> => {
    await prepare?.();
    fifo = await setup();
    try {
      return await attach();
    } finally {
      fifo?.close();
      await fifo?.remove();
    }
  };
  const attach = async (): Promise<[number | null, NodeJS.Signals | null]> => {
    if (stopping) throw new Error('killed before it started');
    let end: net.Socket | undefined;
    let filled: Promise<void> | undefined;
    if (fifo && options.fill && !options.input) {
      const reader = fifo.pipeReader();
      filled = new Promise<void>((resolve) => (drained = resolve));
      // Short only at the end of the output, or once closed (kill, or the reader gave up).
      setFill(async (into, onBytes) => {
        try {
          const n = await reader.fill(into, onBytes);
          if (n < into.length) drained();
          return n;
        } catch (err) {
          drained();
          throw err;
        }
      });
      stdout.once('close', () => drained());
    }
    setFill(undefined);
    if (fifo) {
      if (!options.input && !filled) end = fifo.reader();
      const redirect = options.input ? 'exec "$@" < "$0"' : 'exec "$@" > "$0"';
      inner = execIn(container, ['sh', '-c', redirect, fifo.inside, ...cmd], { ...options, input: false, started: (e) => (exec = e) });
    } else {
      inner = execIn(container, cmd, options);
    }
    let gone = false;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      inner!.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve([code, signal]));
      inner!.once('error', reject);
    }).finally(() => (gone = true));
    exited.catch(() => undefined);
    inner.stderr.pipe(stderr);
    if (filled) {
      inner.stdout.resume();
    } else if (!options.input) {
      (end ?? inner.stdout).pipe(stdout);
      if (end) inner.stdout.resume();
      // A read end closed by kill() ends the output too (pipe() ends it only at the end of data).
      end?.once('close', () => stdout.writableEnded || stdout.end());
    } else {
      inner.stdout.pipe(stdout);
      inner.stdin?.on('error', () => undefined);
      if (fifo) end = await fifo.writer(() => gone);
      // Input the tool never opened is dropped, so its writer finishes and sees the exit.
      stdin!.to(fifo ? (end ?? null) : inner.stdin!);
    }
    end?.on('error', () => undefined);
    const ended = filled ?? (end ? new Promise((resolve) => end.once('close', resolve)) : Promise.resolve());
    const [code, signal] = await exited;
    if (stopping) await stopping;
    // The tool is gone: the reader now sees the end of its output once drained.
    fifo?.release();
    if (options.input && fifo) {
      // Input the tool no longer reads is dropped, so its writer finishes and sees the exit.
      stdin!.to(null);
      fifo.close();
    }
    await ended;
    return [code, signal];
  };
  run().then(
    ([code, signal]) => proc.emit('close', code, stopping ? 'SIGTERM' : signal),
    (err: unknown) => {
      setFill(undefined);
      stdin?.to(null);
      stdout.end();
      stderr.end();
      proc.emit('error', err);
    },
  );
  return proc;
}

/**
 * A tool's input before its destination is known. A write's callback fires only once the
 * destination has taken the bytes (a pipe: once they are in the kernel), as a child process's
 * stdin does: callers reuse their buffers after it (jobs/restore-stream.ts).
 */
class Relay extends Writable {
  #set: (to: Writable | null) => void = () => undefined;
  #to: Promise<Writable | null> = new Promise((resolve) => (this.#set = resolve));
  #dropping = false;

  /** Sends the input to `to`, or with null drops it from now on. */
  to(to: Writable | null): void {
    if (to === null) this.#dropping = true;
    this.#set(to);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    void this.#to.then((to) => (to && !this.#dropping ? to.write(chunk, done) : done()));
  }

  override _final(done: (err?: Error | null) => void): void {
    void this.#to.then((to) => (to && !this.#dropping ? to.end(() => done()) : done()));
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    void this.#to.then((to) => to?.destroy());
    this.#dropping = true;
    this.#set(null);
    done(err);
  }
}
