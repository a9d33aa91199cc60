import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import { LifeboatError } from '../errors.ts';
import { fillerFrom, PipeReader, type Filler } from '../util/pipe.ts';
import { spawnGuarded } from '../util/process-group.ts';
import type { PgTools } from './binaries.ts';
import { connect, redactUrl, remoteToolEnv, toolEnv, type PgEndpoint } from './connection.ts';
import type { ToolProcess } from './tool-exec.ts';
import { ToolStderr } from './tool-errors.ts';

/** A running client tool: its output stream and a promise for its exit. */
export interface ToolRun {
  stdout: Readable;
  /** The tool's standard input, when run with `input: true`. */
  stdin?: Writable;
  /** The output as a Filler, where the tool elsewhere gives one (`fill: true`; tool-exec.ts). */
  fill?: Filler;
  /** Resolves when the tool exits 0; rejects with its stderr otherwise. */
  done: Promise<void>;
}

/**
 * Runs a libpq tool with the password in the environment. Aborting the signal kills it;
 * a non-zero exit rejects `done` with the tool's own last words.
 */
export function runTool(bin: string, args: string[], endpoint: PgEndpoint, signal?: AbortSignal, options: { input?: boolean; fill?: boolean } = {}): ToolRun {
  if (endpoint.exec) {
    // Inside the server's container: the tool by its name there, the same streams here.
    const proc = endpoint.exec.start(toolName(bin), args, remoteToolEnv(endpoint), { input: options.input === true, fill: options.fill });
    proc.stdin?.on('error', () => undefined);
    return { stdout: proc.stdout, stdin: proc.stdin ?? undefined, fill: proc.fill, done: watch(proc, bin, endpoint, signal) };
  }
  // In its own process group, which dies with Lifeboat even on kill -9 (util/process-group.ts).
  const child = spawnGuarded(bin, args, { env: toolEnv(endpoint), stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  // A tool that exits early closes its input: the writer sees the exit through `done`, not EPIPE.
  child.stdin?.on('error', () => undefined);
  return { stdout: child.stdout!, stdin: child.stdin ?? undefined, done: watch(child, bin, endpoint, signal) };
}

/**
 * Resolves when a tool exits 0; rejects otherwise with the ERROR/FATAL lines it printed
 * (tool-errors.ts), or its last words when it printed none. Aborting the signal
 * kills it. The caller awaits it after draining the output; it never goes unhandled meanwhile.
 */
function watch(child: ChildProcess | ToolProcess, bin: string, endpoint: PgEndpoint, signal?: AbortSignal): Promise<void> {
  const kill = () => child.kill('SIGTERM');
  // A signal that fired before the tool started fires no event: the tool would live on,
  // waiting for input nobody sends, and keep the process from ending.
  if (signal?.aborted) kill();
  else signal?.addEventListener('abort', kill, { once: true });
  const stderr = new ToolStderr();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => stderr.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new LifeboatError('E_PG_TOOL', `cannot run ${bin}: ${err.message}`, { cause: err })),
    );
    child.on('close', (code, sig) => {
      signal?.removeEventListener('abort', kill);
      if (code === 0) return resolve();
      if (signal?.aborted) return reject(new LifeboatError('E_ABORTED', 'the operation was cancelled'));
      const tool = toolName(bin);
      const why = stderr.summary() || (sig ? `killed by ${sig}` : `exit ${code}`);
      const where = endpoint.exec ? ` in the ${endpoint.exec.where}` : '';
      reject(new LifeboatError('E_PG_DUMP', `${tool} failed on ${redactUrl(endpoint.url)}${where}: ${why}`));
    });
  });
  done.catch(() => undefined);
  return done;
}

/**
 * A repeatable-read transaction whose snapshot is exported: pg_dump --snapshot and the row
 * counts read here see exactly the same data. Keep it open until pg_dump has finished: and
 * since an error in it ends it (pg_dump then fails with `could not import the requested snapshot
 * (The source process ... is not running anymore)`), nothing run in it may fail for a reason
 * of its own. JIT is off in it, as pg_dump turns it off for its own session: a count over a big
 * table passes jit_above_cost, and a server whose JIT library cannot load (llvmjit without its
 * libLLVM) fails that count.
 */
