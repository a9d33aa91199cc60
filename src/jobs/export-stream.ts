import { createHash } from 'node:crypto';
import path from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { decrypt, keysFor, keysForBundle, type DecryptionKeys } from '../bundle/codec.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { checkIntegrity } from '../bundle/reader.ts';
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { Copies, type Copy } from './copies.ts';

/** One attempt at reading a bundle: what `consume` is handed. */
export interface BundleRead {
  /**
   * The bundle's bytes, as stored or (with `decrypt`) decrypted. It ends cleanly only once the
   * copy passed its check; a damaged copy makes it fail with E_BUNDLE_CORRUPT before its end,
   * so a consumer that waits for the end (stream `pipeline`) never takes a damaged bundle.
   */
  stream: Readable;
  /** The copy being read. */
  copy: Copy;
  /** The bundle's file name as written out: the stored name, without `.age` once decrypted. */
  name: string;
  /** Bytes stored (the encrypted size for an encrypted bundle). */
  storedSize: number;
  /** Whether `stream` is decrypted (false for a bundle that was never encrypted). */
  decrypted: boolean;
  /**
   * Settles once the copy's check has: a consumer that publishes what it wrote (renames a file
   * into place) awaits it first, since decryption may end its output a moment before the check.
   */
  checked: Promise<void>;
}

export interface ReadBundleOptions {
  /** Decrypt with the target's identity or passphrase (LIFEBOAT_AGE_IDENTITY_FILE too). */
  decrypt?: boolean;
  signal?: AbortSignal;
  /** Where warnings go: a copy skipped, a damaged copy, the next one tried. */
  log?: (level: 'info' | 'warn', message: string) => void;
  /** Stored bytes read so far of the current attempt, and the stored size. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Whether a copy found damaged may be followed by the next one (default true): `consume` is
   * then called again and must start its output from nothing. False where what was consumed
   * cannot be taken back (bytes written to stdout).
   */
  retry?: boolean;
  /** Also read copies a verification marked bad (each is still checked while read). */
  force?: boolean;
}

/**
 * Reads `backup` from the first good copy (the target's primary, then its replicas), checking
 * the stored bytes while they pass: against the sha256 the catalog recorded for them, or, where
 * none was recorded (a catalog rebuilt from storage), every member against the recorded
 * manifest. `consume` reads `read.stream` to its end; a damaged copy is marked bad in the
 * catalog and, unless `retry: false`, the next copy is handed to `consume`. Returns the copy
 * that passed. Shared by `lifeboat export`, the drill and the remote restore's upload.
 */
export async function readGoodCopy<T>(
  loaded: LoadedConfig,
  catalog: Catalog,
  backup: BackupRecord,
  consume: (read: BundleRead) => Promise<T>,
  options: ReadBundleOptions = {},
): Promise<{ copy: Copy; result: T }> {
  const log = options.log ?? (() => undefined);
  const copies = await Copies.open(loaded, catalog, backup, log, { force: options.force });
  const manifest = catalog.getManifest(backup.id);
  // With the manifest's recipients, a damaged age header is damage (the next copy is tried) and
  // a wrong key is the user's mistake, the same on every copy (codec.ts, openHeader).
  const keys = keysForBundle(keysFor(loaded.config.targets[backup.target]?.encryption), manifest?.encryption);
  try {
    for (;;) {
      const copy = copies.current;
      const storedSize = copy.location.size ?? backup.size ?? 0;
      try {
        const read = await openCopy(copy, { keys, manifest, sha256: copy.location.sha256 ?? backup.sha256, storedSize, ...options });
        const result = await consume(read);
        await read.checked;
        return { copy, result };
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code !== 'E_BUNDLE_CORRUPT') throw e;
        if (options.retry === false) {
          // Marked bad all the same, so the next read (an export to a file) starts at another copy.
          await copies.fallBack(e.message).catch(() => false);
          throw new LifeboatError('E_BUNDLE_CORRUPT', `the copy of backup ${backup.id} on ${copy.storage.name} ${e.message}: the bytes already written are damaged`, {
            cause: err,
            hint: 'discard them; an export to a file falls back to the next good copy by itself',
          });
        }
        if (!(await copies.fallBack(e.message))) {
          throw new LifeboatError('E_BUNDLE_CORRUPT', `no good copy of backup ${backup.id}: the copy on ${copy.storage.name} ${e.message}`, {
            cause: err,
            hint: `run \`lifeboat verify ${backup.id} --quick\` to check every copy`,
          });
        }
      }
    }
  } finally {
    await copies.close();
  }
}

