// Restoring files into a Docker volume that this process cannot write at its mountpoint (Lifeboat
// in a container of its own, rootless Docker): through helper containers and the engine's archive
// API, so no image needs tar. What stands in the volume is listed first (for the plan); the
// restored entries go into a staging folder inside the volume in one archive, then a helper
// with a shell renames each over its destination (rename is atomic on the volume's file system,
// as on the host) and removes the staging folder; last, the written files are read back.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import type { FileRecord } from '../bundle/manifest.ts';
import { LifeboatError } from '../errors.ts';
import { dockerClient, engineError } from './client.ts';
import { archiveNames, createHelper, HELPER_MOUNT } from './volumes.ts';

/** One entry standing in a volume, as the plan's checks look at it (a subset of fs.Stats). */
export interface VolumeEntry {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  /** Its sha256, when asked for (files only). */
  sha256?: string;
}

/**
 * What stands in a volume, keyed by the path relative to its root ('' for the root itself).
 * `hash`: relative paths of the files whose sha256 is wanted; the others are skipped unread.
 */
export async function listVolume(volume: string, options: { hash?: Set<string>; env?: NodeJS.ProcessEnv } = {}): Promise<Map<string, VolumeEntry>> {
  const env = options.env ?? process.env;
  const docker = await dockerClient(env);
  const helper = await createHelper(docker, volume, env);
  const found = new Map<string, VolumeEntry>();
  try {
    let archive: Readable;
    try {
      archive = (await helper.container.getArchive({ path: `${HELPER_MOUNT}/.` })) as unknown as Readable;
    } catch (err) {
      throw engineError(err, `cannot read volume ${volume}`, env);
    }
    const unpack = tar.extract();
    const nameOf = archiveNames();
    unpack.on('entry', (header, stream, next) => {
      const rel = nameOf(header);
      const entry: VolumeEntry = { isDirectory: () => header.type === 'directory', isSymbolicLink: () => header.type === 'symlink' };
      found.set(rel, entry);
      if (header.type !== 'file' || !options.hash?.has(rel)) {
        stream.on('end', () => next()).resume();
        return;
      }
      const hash = createHash('sha256');
      stream.on('data', (d: unknown) => void hash.update(d as Buffer));
      stream.on('end', () => {
        entry.sha256 = hash.digest('hex');
        next();
      });
    });
    await pipeline(archive, unpack);
  } finally {
    await helper.remove();
  }
  return found;
}

/** One entry to write: its manifest record, the path relative to the volume's root, its staged bytes. */
export interface VolumeWrite {
  record: FileRecord;
  rel: string;
  staged?: string;
}

/** A string as one sh word. */
function quote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * Writes the entries into the volume (see the top of this file) and returns the sha256 of each
 * file read back from the volume afterwards, by relative path. Directories are created (or their
 * mode and owner set) directly; files and links are renamed into place one by one, each whole or
 * not at all; ownership, modes and times come from the manifest. The helpers are removed on
 * every path out.
 */
