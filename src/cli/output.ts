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
 * Shows a job's progress: a redrawn bar on a terminal, plain lines (one per member, and every
 * few seconds) otherwise, nothing with --json. Log lines go to stderr either way.
 */
export function progressListener(opts: { json: boolean; stream?: NodeJS.WriteStream }): JobListener & { end(): void } {
  const out = opts.stream ?? process.stderr;
  const tty = out.isTTY === true && !opts.json;
  let lastDraw = 0;
  let lastPlain = 0;
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
      out.write(`${level === 'info' ? '' : level + ': '}${message}\n`);
    },
    onProgress(p: Progress) {
      if (opts.json) return;
      const t = Date.now();
      if (tty) {
        if (t - lastDraw < 100) return;
        lastDraw = t;
        out.write('\r\x1b[2K' + bar(p, out.columns || 80));
        drawn = true;
      } else if (t - lastPlain >= 5000) {
        lastPlain = t;
        out.write(`progress: ${describe(p)}\n`);
      }
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
