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
    n = Math.min(n, this.#length);
    this.#join(n);
    const first = this.#chunks[0] ?? Buffer.alloc(0);
    const head = first.subarray(0, n);
    if (first.length > n) this.#chunks[0] = first.subarray(n);
    else this.#chunks.shift();
    this.#length -= n;
    return head;
  }

  /** The little-endian 32-bit integer at `at`, or undefined while fewer bytes have arrived. */
  peekUInt32LE(at: number): number | undefined {
    if (this.#length < at + 4) return undefined;
    this.#join(at + 4);
    return this.#chunks[0]!.readUInt32LE(at);
  }

  /** Makes the first chunk hold at least `n` bytes, joining only the chunks that takes. */
  #join(n: number): void {
    if (this.#chunks.length < 2 || this.#chunks[0]!.length >= n) return;
    let k = 0;
    let size = 0;
    while (size < n) size += this.#chunks[k++]!.length;
    this.#chunks.splice(0, k, Buffer.concat(this.#chunks.slice(0, k), size));
  }
}
