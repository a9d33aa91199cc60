import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';

/** Damages a stored bundle in place: flips bits of one byte at `fraction` of its length. */
export function flipByte(file: string, fraction = 0.5, mask = 0xff): void {
  flipByteAt(file, Math.floor(statSync(file).size * fraction), mask);
}

/** Flips bits of the byte at offset `at` of a file. */
export function flipByteAt(file: string, at: number, mask = 0xff): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ mask;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}