export interface Snapshot {
  client: pg.Client;
  id: string;
  close(): Promise<void>;
}

export async function openSnapshot(endpoint: PgEndpoint): Promise<Snapshot> {
  const client = await connect(endpoint);
  try {
    // One round trip. set_config from pg_settings: servers before 11 have no jit to set.
    const results = (await client.query(`begin isolation level repeatable read read only;
      select set_config(name, 'off', true) from pg_settings where name = 'jit';
      select pg_export_snapshot() as id`)) as unknown as pg.QueryResult<{ id: string }>[];
    return {
      client,
      id: results[2]!.rows[0]!.id,
      // Closing the connection ends the transaction; no rollback round trip, which would wait
      // behind a count still blocked on a lock when the backup is cancelled.
      close: () => client.end().catch(() => undefined),
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

/** A running pg_dump: its output, read into the caller's buffers, and its exit. */
export interface DumpRun {
  /** Short only at the dump's end (or where pg_dump died: `done` then says why). */
  fill: Filler;
  done: Promise<void>;
  /** Closes the pipe; call it on every path once reading is over. */
  close(): void;
}

/**
 * pg_dump in custom format, uncompressed (the bundle compresses), reading the exported snapshot.
 * Its output comes through a pipe read straight into the caller's buffers (util/pipe.ts says why).
 */
export async function pgDump(tools: PgTools, endpoint: PgEndpoint, snapshotId: string, signal?: AbortSignal, extraArgs: string[] = [], tempDir?: string): Promise<DumpRun> {
  const args = ['--format=custom', '--compress=0', `--snapshot=${snapshotId}`, '--no-password', ...extraArgs, `--dbname=${endpoint.url}`];
  if (endpoint.exec) {
    const run = runTool(tools.pgDump, args, endpoint, signal, { fill: true });
    return { fill: run.fill ?? fillerFrom(run.stdout as AsyncIterable<Buffer>), done: run.done, close: () => run.stdout.destroy() };
  }
  const pipe = await PipeReader.open(tempDir);
  const bin = tools.pgDump;
  let child: ChildProcess;
  try {
    child = spawnGuarded(bin, args, {
      env: toolEnv(endpoint),
      stdio: ['ignore', pipe.writeFd, 'pipe'],
    });
  } catch (err) {
    pipe.destroy();
    throw err;
  } finally {
    // The child has its own copy: the reader sees the end when pg_dump exits.
    pipe.closeWriteEnd();
  }
  return { fill: pipe.fill, done: watch(child, bin, endpoint, signal), close: () => pipe.destroy() };
}

/**
 * Roles and tablespaces. Reading role passwords needs superuser; without it the roles are still
 * dumped, without passwords, and the returned warning says so.
 */
export async function dumpGlobals(
  tools: PgTools,
  endpoint: PgEndpoint,
  signal?: AbortSignal,
): Promise<{ sql: Buffer; warning?: string }> {
  const attempt = async (extra: string[]) => {
    const run = runTool(tools.pgDumpall, ['--globals-only', '--no-password', ...extra, `--dbname=${endpoint.url}`], endpoint, signal);
    const chunks: Buffer[] = [];
    for await (const chunk of run.stdout) chunks.push(chunk as Buffer);
    await run.done;
    return Buffer.concat(chunks);
  };
  try {
    return { sql: await attempt([]) };
  } catch (err) {
    if (!(err instanceof LifeboatError) || !/permission denied/i.test(err.message)) throw err;
    return {
      sql: await attempt(['--no-role-passwords']),
      warning: 'roles were dumped without passwords: reading them needs a superuser connection',
    };
  }
}

/** `pg_dump` of `/usr/lib/postgresql/15/bin/pg_dump`. */
function toolName(bin: string): string {
  return bin.split('/').pop()!;
}
