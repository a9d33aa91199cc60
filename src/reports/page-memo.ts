/**
 * Pages of the backup list kept for questions asked again: a UI polling its list, and many
 * clients asking for the first page, ask the same question while nothing changed. A page is
 * answered from memory while the catalog's change mark is the one it was read at, for at most a
 * second (a protection ends with time, not with a write), and kept only for a question asked
 * before: kept pages of questions never asked again (a client paging through, a script asking by
 * date) lived long enough to be copied by each young-generation collection, which grew to 30 ms
 * pauses and set the listing's p95 (bench/README.md, session 14).
 */
export class PageMemo<P> {
  readonly #pages = new Map<string, { mark: string | undefined; at: number; page: P | undefined }>();

  /** Whether `key` was asked before: a page read for it now is kept. */
  seen(key: string): boolean {
    return this.#pages.has(key);
  }

  /** The page kept for `key`, if it was read at `mark()` (asked only when there is one) and, unless `timeless`, within the last second. */
  get(key: string, mark: () => string, timeless: boolean): P | undefined {
    const kept = this.#pages.get(key);
    if (kept?.page === undefined) return undefined;
    return kept.mark === mark() && (timeless || Date.now() - kept.at < MEMO_MS) ? kept.page : undefined;
  }

  /**
   * Records `key` as asked, with its page read at `mark` (what the page says holds at that mark):
   * the page is kept only when the question was asked before and the mark is known.
   */
  put(key: string, mark: string | undefined, page: P): void {
    const seen = this.#pages.delete(key);
    if (!seen && this.#pages.size >= MEMO_SIZE) this.#pages.delete(this.#pages.keys().next().value!);
    this.#pages.set(key, { mark, at: Date.now(), page: seen && mark !== undefined ? page : undefined });
  }
}

const MEMO_MS = 1000;
const MEMO_SIZE = 64;
