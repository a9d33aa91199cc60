import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DecryptionKeys } from '../bundle/codec.ts';
import type { DatabaseManifest, FileRecord, Manifest } from '../bundle/manifest.ts';
import { readBundle } from '../bundle/reader.ts';
import { LifeboatError } from '../errors.ts';
import type { StorageDriver } from '../storage/storage.ts';
import type { Job } from './job.ts';

export const GLOBALS_MEMBER = 'databases/globals.sql';

/** Where a bundle is and how to open it. */
export interface BundleSource {
  storage: StorageDriver;
  key: string;
  keys: DecryptionKeys;
  manifest: Manifest;
}

/**
 * Reads a bundle once: every member's sha256 is checked against the manifest, the given
 * databases' dumps (their parts joined) are written to files pg_restore can seek in, and the
 * given files and other members are staged in `dir`. Throws E_BUNDLE_CORRUPT at the first
 * mismatch: nothing that uses the output may run before this has passed.
 */
export async function extractBundle(
  source: BundleSource,
  want: { databases: DatabaseManifest[]; files: FileRecord[]; members?: string[] },
  dir: string,
  job: Job,
): Promise<{ dumps: Map<string, string>; staged: Map<string, string> }> {
  const wanted = new Map<string, { db?: DatabaseManifest; file: string }>();
  for (const d of want.databases) for (const m of d.dumpMembers) wanted.set(m, { db: d, file: path.join(dir, `${encodeURIComponent(d.name)}.dump`) });
  const staged = new Map<string, string>();
  const stage = (member: string, file: string) => {
    wanted.set(member, { file });
    staged.set(member, file);
  };
  (want.members ?? []).forEach((m, i) => stage(m, path.join(dir, `member-${i}`)));
  want.files.filter((f) => f.type === 'file').forEach((f, i) => stage(f.member, path.join(dir, `file-${i}`)));

  const expected = new Map(source.manifest.members.map((m) => [m.name, m.sha256]));
  const whole = new Map<string, ReturnType<typeof createHash>>();
  const total = source.manifest.members.reduce((n, m) => n + m.size, 0);
  let done = 0;
  for await (const entry of readBundle(await source.storage.get(source.key, { signal: job.signal }), path.basename(source.key), source.keys)) {
    const target = wanted.get(entry.name);
    const hash = createHash('sha256');
    const db = target?.db;
    const dbHash = db && (whole.get(db.name) ?? whole.set(db.name, createHash('sha256')).get(db.name)!);
    const tap = async function* () {
      for await (const chunk of entry.stream) {
        hash.update(chunk);
        dbHash?.update(chunk);
        done += chunk.length;
        job.progress({ phase: 'checking and extracting', current: entry.name, done, total, unit: 'bytes' });
        yield chunk;
      }
    };
    if (target) await pipeline(tap, createWriteStream(target.file, { flags: 'a' }));
    else for await (const _ of tap()) void _;
    if (entry.type === 'file' && entry.name !== 'manifest.json' && expected.get(entry.name) !== hash.digest('hex')) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${entry.name} does not match its checksum in the manifest: the bundle is damaged; nothing was changed`);
    }
  }
  const dumps = new Map<string, string>();
  for (const d of want.databases) {
    if (whole.get(d.name)?.digest('hex') !== d.dumpSha256) {
      throw new LifeboatError('E_BUNDLE_CORRUPT', `the dump of ${d.name} is incomplete or damaged in the bundle; nothing was changed`);
    }
    dumps.set(d.name, path.join(dir, `${encodeURIComponent(d.name)}.dump`));
  }
  for (const [member, file] of staged) {
    if (!(await fs.stat(file).catch(() => undefined))) {
      if (source.manifest.members.find((m) => m.name === member)?.size === 0) await fs.writeFile(file, '');
      else throw new LifeboatError('E_BUNDLE_CORRUPT', `bundle member ${member} is missing; nothing was changed`);
    }
  }
  job.log('info', 'bundle checked: every member matches the manifest');
  return { dumps, staged };
}
