import type { Progress } from '../jobs/job.ts';
import { formatBytes } from '../util/format.ts';
import type { JobListener } from '../jobs/job.ts';

/** Prints rows as aligned columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export { formatBytes };

/**
 * --quiet: what a command prints on success (its result, its log lines) is held back, and shown
 * only when it ends with a non-zero exit; a script or cron job then hears only of failures.
 */
const quiet = { on: false, held: [] as { stream: NodeJS.WriteStream; text: string }[] };

/** Set once by main from the global options, before the command runs. */
export function setQuiet(on: boolean): void {
  quiet.on = on;
}

/** Writes command output, or holds it under --quiet (see releaseHeld). */
export function emit(text: string, stream: NodeJS.WriteStream = process.stdout): void {
  if (quiet.on) quiet.held.push({ stream, text });
  else stream.write(text);
}

/** At the end of a command: a failed one shows what --quiet held back; a successful one drops it. */
export function releaseHeld(exitCode: number): void {
  const held = quiet.held.splice(0);
  if (exitCode !== 0) for (const h of held) h.stream.write(h.text);
}

/**
 * Shows a job's progress: a redrawn bar on a terminal, nothing otherwise (a log file or a pipe
 * gets the log lines, not a bar's worth of noise) nor with --json or --quiet. Log lines go to
 * stderr either way (held back by --quiet).
 */
export function progressListener(opts: { json: boolean; stream?: NodeJS.WriteStream }): JobListener & { end(): void } {
  const out = opts.stream ?? process.stderr;
  const tty = out.isTTY === true && !opts.json && !quiet.on;
  let lastDraw = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) out.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    onLog(level, message) {
      // Errors end the command and are printed once, by main.
      if (level === 'error' || (opts.json && level === 'info')) return;
      clear();
      emit(`${level === 'info' ? '' : level + ': '}${message}\n`, out);
    },
    onProgress(p: Progress) {
      if (!tty) return;
      const t = Date.now();
      if (t - lastDraw < 100) return;
      lastDraw = t;
      out.write('\r\x1b[2K' + bar(p, out.columns || 80));
      drawn = true;
    },
    end: clear,
  };
}

function describe(p: Progress): string {
  const amount = p.unit === 'bytes' ? formatBytes(p.done) : `${p.done}`;
  const pct = p.total ? ` (${Math.min(99, Math.floor((100 * p.done) / p.total))}%)` : '';
  return `${p.phase} ${amount}${pct}${p.current ? ' ' + p.current : ''}`;
}

function bar(p: Progress, columns: number): string {
  const width = 24;
  const frac = p.total ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${describe(p)}`;
  return text.slice(0, Math.max(20, columns - 1));
}