/** Opens one copy: stored bytes -> checker -> (decryption). `checked` settles once the check has. */
async function openCopy(
  copy: Copy,
  o: ReadBundleOptions & { keys: DecryptionKeys; manifest: Manifest | undefined; sha256: string | null; storedSize: number },
): Promise<BundleRead> {
  const stored = await copy.storage.get(copy.key, { signal: o.signal });
  const checker = o.sha256 ? wholeCheck(o.sha256, o.storedSize) : o.manifest ? memberCheck(o.manifest, path.basename(copy.key), o.keys) : undefined;
  if (!checker) throw new LifeboatError('E_BUNDLE_CORRUPT', 'cannot be checked: the catalog holds neither its sha256 nor its manifest');
  let done = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      o.onProgress?.(done, o.storedSize);
      cb(null, chunk);
    },
  });
  stored.on('error', (err) => checker.stream.destroy(err));
  let stream: Readable = stored.pipe(checker.stream);
  checker.stream.on('error', (err) => counted.destroy(err));
  stream = stream.pipe(counted);
  const name = path.basename(copy.key);
  const encrypted = name.endsWith('.age');
  if (o.decrypt && encrypted) {
    try {
      stream = await decrypt(stream, o.keys);
    } catch (err) {
      stored.destroy();
      throw err;
    }
    // A damaged payload fails its age chunk's tag: that is damage, not a wrong key.
    const plain = stream;
    const relabel = new PassThrough();
    plain.on('error', (err) => relabel.destroy(damage(err)));
    stream = plain.pipe(relabel);
  }
  // Age's last chunk can end the output before the stored bytes' check has settled, and the
  // consumer's own listeners are gone by then: the failed check reaches it through `checked`
  // (readGoodCopy awaits it), so a late error on the stream must not become an uncaught one.
  stream.on('error', () => undefined);
  return { stream, copy, name: o.decrypt && encrypted ? name.slice(0, -4) : name, storedSize: o.storedSize, decrypted: o.decrypt === true && encrypted, checked: checker.verdict };
}

/** A decryption failure inside the payload: E_BUNDLE_CORRUPT unless it already says more. */
function damage(err: unknown): LifeboatError {
  const e = asLifeboatError(err, 'E_BUNDLE_CORRUPT');
  if (e.code === 'E_INTERNAL') return new LifeboatError('E_BUNDLE_CORRUPT', `does not decrypt: ${e.message}`, { cause: err });
  return e;
}

interface Checker {
  /** Passes the bytes through; fails at its end when they do not match. */
  stream: Transform;
  /** Settles with the same verdict. */
  verdict: Promise<void>;
}

/** The stored bytes against the sha256 and size the catalog recorded. */
function wholeCheck(sha256: string, size: number): Checker {
  const hash = createHash('sha256');
  let seen = 0;
  let settle!: (err?: Error) => void;
  const verdict = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
  verdict.catch(() => undefined);
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      seen += chunk.length;
      cb(null, chunk);
    },
    flush(cb) {
      const got = hash.digest('hex');
      const err = seen !== size
        ? new LifeboatError('E_BUNDLE_CORRUPT', `holds ${seen} bytes where ${size} were stored`)
        : got !== sha256 ? new LifeboatError('E_BUNDLE_CORRUPT', `does not match its sha256 (${got.slice(0, 12)}..., recorded ${sha256.slice(0, 12)}...)`) : undefined;
      settle(err);
      cb(err);
    },
  });
  stream.on('error', (err) => settle(err));
  return { stream, verdict };
}

/**
 * Every member against the recorded manifest, for a copy whose stored sha256 is unknown: the
 * bytes are read a second time, as a bundle, beside the copy (no second fetch).
 */
function memberCheck(manifest: Manifest, name: string, keys: DecryptionKeys): Checker {
  const tee = new PassThrough({ highWaterMark: 4 << 20 });
  const report = checkIntegrity(tee, name, keys);
  const verdict = report.then((r) => {
    const recorded = new Map(manifest.members.map((m) => [m.name, m.sha256]));
    if (!r.ok) throw new LifeboatError('E_BUNDLE_CORRUPT', r.problems[0] ?? 'does not match its manifest');
    // The bundle agrees with its own manifest; that one must be the manifest the catalog recorded.
    const seen = new Map(r.members.map((m) => [m.name, m.actualSha256]));
    const differs = manifest.members.find((m) => seen.get(m.name) !== m.sha256) ?? r.members.find((m) => !recorded.has(m.name));
    if (differs) throw new LifeboatError('E_BUNDLE_CORRUPT', `member ${differs.name} does not match the manifest the catalog recorded`);
  });
  verdict.catch(() => undefined);
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      // The reader stops at the tar's end (a zstd seek index follows): the rest only passes.
      if (tee.destroyed || tee.writableEnded || tee.write(chunk)) return cb(null, chunk);
      const go = () => {
        tee.off('drain', go).off('close', go);
        cb(null, chunk);
      };
      tee.on('drain', go).on('close', go);
    },
    flush(cb) {
      if (!tee.destroyed) tee.end();
      verdict.then(() => cb(), (err: unknown) => cb(asLifeboatError(err, 'E_BUNDLE_CORRUPT')));
    },
  });
  stream.on('error', (err) => tee.destroy(err));
  return { stream, verdict };
}
