import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { readGoodCopy } from './export-stream.ts';
import { Job, type JobListener, type Trigger } from './job.ts';

export interface ExportResult {
  backupId: string;
  /** Where the bundle was written: a file, or `-` for stdout. */
  path: string;
  /** The storage the copy came from. */
  storage: string;
  bytes: number;
  decrypted: boolean;
}

/**
 * Writes a backup's bundle as one file, from the first copy that passes its check, optionally
 * decrypted. A file appears at `dest` only once the copy has passed: it is written under a
 * hidden temp name beside it and renamed at the end, and removed on any failure. `dest` may be
 * a directory (the bundle's own name is used there) or `out` a stream (stdout: `-`), which
 * cannot be taken back, so there a damaged copy fails without falling back to the next.
 */
export async function runExport(
  loaded: LoadedConfig,
  catalog: Catalog,
  prefix: string,
  dest: string | { out: Writable },
  options: { decrypt?: boolean; force?: boolean; signal?: AbortSignal; listener?: JobListener; trigger?: Trigger } = {},
): Promise<ExportResult> {
  catalog.recoverInterrupted();
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}: there is no bundle to export`);
  const signal = options.signal ?? new AbortController().signal;
  if (typeof dest === 'string' && !isDir(dest) && existsSync(dest)) {
    throw new LifeboatError('E_USAGE', `${dest} exists: export never replaces a file`, { hint: 'remove it, or name another path (or a directory)' });
  }
  return Job.run(catalog, { kind: 'export', target: backup.target, backupId: backup.id, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, async (job) => {
    let written = '-';
    const { copy, result: bytes } = await readGoodCopy(loaded, catalog, backup, async (read) => {
      job.progress({ phase: 'exporting', current: read.copy.storage.name, done: 0, total: read.storedSize, unit: 'bytes' });
      if (typeof dest !== 'string') {
        let n = 0;
        read.stream.on('data', (c: Buffer) => (n += c.length));
        await pipeline(read.stream, dest.out, { signal, end: false });
        return n;
      }
      const file = isDir(dest) ? path.join(dest, read.name) : dest;
      if (existsSync(file)) throw new LifeboatError('E_USAGE', `${file} exists: export never replaces a file`, { hint: 'remove it, or name another path' });
      const temp = path.join(path.dirname(file), `.${path.basename(file)}.lifeboat-tmp-${randomBytes(4).toString('hex')}`);
      try {
        await pipeline(read.stream, createWriteStream(temp, { flags: 'wx', mode: 0o600 }), { signal });
        await read.checked;
        await fs.rename(temp, file);
      } catch (err) {
        await fs.rm(temp, { force: true });
        throw err;
      }
      written = file;
      return (await fs.stat(file)).size;
    }, {
      decrypt: options.decrypt,
      force: options.force,
      signal,
      log: (level, message) => job.log(level, message),
      onProgress: (done, total) => job.progress({ phase: 'exporting', done, total, unit: 'bytes' }),
      retry: typeof dest === 'string',
    });
    const decrypted = options.decrypt === true && copy.key.endsWith('.age');
    job.log('info', `exported ${backup.id} from ${copy.storage.name}${decrypted ? ', decrypted,' : ''} to ${written === '-' ? 'stdout' : written}: ${bytes} bytes, checked against its checksum`);
    return { backupId: backup.id, path: written, storage: copy.storage.name, bytes, decrypted };
  });
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
