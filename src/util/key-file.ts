import { chmodSync, existsSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../errors.ts';

/**
 * Creates a key file (mode 0600, in a 0700 directory) unless it exists, and never overwrites
 * one: the text is written whole to a temp file, then linked into place, so two processes
 * creating it at once both end up with the one that linked first, never with a half-written
 * file. Returns false when the file was already there. `what` names the file in errors.
 */
export function createKeyFileOnce(file: string, text: string, what: string): boolean {
  const dir = path.dirname(file);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  chmodSync(temp, 0o600); // the umask cannot widen it, but a pre-existing temp file could be wider
  try {
    linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LifeboatError('E_CONFIG', `cannot create ${what} ${file}: ${(err as Error).message}`, { cause: err });
  } finally {
    unlinkSync(temp);
  }
}
