import { readFileSync } from 'node:fs';

/** Whether a process with this id is alive on this host (EPERM means alive, owned by another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a process started, as `<boot id>:<start time in clock ticks since boot>` (Linux /proc),
 * or undefined when it does not exist or the system has no /proc. Two processes with the same
 * id and the same start mark are the same process: a pid reused after a kill gets a new mark.
 */
export function processStartMark(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${bootId()}:${fields[19]}`;
  } catch {
    return undefined;
  }
}

let boot: string | undefined;
function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      boot = '';
    }
  }
  return boot;
}

/**
 * Whether the process `pid` that had start mark `mark` is still running. Without a mark (no
 * /proc where it was recorded) only the pid is checked.
 */
export function sameProcessAlive(pid: number, mark: string | null | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (!mark) return true;
  const now = processStartMark(pid);
  return now === undefined || now === mark;
}
