import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { Socket } from 'node:net';
import { processStartMark } from './pid.ts';
import { track } from './resource-ledger.ts';

/**
 * Node has no prctl(PR_SET_PDEATHSIG): a child outlives a parent killed with -9 and keeps
 * running (a pg_restore filling a scratch database for minutes). So the tool starts in its own
 * process group beside a watchdog shell that blocks reading fd 3, a pipe only this process holds
 * the other end of. The kernel closes that end when this process dies, however it dies; the read
 * returns and the watchdog kills the group, the tool and any workers it forked (pg_restore -j).
 * The watchdog's stdio is /dev/null, so it never holds the tool's output open.
 */
const GUARD = '( read -r _ <&3; kill -9 0 ) </dev/null >/dev/null 2>&1 & exec 3<&-; exec "$@"';

/**
 * Spawns `bin` in its own process group that dies with this process (see GUARD), recorded in
 * the job's resource ledger while it runs. `stdio` covers fds 0-2; the child's pid is the
 * tool's own (the shell execs it), so signals sent to it reach the tool.
 */
export function spawnGuarded(bin: string, args: string[], options: { env?: NodeJS.ProcessEnv; stdio: ('ignore' | 'pipe' | number)[] }): ChildProcess {
  const stdio = options.stdio;
  if (!executable(bin)) {
    // Let spawn fail the ordinary way (an 'error' event naming ENOENT), not as the shell's exit 127.
    return spawn(bin, args, { env: options.env, stdio });
  }
  const record = track({ kind: 'process', location: '' });
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', GUARD, 'lifeboat-tool', bin, ...args], { env: options.env, stdio: [...stdio, 'pipe'], detached: true });
  } catch (err) {
    record.release();
    throw err;
  }
  const lifeline = child.stdio[3] as Socket | null;
  lifeline?.on('error', () => undefined);
  if (child.pid !== undefined) record.update({ location: String(child.pid), detail: processStartMark(child.pid) });
  // Once the tool is gone, closing the lifeline lets the watchdog clear whatever is left of the
  // group and exit; 'close' (all stdio ended) only comes after that.
  child.on('exit', () => lifeline?.destroy());
  child.on('error', () => lifeline?.destroy());
  child.on('close', () => record.release());
  return child;
}

/**
 * Starts a detached shell running `command` (argv) once this process dies, or never if
 * `disarm()` is called first. For what is not a child of ours: a server pg_ctl started.
 */
export function onParentDeath(command: string[], env?: NodeJS.ProcessEnv): { disarm(): void } {
  const watchdog = spawn('/bin/sh', ['-c', 'read -r _ <&3; exec 3<&-; exec "$@"', 'lifeboat-watchdog', ...command], { env, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
  const lifeline = watchdog.stdio[3] as Socket | null;
  lifeline?.on('error', () => undefined);
  watchdog.on('error', () => undefined);
  // Neither keeps this process alive.
  watchdog.unref();
  lifeline?.unref();
  return {
    disarm: () => {
      if (watchdog.exitCode === null && watchdog.signalCode === null) watchdog.kill('SIGKILL');
      lifeline?.destroy();
    },
  };
}

function executable(file: string): boolean {
  if (!file.includes('/')) return true; // found on PATH by the shell as by spawn
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a command to its end in a guarded process group (see spawnGuarded), like execFile:
 * resolves with its output, rejects with "Command failed: ..." and its stderr otherwise.
 */
export function runGuarded(bin: string, args: string[], options: { timeout?: number } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnGuarded(bin, args, { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = options.timeout ? setTimeout(() => child.kill('SIGKILL'), options.timeout) : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      reject(Object.assign(new Error(`Command failed: ${[bin, ...args].join(' ')}\n${stderr}`), { code, signal, stdout, stderr }));
    });
  });
}
