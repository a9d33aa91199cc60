// The CLI's own main() run inside the test's process: the same parsing, command code, output
// and exit code as bin/lifeboat.js, without the ~0.7 s of CPU a Node start and the load of
// every module cost per run (on a 2-core CI machine most of a CLI-heavy test file's time). For
// the runs a test makes to set something up or to read a result; a test about the process
// itself (signals, kills, a terminal, stdin, the Node version check) spawns the real one.
import { enableCompileCache } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';

// The first run loads the CLI's modules, each type-stripped and compiled: ~0.3 s of CPU per
// test file that the compile cache saves once any file (or any spawned CLI: bin/lifeboat.js uses
// the same directory) has compiled them. Modules a test file imports statically are loaded before
// this runs, so only the CLI's (imported at the first run) are cached.
enableCompileCache?.(process.env.NODE_COMPILE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifeboat', 'compile-cache'));

/** What a run printed and returned, as the spawned CLI's result has it. */
export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs are one at a time: each swaps process-wide state (streams, env, cwd, exitCode) while it runs. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `lifeboat <args>` in this process with `env` set and `cwd` as the working directory,
 * stdout and stderr captured, and stdin a pipe (not a terminal) holding `input`, as workspace.cli has it.
 */
export function runInProcess(args: string[], env: Record<string, string | undefined>, cwd: string, input = ''): Promise<InProcessResult> {
  const run = queue.then(() => runNow(args, env, cwd, input));
  queue = run.catch(() => undefined);
  return run;
}

function sink(into: (text: string) => void): NodeJS.WriteStream {
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      into(chunk.toString());
      callback();
    },
  });
  return Object.assign(stream, { isTTY: false, columns: 80 }) as unknown as NodeJS.WriteStream;
}

async function runNow(args: string[], env: Record<string, string | undefined>, cwd: string, input: string): Promise<InProcessResult> {
  const { main } = await import('../../src/cli/main.ts');
  let stdout = '';
  let stderr = '';
  const streams = {
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    stdin: Object.assign(Readable.from(input ? [Buffer.from(input)] : []), { isTTY: false }),
  };
  const saved = Object.fromEntries(Object.keys(streams).map((k) => [k, Object.getOwnPropertyDescriptor(process, k)!]));
  const savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const savedCwd = process.cwd();
  const savedExitCode = process.exitCode;
  for (const [k, v] of Object.entries(streams)) Object.defineProperty(process, k, { configurable: true, enumerable: true, get: () => v });
  const setEnv = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  setEnv(env);
  process.chdir(cwd);
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.exitCode = savedExitCode;
    process.chdir(savedCwd);
    setEnv(savedEnv);
    for (const [k, d] of Object.entries(saved)) Object.defineProperty(process, k, d);
  }
}
