// Commands inside a container through the exec API, as child-process-like objects: stdout and
// stderr demultiplexed with backpressure, stdin half-closable, the exit code at the end.

import { EventEmitter, once } from 'node:events';
import { PassThrough, type Duplex } from 'node:stream';
import type Dockerode from 'dockerode';
import type { ToolProcess } from '../postgres/tool-exec.ts';

/** What a process inside a container needs besides its command. */
export interface ExecOptions {
  /** `NAME=value` entries added to the container's own environment. */
  env?: string[];
  input?: boolean;
  user?: string;
  /** Called once the engine has started the command: its `inspect()` gives the process's host PID. */
  started?: (exec: Dockerode.Exec) => void;
}

/**
 * With LIFEBOAT_DEBUG, every exec this process ran, with its time from create to exit, printed at
 * exit: what a command costs in engine round trips (bench/README.md counts them per backup).
 */
const debugged: string[] | undefined = process.env.LIFEBOAT_DEBUG ? [] : undefined;
if (debugged) process.once('exit', () => process.stderr.write(`lifeboat: ${debugged.length} docker exec(s): ${debugged.join('; ')}\n`));

/** A command in a few words, without its environment (where the password travels). */
function describe(cmd: string[]): string {
  const script = cmd[0] === 'sh' || cmd[0] === 'bash' ? (cmd[2] ?? '') : cmd.join(' ');
  return `${cmd[0] === 'sh' || cmd[0] === 'bash' ? `${cmd[0]} -c ` : ''}${script}`.replace(/\s+/g, ' ').slice(0, 48);
}

/**
 * Starts `cmd` in the container. Returns at once; a failure to start is an `error` event, the
 * end a `close` event with the exit code, both after stdout and stderr have ended.
 */
export function execIn(container: Dockerode.Container, cmd: string[], options: ExecOptions = {}, prepare?: () => Promise<void>): ToolProcess {
  const proc = new EventEmitter() as ToolProcess;
  // A dump streams through here: room for a few of the engine's frames between turns.
  const stdout = new PassThrough({ highWaterMark: 1 << 20 });
  const stderr = new PassThrough();
  const stdin = options.input ? new PassThrough() : null;
  let socket: Duplex | undefined;
  let killed = false;
  Object.assign(proc, {
    stdout,
    stderr,
    stdin,
    kill: () => {
      killed = true;
      // The exec API has no kill: cutting the connection ends the tool by EOF or SIGPIPE.
      socket?.destroy();
      return true;
    },
  });
  const run = async () => {
    await prepare?.();
    const started = performance.now();
    const exec = await container.exec({
      Cmd: cmd, Env: options.env, User: options.user,
      AttachStdin: options.input === true, AttachStdout: true, AttachStderr: true, Tty: false,
    });
    if (killed) throw new Error('killed before it started');
    socket = (await exec.start({ hijack: true, stdin: options.input === true })) as unknown as Duplex;
    options.started?.(exec);
    if (killed) socket.destroy();
    if (stdin) {
      // End of input half-closes the connection: the engine closes the tool's stdin.
      stdin.pipe(socket);
    }
    socket.on('error', () => undefined);
    await demux(socket, stdout, stderr);
    stdout.end();
    stderr.end();
    if (killed) return { code: null, signal: 'SIGTERM' as const };
    // The output ends a moment before the engine records the exit.
    for (let i = 0; ; i++) {
      const state = await exec.inspect();
      if (!state.Running || i > 100) {
        debugged?.push(`${describe(cmd)} ${Math.round(performance.now() - started)} ms`);
        return { code: state.ExitCode ?? null, signal: null };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  run().then(
    ({ code, signal }) => proc.emit('close', code, signal),
    (err: unknown) => {
      stdout.end();
      stderr.end();
      proc.emit('error', err);
    },
  );
  return proc;
}

/** The engine's multiplexed stream: frames of [stream, 0, 0, 0, length (4 bytes BE)] + payload. */
async function demux(source: Duplex, stdout: PassThrough, stderr: PassThrough): Promise<void> {
  let pending: Buffer = Buffer.alloc(0);
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= 8) {
        const size = pending.readUInt32BE(4);
        if (pending.length < 8 + size) break;
        const payload = pending.subarray(8, 8 + size);
        const into = pending[0] === 2 ? stderr : stdout;
        pending = pending.subarray(8 + size);
        if (!into.write(payload)) await once(into, 'drain');
      }
    }
  } catch {
    // A cut connection ends the output; the exit code (or the kill) says the rest.
  }
}

/** Runs a command to its end and returns its stdout; rejects with its stderr when it fails. */
export async function execText(container: Dockerode.Container, cmd: string[], options: ExecOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = execIn(container, cmd, options);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code] = (await Promise.race([once(proc, 'close'), once(proc, 'error').then(([e]) => Promise.reject(e as Error))])) as [number | null];
  return { code, stdout: out, stderr: err };
}
