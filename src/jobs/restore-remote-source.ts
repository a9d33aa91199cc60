// A minimal stand-in for jobs/export-stream.ts's readGoodCopy (the export work of #21, on its
// own branch): the same signature and BundleRead shape, so the remote restore switches to it by
// its import alone. That one also checks a copy whose stored sha256 the catalog lacks, member
// by member; this one leaves that to restore.sh --check, which checks every member there.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { pipeline, Transform, type Readable } from 'node:stream';
import { decrypt, keysFor } from '../bundle/codec.ts';
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { Copies, type Copy } from './copies.ts';

/** One attempt at reading a bundle: what `consume` is handed. */
export interface BundleRead {
  /** The bundle's bytes, as stored or decrypted; fails with E_BUNDLE_CORRUPT before its end when the copy is damaged. */
  stream: Readable;
  /** The copy being read. */
  copy: Copy;
  /** The bundle's file name: the stored name, without `.age` once decrypted. */
  name: string;
  /** Bytes stored (the encrypted size for an encrypted bundle). */
  storedSize: number;
  /** Whether `stream` is decrypted (false for a bundle that was never encrypted). */
  decrypted: boolean;
}

export interface ReadBundleOptions {
  /** Decrypt with the target's identity or passphrase (LIFEBOAT_AGE_IDENTITY_FILE too), in this process. */
  decrypt?: boolean;
  signal?: AbortSignal;
  /** Where warnings go: a copy skipped, a damaged copy, the next one tried. */
  log?: (level: 'info' | 'warn', message: string) => void;
  /** Stored bytes read so far of the current attempt, and the stored size. */
  onProgress?: (done: number, total: number) => void;
  /** Whether a damaged copy may be followed by the next one (default true): `consume` then starts again from nothing. */
  retry?: boolean;
}

/**
 * Reads `backup` from the first good copy, its stored bytes checked against the sha256 the
 * catalog recorded while they pass; `consume` reads `read.stream` to its end. A damaged copy is
 * marked bad and, unless `retry: false`, the next is handed to `consume`.
 */
export async function readGoodCopy<T>(
  loaded: LoadedConfig,
  catalog: Catalog,
  backup: BackupRecord,
  consume: (read: BundleRead) => Promise<T>,
  options: ReadBundleOptions = {},
): Promise<{ copy: Copy; result: T }> {
  const log = options.log ?? (() => undefined);
  const copies = await Copies.open(loaded, catalog, backup, log);
  const keys = keysFor(loaded.config.targets[backup.target]?.encryption);
  try {
    for (;;) {
      const copy = copies.current;
      const storedSize = copy.location.size ?? backup.size ?? 0;
      const sha256 = copy.location.sha256 ?? backup.sha256;
      if (!sha256) log('warn', `the catalog holds no sha256 of the copy on ${copy.storage.name}: its members are checked by restore.sh --check only`);
      try {
        const stored = await copy.storage.get(copy.key, { signal: options.signal });
        let done = 0;
        const hash = createHash('sha256');
        const checked = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            done += chunk.length;
            options.onProgress?.(done, storedSize);
            cb(null, chunk);
          },
          flush(cb) {
            if (done !== storedSize) return cb(new LifeboatError('E_BUNDLE_CORRUPT', `holds ${done} bytes where ${storedSize} were stored`));
            if (sha256 && hash.digest('hex') !== sha256) return cb(new LifeboatError('E_BUNDLE_CORRUPT', 'does not match the sha256 recorded when it was written'));
            cb();
          },
        });
        // pipeline: an error anywhere destroys both; the consumer hears it from `checked`.
        let stream: Readable = pipeline(stored, checked, () => undefined);
        const name = path.basename(copy.key);
        const encrypted = name.endsWith('.age');
        if (options.decrypt && encrypted) stream = await decrypt(stream, keys);
        const result = await consume({ stream, copy, name: options.decrypt && encrypted ? name.slice(0, -4) : name, storedSize, decrypted: options.decrypt === true && encrypted });
        return { copy, result };
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code !== 'E_BUNDLE_CORRUPT') throw e;
        if (options.retry === false || !(await copies.fallBack(e.message))) {
          throw new LifeboatError('E_BUNDLE_CORRUPT', `no good copy of backup ${backup.id}: the copy on ${copy.storage.name} ${e.message}`, {
            cause: err, hint: `run \`lifeboat verify ${backup.id} --quick\` to check every copy`,
          });
        }
      }
    }
  } finally {
    await copies.close();
  }
}
