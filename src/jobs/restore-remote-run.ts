import path from 'node:path';
import type { Job } from './job.ts';
import { shq, type ExecResult, type SshSession } from './restore-remote-ssh.ts';

/** The restore.sh options a remote restore passes on (see restore.sh --help). */
export interface RestoreShOptions {
  /** The server to restore into, without its password. */
  url?: string;
  /** Sent on stdin, exported as PGPASSWORD: never in the command line (ps) or a file. */
  password?: string;
  filesRoot?: string;
  globals?: boolean;
  clean?: boolean;
  jobs?: number;
  noOwner?: boolean;
  only?: string[];
  onlyFiles?: string[];
}

/** Where restore.sh's output goes as it comes, besides the job's log. */
export type OutputSink = (stream: 'stdout' | 'stderr', text: string) => void;

/** restore.sh's arguments, without --check. */
export function restoreShArgs(o: RestoreShOptions): string[] {
  const args: string[] = [];
  if (o.url) args.push('--url', o.url);
  if (o.globals) args.push('--globals');
  if (o.clean) args.push('--clean');
  if (o.jobs && o.jobs > 1) args.push('--jobs', String(o.jobs));
  if (o.noOwner) args.push('--no-owner');
  for (const db of o.only ?? []) args.push('--only', db);
  if (o.filesRoot) args.push('--files-root', o.filesRoot);
  for (const set of o.onlyFiles ?? []) args.push('--only-files', set);
  return args;
}

/**
 * Runs the unpacked bundle's restore.sh on the remote, its output handed to `output` and written
 * to the job's log line by line as it comes. The work directory holds restore.sh's state, so a
 * re-run there after a partial restore picks up where it stopped.
 */
export async function runRestoreSh(ssh: SshSession, bundleDir: string, o: RestoreShOptions, mode: 'check' | 'restore', job: Job, output?: OutputSink): Promise<ExecResult> {
  const args = [...(mode === 'check' ? ['--check'] : []), ...restoreShArgs(o)];
  const script = `bash ${shq(path.posix.join(bundleDir, 'restore.sh'))} ${args.map(shq).join(' ')}`;
  // `read` takes the password from stdin; restore.sh itself reads nothing from it.
  const command = o.password !== undefined ? `IFS= read -r PGPASSWORD && export PGPASSWORD && exec ${script}` : `exec ${script} </dev/null`;
  const lines = { stdout: new LineBuffer((l) => job.record('info', `restore.sh: ${l}`)), stderr: new LineBuffer((l) => job.record('warn', `restore.sh: ${l}`)) };
  const r = await ssh.exec(command, {
    stdin: o.password !== undefined ? `${o.password}\n` : undefined,
    signal: job.signal,
    onStdout: (t) => {
      lines.stdout.push(t);
      output?.('stdout', t);
    },
    onStderr: (t) => {
      lines.stderr.push(t);
      output?.('stderr', t);
    },
  });
  lines.stdout.end();
  lines.stderr.end();
  return r;
}

/** Cuts a stream of text into lines. */
class LineBuffer {
  #held = '';
  readonly #each: (line: string) => void;

  constructor(each: (line: string) => void) {
    this.#each = each;
  }

  push(text: string): void {
    const parts = (this.#held + text).split('\n');
    this.#held = parts.pop()!;
    for (const p of parts) this.#each(p);
  }

  end(): void {
    if (this.#held) this.#each(this.#held);
    this.#held = '';
  }
}
