/**
 * Which bytes of each file the extraction has written so far, for the loaders that follow it
 * (restore-stream.ts). The extraction may write a file in two stretches at once (extract.ts,
 * reading the bundle from two places): each file's written bytes are a list of intervals.
 */
export class DumpProgress {
  readonly #written = new Map<string, [number, number][]>();
  readonly #ended = new Set<string>();
  #failure: Error | undefined;
  #waiters: (() => void)[] = [];

  /** Bytes [start, end) of `file` are in it. */
  wrote(file: string, start: number, end: number): void {
    if (end <= start) return;
    const list = this.#written.get(file) ?? [];
    list.push([start, end]);
    list.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const iv of list) {
      const last = merged.at(-1);
      if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
      else merged.push([iv[0], iv[1]]);
    }
    this.#written.set(file, merged);
    this.#wake();
  }

  /** `file` is complete: nothing more will be written to it. */
  end(file: string): void {
    this.#ended.add(file);
    this.#wake();
  }

  /** The extraction failed: whoever waits gets `err`. */
  fail(err: Error): void {
    this.#failure ??= err;
    this.#wake();
  }

  /** Where the written stretch holding `pos` ends (`pos` itself when none holds it). */
  writtenFrom(file: string, pos: number): number {
    return this.#written.get(file)?.find(([s, e]) => s <= pos && pos < e)?.[1] ?? pos;
  }

  /**
   * Waits until bytes [start, end) of `file` are written: true then, false if the file was
   * completed without them. Throws the extraction's failure, or when `signal` aborts.
   */
  async until(file: string, start: number, end: number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      signal.throwIfAborted();
      if (this.#failure) throw this.#failure;
      if (this.writtenFrom(file, start) >= end) return true;
      if (this.#ended.has(file)) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.push(done);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
