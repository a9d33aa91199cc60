// Hostile bundles, forged the way anyone who can write to a storage could: Lifeboat's own bundle
// writer, a manifest that says whatever the forger likes, checksums that all match, and a sidecar
// so `catalog rebuild` lists the bundle like any other. Every hostile bundle of the tests is made
// here; `signWith` signs one with an installation's key, as if that installation had made it.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { bundleSuffix, encrypt } from '../../src/bundle/codec.ts';
import { serializeManifest, type FileRecord, type Manifest, type MemberRecord } from '../../src/bundle/manifest.ts';
import { installationKey } from '../../src/bundle/installation-key.ts';
import { signManifest } from '../../src/bundle/mac.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import { VERSION } from '../../src/version.ts';
import { retypeTarMember } from './tamper.ts';

/** One entry of a forged bundle: a manifest record and, for a file, its member's bytes. */
export interface HostileEntry {
  set: string;
  path: string;
  /** The type the manifest claims; a forger may write any (`character-device`, `hardlink`). Default `file`. */
  type?: string;
  data?: string;
  linkTarget?: string;
  mode?: number;
  /** Fields of the file's manifest record set after the honest ones (a huge size, another member). */
  record?: Record<string, unknown>;
  /** Fields of its member's record in the manifest's member list (a huge declared size). */
  memberRecord?: Partial<MemberRecord>;
  /** The member written as another tar entry type (`1` hard link, `3` character device, `6` FIFO): the bundle is then uncompressed. */
  tarType?: string;
  tarLink?: string;
}

/** `target-YYYYMMDDTHHMMSSZ`, as a backup id is spelled. */
export function backupId(target: string, at: Date): string {
  return `${target}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/**
 * Writes a forged bundle and its sidecar manifest into a local storage directory, under the
 * key a backup of `target` taken at `at` would have. Returns its id and key.
 */
export async function forgeBundle(storageDir: string, target: string, at: Date, entries: HostileEntry[], options: { recipients?: string[]; signWith?: string } = {}): Promise<{ id: string; key: string }> {
  const id = backupId(target, at);
  const algorithm = entries.some((e) => e.tarType) ? 'none' : 'zstd';
  // An age recipient is public: anyone can seal a bundle to it.
  const encryption = options.recipients ? { recipients: options.recipients } : undefined;
  if (encryption && algorithm === 'none') throw new Error('retyped tar entries need an unencrypted bundle');
  const writer = await BundleWriter.create({ algorithm }, encryption);
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of writer.output) chunks.push(c as Buffer);
  })();
  const files: FileRecord[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const member = `files/${e.set}${e.path}`;
    const mode = e.mode ?? (type === 'directory' ? 0o755 : 0o644);
    const record = { set: e.set, path: e.path, member, type, mode, uid: 0, gid: 0, size: 0, mtime: at.toISOString() } as FileRecord;
    if (type === 'file') {
      const m = await writer.addBuffer(member, Buffer.from(e.data ?? ''), { mode, mtime: at });
      Object.assign(record, { size: m.size, sha256: m.sha256 });
    } else if (type === 'directory' || type === 'symlink') {
      await writer.addSpecial(member, type, { mode, mtime: at, linkname: e.linkTarget });
    }
    if (e.linkTarget !== undefined) record.linkTarget = e.linkTarget;
    files.push(Object.assign(record, e.record ?? {}));
  }
  for (const e of entries) {
    const m = writer.members.find((x) => x.name === `files/${e.set}${e.path}`);
    if (m && e.memberRecord) Object.assign(m, e.memberRecord);
  }
  const manifest: Omit<Manifest, 'members'> = {
    format: 'lifeboat-bundle', formatVersion: 1, id, target, lifeboatVersion: VERSION,
    startedAt: at.toISOString(), finishedAt: new Date(at.getTime() + 1000).toISOString(),
    host: { hostname: 'forger', platform: 'linux' }, profile: 'generic',
    compression: { algorithm }, encryption: encryption ? { kind: 'recipients', recipients: encryption.recipients } : { kind: 'none' },
    files, skipped: [], app: { profile: 'generic', items: [], metadataMembers: [] }, warnings: [],
  };
  // Signed with the key of the Lifeboat home `signWith`, when given: the bundle then passes the
  // MAC check as one of that installation's own, which is what the containment tests need to
  // reach (a forger holds no key; test/jobs/trust.test.ts covers the unsigned case).
  const key = options.signWith ? installationKey(options.signWith, { create: true }) : undefined;
  const full = await writer.finish(manifest, key ? (m) => signManifest(m, key) : undefined);
  await collecting;
  const bundle = Buffer.concat(chunks);
  for (const e of entries) if (e.tarType) retypeTarMember(bundle, `files/${e.set}${e.path}`, e.tarType, e.tarLink);
  const stored = `${target}/${id}${bundleSuffix(algorithm, encryption !== undefined)}`;
  mkdirSync(path.join(storageDir, target), { recursive: true });
  writeFileSync(path.join(storageDir, stored), bundle);
  const sidecar = Readable.from([Buffer.from(serializeManifest(full))]);
  const sealed: Buffer[] = [];
  for await (const c of encryption ? await encrypt(sidecar, encryption) : sidecar) sealed.push(c as Buffer);
  writeFileSync(path.join(storageDir, `${stored}.manifest.json`), Buffer.concat(sealed));
  return { id, key: stored };
}
