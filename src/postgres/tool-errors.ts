// What a failed pg_dump, pg_restore or psql said, cut down to the lines that name the cause. Their
// last lines are usually a `Command was:` echo of a long statement or a closing "errors ignored on
// restore: N": the server's own ERROR: and FATAL: lines are what a user needs.

/** At most this many distinct ERROR/FATAL lines go into a message; the rest are counted. */
export const MAX_ERROR_LINES = 20;
/** Past this many distinct lines, further ones are counted without remembering them. */
const MAX_REMEMBERED = 10_000;
/** A server error line longer than this (a huge value in a key) is cut. */
const MAX_LINE = 500;
/** How much of the raw output is kept for a failure that printed no ERROR/FATAL line. */
const TAIL = 4000;

/**
 * Reads a tool's stderr as it comes, keeping every distinct ERROR:/FATAL: line (memory stays
 * bounded however long a failing restore runs) and the output's tail for other failures.
 */
export class ToolStderr {
  #partial = '';
  #tail = '';
  #first: string[] = [];
  #seen = new Set<string>();
  #more = 0;
  /** The kept line the previous line of output added, which a DETAIL or HINT extends. */
  #keptLast: number | undefined;

  /** Feeds a piece of stderr, in order. */
  push(chunk: string): void {
    this.#tail = (this.#tail + chunk).slice(-TAIL);
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = lines.pop()!;
    // A line longer than the tail is never a line we keep whole; do not let it grow without end.
    if (this.#partial.length > TAIL) this.#partial = this.#partial.slice(0, TAIL);
    for (const line of lines) this.#line(line);
  }

  #line(line: string): void {
    const kept = this.#keptLast;
    this.#keptLast = undefined;
    // The server's DETAIL or HINT right after a kept error says which row or what to do.
    const note = /^(?:\S+:\d+: )?(DETAIL|HINT):\s+(.*)$/.exec(line);
    if (note && kept !== undefined) {
      this.#first[kept] = `${this.#first[kept]} (${note[1]}: ${note[2]!.replace(/\s+/g, ' ').trim().slice(0, MAX_LINE)})`;
      this.#keptLast = kept;
      return;
    }
    const at = line.search(/\b(ERROR|FATAL|PANIC):/);
    if (at < 0) return;
    // From the severity on, with runs of spaces folded: the same error from another statement,
    // worker or prefix ("pg_restore: error: could not execute query:") is one line.
    const text = line.slice(at).replace(/\s+/g, ' ').trim().slice(0, MAX_LINE);
    if (this.#seen.has(text)) return;
    if (this.#seen.size < MAX_REMEMBERED) this.#seen.add(text);
    if (this.#first.length < MAX_ERROR_LINES) {
      this.#first.push(text);
      this.#keptLast = this.#first.length - 1;
    } else this.#more++;
  }

  /**
   * One line for an error message: the distinct ERROR/FATAL lines (each with the DETAIL and HINT
   * that followed it) joined by " | ", with a count of those left out; without any, the last
   * three lines of output.
   */
  summary(): string {
    if (this.#partial) {
      this.#line(this.#partial);
      this.#partial = '';
    }
    if (this.#first.length) return this.#first.join(' | ') + (this.#more ? ` | and ${this.#more} more distinct error line(s)` : '');
    return this.#tail.trim().split('\n').slice(-3).join(' | ');
  }
}

/** The summary of a whole stderr text at once (see ToolStderr.summary). */
export function summarizeToolStderr(stderr: string): string {
  const s = new ToolStderr();
  s.push(stderr);
  return s.summary();
}