export async function writeVolume(volume: string, writes: VolumeWrite[], options: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<Map<string, string | undefined>> {
  const env = options.env ?? process.env;
  const docker = await dockerClient(env);
  const stage = `.lifeboat-restore-${randomBytes(6).toString('hex')}`;
  const staged = `${HELPER_MOUNT}/${stage}`;
  const dirs = writes.filter((w) => w.record.type === 'directory').sort((a, b) => a.rel.split('/').length - b.rel.split('/').length);
  const others = writes.filter((w) => w.record.type !== 'directory');
  const script = [
    'set -e',
    `S=${quote(staged)}`,
    'trap \'rm -rf -- "$S"\' EXIT',
    // A link standing at the destination is replaced, never followed (mv would move into a linked folder).
    'put() { mkdir -p -- "$3"; if [ -L "$2" ]; then rm -f -- "$2"; elif [ -d "$2" ]; then echo "$2 is a directory in the volume" >&2; exit 1; fi; mv -f -- "$S/$1" "$2"; }',
    ...others.map((w, i) => `put ${i} ${quote(`${HELPER_MOUNT}/${w.rel}`)} ${quote(path.posix.dirname(`${HELPER_MOUNT}/${w.rel}`))}`),
  ];
  // The volume's root cannot be an archive entry (the engine skips "."): its mode and owner are set here.
  const root = dirs.find((w) => w.rel === '');
  if (root) script.push(`chown ${root.record.uid}:${root.record.gid} ${HELPER_MOUNT}`, `chmod ${(root.record.mode & 0o7777).toString(8)} ${HELPER_MOUNT}`);

  // Started whatever happened to the copy: it swaps only when the archive arrived whole (its last
  // entry, `ready`, is there); else it removes the staging folder, so no partial copy stays.
  const guard = 'S="$1"; if [ -f "$S/ready" ]; then exec sh "$S/swap.sh"; fi; rm -rf -- "$S"; exit 3';
  const helper = await createHelper(docker, volume, env, { write: true, command: ['-c', guard, 'lifeboat-helper', staged], staging: staged });
  try {
    const pack = tar.pack();
    const put = helper.container.putArchive(pack as unknown as NodeJS.ReadableStream, { path: HELPER_MOUNT });
    // An engine that stops reading fails the entries being written, instead of leaving them waiting.
    put.catch((err: unknown) => pack.destroy(err as Error));
    let failure: unknown;
    try {
      const mtime = (r: FileRecord) => new Date(r.mtime);
      const entry = (header: Partial<tar.Header> & { name: string }, body = '') => new Promise<void>((resolve, reject) => pack.entry(header, body, (err) => (err ? reject(err) : resolve())));
      await entry({ name: stage, type: 'directory', mode: 0o700, uid: 0, gid: 0 });
      for (const w of dirs.filter((x) => x.rel !== '')) {
        await entry({ name: w.rel, type: 'directory', mode: w.record.mode & 0o7777, uid: w.record.uid, gid: w.record.gid, mtime: mtime(w.record) });
      }
      for (const [i, w] of others.entries()) {
        options.signal?.throwIfAborted();
        const header = { name: `${stage}/${i}`, mode: w.record.mode & 0o7777, uid: w.record.uid, gid: w.record.gid, mtime: mtime(w.record) };
        if (w.record.type === 'symlink') {
          await entry({ ...header, type: 'symlink', linkname: w.record.linkTarget ?? '' });
        } else {
          const sink = pack.entry({ ...header, type: 'file', size: w.record.size });
          await pipeline(createReadStream(w.staged!), sink);
        }
      }
      await entry({ name: `${stage}/swap.sh`, type: 'file', mode: 0o700, uid: 0, gid: 0 }, `${script.join('\n')}\n`);
      await entry({ name: `${stage}/ready`, type: 'file', mode: 0o600, uid: 0, gid: 0 });
      pack.finalize();
      await put;
    } catch (err) {
      failure = err;
      pack.destroy(err as Error);
      await put.catch(() => undefined);
    }
    await helper.container.start();
    const { StatusCode } = (await helper.container.wait()) as { StatusCode: number };
    if (failure) throw engineError(failure, `cannot copy the restored files into volume ${volume}`, env);
    if (StatusCode !== 0) {
      const logs = demux((await helper.container.logs({ stdout: true, stderr: true })) as unknown as Buffer);
      throw new LifeboatError('E_RESTORE_FAILED', `the helper container could not put the files in place in volume ${volume}: ${logs.trim() || `exit ${StatusCode}`}`);
    }
  } finally {
    await helper.remove();
  }
  const files = writes.filter((w) => w.record.type === 'file');
  const back = await listVolume(volume, { hash: new Set(files.map((w) => w.rel)), env });
  return new Map(files.map((w) => [w.rel, back.get(w.rel)?.sha256]));
}

/** The text of the engine's multiplexed log stream (8-byte frame headers). */
function demux(buf: Buffer): string {
  if (!Buffer.isBuffer(buf)) return String(buf);
  const out: Buffer[] = [];
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(out).toString('utf8');
}

/** A path below a volume's mountpoint, relative to it ('' for the mountpoint itself). */
export function relativeTo(mountpoint: string, p: string): string {
  return p === mountpoint ? '' : path.relative(mountpoint, p);
}

/**
 * What a killed restore's writing helper left (jobs/resources.ts reaps it): a helper that was
 * started finishes by itself (its script removes the staging folder either way) and is waited
 * for; one never started leaves the staging folder, which a container of the same image removes.
 */
export async function cleanLeftHelper(docker: Dockerode, helper: Dockerode.ContainerInspectInfo, detail: string): Promise<void> {
  const { volume, staging } = JSON.parse(detail) as { volume: string; staging: string };
  if (!new RegExp(`^${HELPER_MOUNT}/\\.lifeboat-restore-[0-9a-f]+$`).test(staging)) throw new Error(`refusing to remove ${staging}: not a Lifeboat staging folder`);
  if (helper.State.Running || helper.State.StartedAt !== '0001-01-01T00:00:00Z') {
    await docker.getContainer(helper.Id).wait();
    return;
  }
  const { SCRATCH_LABEL, SCRATCH_HOST_LABEL } = await import('./scratch-container.ts');
  const { hostname } = await import('node:os');
  const cleaner = await docker.createContainer({
    Image: helper.Image, Entrypoint: ['/bin/sh'], Cmd: ['-c', 'rm -rf -- "$1"', 'lifeboat-cleanup', staging], User: '0:0',
    Labels: { [SCRATCH_LABEL]: String(process.pid), [SCRATCH_HOST_LABEL]: hostname() },
    HostConfig: { Binds: [`${volume}:${HELPER_MOUNT}:rw`], NetworkMode: 'none' },
  });
  try {
    await cleaner.start();
    const { StatusCode } = (await cleaner.wait()) as { StatusCode: number };
    if (StatusCode !== 0) throw new Error(`could not remove ${staging} from volume ${volume}: exit ${StatusCode}`);
  } finally {
    await cleaner.remove({ force: true }).catch(() => undefined);
  }
}
