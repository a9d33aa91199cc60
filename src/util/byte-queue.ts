/**
 * Bytes that arrive in chunks of any size and are taken back in pieces of the size a format
 * says (a frame, a sealed chunk): chunks are joined only when a piece spans them.
 */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes (or all there are, if fewer), removed from the queue. */
  take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#length);
    const head = all.subarray(0, n);
    const rest = all.subarray(head.length);
    this.#chunks = rest.length ? [rest] : [];
    this.#length = rest.length;
    return head;
  }

  /** The little-endian 32-bit integer at `at`, or undefined while fewer bytes have arrived. */
  peekUInt32LE(at: number): number | undefined {
    if (this.#length < at + 4) return undefined;
    if (this.#chunks[0]!.length < at + 4) this.#chunks = [Buffer.concat(this.#chunks, this.#length)];
    return this.#chunks[0]!.readUInt32LE(at);
  }
}
