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

/**
 * Rewrites the ustar header of `member` in an uncompressed tar: its type flag (`1` hard link,
 * `3` character device, `6` FIFO, ...) and link name, with the header checksum made right again,
 * so readers take the entry as that type. For bundles written with compression `none`.
 */
export function retypeTarMember(tar: Buffer, member: string, type: string, linkname = ''): void {
  for (let at = 0; at + 512 <= tar.length; at += 512) {
    const name = tar.subarray(at, at + 100).toString('utf8').replace(/\0.*$/s, '');
    if (name !== member || tar.subarray(at + 257, at + 262).toString('latin1') !== 'ustar') continue;
    tar.write(type, at + 156, 1, 'latin1');
    tar.fill(0, at + 157, at + 257);
    tar.write(linkname, at + 157, 100, 'utf8');
    tar.fill(0x20, at + 148, at + 156);
    let sum = 0;
    for (let i = at; i < at + 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'latin1');
    return;
  }
  throw new Error(`no tar header for ${member}`);
}
