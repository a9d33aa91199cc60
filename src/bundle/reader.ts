import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import tar from 'tar-stream';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { decompressor, decrypt, formatFromName, type DecryptionKeys } from './codec.ts';
import { MANIFEST_MEMBER, parseManifest, type Manifest } from './manifest.ts';

/** One member as the reader meets it; read `stream` fully (or call `skip`) before the next. */
export interface BundleEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  mtime: Date;
  linkname: string | undefined;
  stream: AsyncIterable<Buffer>;
}

/**
 * Opens a bundle's bytes (as stored) into its tar members, undoing encryption and compression
 * as the bundle's file name says. Member names that could escape a destination are refused.
 */
export async function* readBundle(source: Readable, bundleName: string, keys: DecryptionKeys, options: ReadOptions = {}): AsyncGenerator<BundleEntry> {
  const { algorithm, encrypted } = formatFromName(bundleName);
  let stream: Readable = source;
  // The stored bytes against the sha256 recorded when they were written: members are checked
  // one by one elsewhere, but this also covers what lies between and after them (tar padding,
  // the seek index), so any changed byte is caught.
  const whole = options.sha256 ? createHash('sha256') : undefined;
  const hasher = whole
    ? new Transform({
        transform(chunk: Buffer, _enc, cb) {
          whole.update(chunk);
          cb(null, chunk);
        },
      })
    : undefined;
  if (hasher) {
    source.on('error', (err) => hasher.destroy(err));
    stream = source.pipe(hasher);
  }
  try {
    if (encrypted) stream = await decrypt(stream, keys);
    const z = decompressor(algorithm);
    if (z) {
      const from = stream;
      from.on('error', (err) => z.destroy(err));
      stream = from.pipe(z);
    }
    const extract = tar.extract();
    stream.on('error', (err) => extract.destroy(err));
    stream.pipe(extract);
    for await (const entry of extract) {
      const h = entry.header;
      checkMemberName(h.name);
      yield {
        name: h.name,
        type: h.type ?? 'file',
        size: h.size ?? 0,
        mode: h.mode ?? 0o644,
        mtime: h.mtime ?? new Date(0),
        linkname: h.linkname ?? undefined,
        stream: entry as AsyncIterable<Buffer>,
      };
      entry.resume();
    }
    // The tar has ended, so every stored byte went through the hasher.
    if (hasher) {
      await finished(hasher);
      if (whole!.digest('hex') !== options.sha256) {
        throw new LifeboatError('E_BUNDLE_CORRUPT', 'its stored bytes do not match the sha256 recorded when it was written (changed outside the members\' data: tar padding, the seek index)');
      }
    }
  } catch (err) {
    throw corrupt(err, bundleName);
  } finally {
    source.destroy();
  }
}

export interface ReadOptions {
  /** The sha256 of the stored bytes recorded when the bundle was written; checked once all are read. */
  sha256?: string | null;
}

/** Refuses absolute names and `..`: a malicious bundle must not write outside a destination. */
export function checkMemberName(name: string): void {
  if (name.startsWith('/') || name.split('/').includes('..') || name.includes('\0')) {
    throw new LifeboatError('E_BUNDLE_CORRUPT', `refused bundle member "${name}": absolute paths and ".." are not allowed`);
  }
}

export interface MemberCheck {
  name: string;
  ok: boolean;
  expectedSha256?: string;
  actualSha256: string;
  expectedSize?: number;
  actualSize: number;
}

/** The result of reading a whole bundle against its manifest; never thrown, always reported. */
export interface IntegrityReport {
  ok: boolean;
  manifest: Manifest | undefined;
  members: MemberCheck[];
  /** Problems that are not one member's checksum: missing members, a bad manifest, a truncated stream. */
  problems: string[];
}

/**
 * Reads every member once, streaming, and compares sizes and sha256 with the manifest at the end.
 * Bad keys and unreadable storage still throw: there is nothing to report on.
 */
export async function checkIntegrity(source: Readable, bundleName: string, keys: DecryptionKeys, options: ReadOptions = {}): Promise<IntegrityReport> {
  const seen: MemberCheck[] = [];
  const problems: string[] = [];
  let manifest: Manifest | undefined;
  try {
    for await (const entry of readBundle(source, bundleName, keys, options)) {
      const hash = createHash('sha256');
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of entry.stream) {
        hash.update(chunk);
        size += chunk.length;
        if (entry.name === MANIFEST_MEMBER) chunks.push(chunk);
      }
      if (entry.name === MANIFEST_MEMBER) {
        try {
          manifest = parseManifest(Buffer.concat(chunks).toString('utf8'), `${bundleName}: manifest.json`);
        } catch (err) {
          problems.push(`manifest.json is unreadable: ${(err as Error).message}`);
        }
      } else if (entry.type === 'file') {
        seen.push({ name: entry.name, ok: false, actualSha256: hash.digest('hex'), actualSize: size });
      }
    }
  } catch (err) {
    const e = asLifeboatError(err, 'E_BUNDLE_CORRUPT');
    if (e.code === 'E_ENCRYPTION' || e.code === 'E_STORAGE_READ' || e.code === 'E_STORAGE_NOT_FOUND') throw e;
    problems.push(e.message);
  }
  if (!manifest) {
    if (!problems.some((p) => p.startsWith('manifest.json'))) problems.push('manifest.json is missing: the bundle is incomplete');
    return { ok: false, manifest, members: seen, problems };
  }
  const expected = new Map(manifest.members.map((m) => [m.name, m]));
  for (const check of seen) {
    const want = expected.get(check.name);
    if (!want) {
      problems.push(`member ${check.name} is not in the manifest`);
      continue;
    }
    check.expectedSha256 = want.sha256;
    check.expectedSize = want.size;
    check.ok = want.sha256 === check.actualSha256 && want.size === check.actualSize;
    expected.delete(check.name);
  }
  for (const missing of expected.keys()) problems.push(`member ${missing} is listed in the manifest but missing from the bundle`);
  for (const bad of seen.filter((c) => c.expectedSha256 && !c.ok)) {
    // A size that differs says more (truncated, padded) than the checksum that follows from it.
    problems.push(bad.actualSize !== bad.expectedSize
      ? `member ${bad.name} has the wrong size: ${bad.actualSize} bytes, the manifest says ${bad.expectedSize}`
      : `member ${bad.name} does not match the manifest (sha256 ${bad.actualSha256.slice(0, 12)}..., expected ${bad.expectedSha256!.slice(0, 12)}...)`);
  }
  return { ok: problems.length === 0, manifest, members: seen, problems };
}

/** The text of the manifest inside a bundle (the last member), unchecked: its callers check the MAC and parse it. */
export async function readInnerManifestText(source: Readable, bundleName: string, keys: DecryptionKeys): Promise<string> {
  for await (const entry of readBundle(source, bundleName, keys)) {
    if (entry.name !== MANIFEST_MEMBER) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of entry.stream) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }
  throw new LifeboatError('E_BUNDLE_CORRUPT', `${bundleName} has no manifest.json: the bundle is incomplete`);
}

function corrupt(err: unknown, bundleName: string): LifeboatError {
  const e = asLifeboatError(err, 'E_BUNDLE_CORRUPT');
  if (e.code !== 'E_BUNDLE_CORRUPT') return e;
  return new LifeboatError('E_BUNDLE_CORRUPT', `${bundleName} is damaged: ${e.message}`, { cause: err });
}
