import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInProcess } from './in-process.ts';

const BIN = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));
/** Where the test servers keep initdb's output (support/postgres.ts). */
const INITDB_CACHE = fileURLToPath(new URL('../../node_modules/.cache/lifeboat-initdb', import.meta.url));

export interface WorkspaceOptions {
  /**
   * The home's cache/ (where verify and drill keep initdb's output for their scratch clusters)
   * is the test servers' own: a fresh home's first scratch cluster is copied from a template
   * instead of made by initdb (1.6 against 0.7 CPU-s). For tests of what a scratch cluster
   * holds, not of how its first one is made; the home then exists (0700) before the first run.
   */
  sharedInitdb?: boolean;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = unknown>(): T;
}

/** A temp directory with a lifeboat.yaml, a storage directory and a catalog home. */
export interface Workspace {
  dir: string;
  config: string;
  storage: string;
  home: string;
  writeConfig(yaml: string): void;
  /** Runs the real CLI (bin/lifeboat.js) in a child process. */
  cli(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }): Promise<CliResult>;
  /**
   * Runs the CLI's main() in this process (support/in-process.ts): the same command, output and
   * exit code without a Node start, for runs whose process is not what the test is about.
   */
  run(args: string[], opts?: { env?: NodeJS.ProcessEnv; input?: string }): Promise<CliResult>;
  /** Starts the CLI and returns the child, for tests that signal it. */
  spawnCli(args: string[], opts?: { env?: NodeJS.ProcessEnv }): ReturnType<typeof spawn>;
  remove(): void;
}

export function workspace(options: WorkspaceOptions = {}): Workspace {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-ws-'));
  const storage = path.join(dir, 'storage');
  const home = path.join(dir, 'home');
  mkdirSync(storage);
  if (options.sharedInitdb) {
    mkdirSync(home, { mode: 0o700 });
    mkdirSync(INITDB_CACHE, { recursive: true });
    symlinkSync(INITDB_CACHE, path.join(home, 'cache'));
  }
  const config = path.join(dir, 'lifeboat.yaml');
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, LIFEBOAT_CONFIG: config, LIFEBOAT_HOME: home, ...extra });
  const spawnCli = (args: string[], opts: { env?: NodeJS.ProcessEnv } = {}) =>
    spawn(process.execPath, [BIN, ...args], { cwd: dir, env: env(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    dir,
    config,
    storage,
    home,
    writeConfig: (yaml) => writeFileSync(config, yaml),
    spawnCli,
    cli: (args, opts = {}) =>
      new Promise((resolve, reject) => {
        const child = spawnCli(args, opts);
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.stdin!.end(opts.input ?? '');
        child.on('error', reject);
        child.on('close', (code) =>
          resolve({ code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T }),
        );
      }),
    run: async (args, opts = {}) => {
      const r = await runInProcess(args, { LIFEBOAT_CONFIG: config, LIFEBOAT_HOME: home, ...opts.env }, dir, opts.input);
      return { ...r, json: <T>() => JSON.parse(r.stdout) as T };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
