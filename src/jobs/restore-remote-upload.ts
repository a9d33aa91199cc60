import path from 'node:path';
import { pipeline } from 'node:stream';
import { decompressor, formatFromName } from '../bundle/codec.ts';
import type { Manifest } from '../bundle/manifest.ts';
import type { BackupRecord, Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { formatBytes } from '../util/format.ts';
import type { Job } from './job.ts';
import { readGoodCopy } from './export-stream.ts';
import { shq, type SshSession } from './restore-remote-ssh.ts';

/** The remote work directory: the upload, then the unpacked bundle in `bundle/`. */
export interface RemoteWorkDir {
  dir: string;
  /** Where restore.sh and the members are. */
  bundle: string;
  /** Whether the remote has zstd: then a zstd bundle travels compressed. */
  zstd: boolean;
}

/**
 * Checks what the remote needs to take the bundle (bash, tar: restore.sh checks its own tools
 * later) and the free space for the upload and the unpacked members, then makes a fresh work
 * directory under `parent`. Nothing is left behind when a check fails.
 */
export async function prepareRemote(ssh: SshSession, parent: string, manifest: Manifest, stored: { size: number; zstd: boolean }, signal: AbortSignal): Promise<RemoteWorkDir> {
  const probe = [
    `cd ${shq(parent)} || exit 3`,
    'for t in bash tar; do command -v "$t" >/dev/null 2>&1 || echo "missing $t"; done',
    'command -v zstd >/dev/null 2>&1 && echo zstd',
    'df -Pk . | tail -n 1 | { read -r _ _ _ free _; echo "free $free"; }',
  ].join('\n');
  const r = await ssh.exec(probe, { signal });
  if (r.code === 3) throw new LifeboatError('E_USAGE', `${ssh.remote.display} has no directory ${parent}: ${r.stderr.trim()}`, { hint: 'name an existing directory with --remote-dir' });
  if (r.code !== 0) throw new LifeboatError('E_RESTORE_FAILED', `cannot look around on ${ssh.remote.display}: ${r.stderr.trim() || `exit ${r.code ?? r.signal}`}`);
  const lines = r.stdout.split('\n');
  const missing = lines.filter((l) => l.startsWith('missing ')).map((l) => l.slice(8));
  if (missing.length) {
    throw new LifeboatError('E_RESTORE_CHECK', `${ssh.remote.display} lacks ${missing.join(' and ')}, which unpacking the bundle and restore.sh need; nothing was sent`, {
      hint: 'Debian/Ubuntu: apt-get install bash tar; RHEL/Fedora: dnf install bash tar; Alpine: apk add bash tar',
    });
  }
  const zstd = lines.includes('zstd');
  const free = Number(lines.find((l) => l.startsWith('free '))?.slice(5)) * 1024;
  // The upload and its unpacked members side by side (the upload is removed once unpacked).
  const unpacked = manifest.members.reduce((n, m) => n + m.size, 0) + manifest.members.length * 1024;
  const need = unpacked + (zstd && stored.zstd ? stored.size : unpacked);
  if (Number.isFinite(free) && free < need) {
    throw new LifeboatError('E_RESTORE_CHECK', `${parent} on ${ssh.remote.display} has ${formatBytes(free)} free; the bundle needs about ${formatBytes(need)} there (upload and unpacked members); nothing was sent`, {
      hint: 'free some space, or pick a roomier directory with --remote-dir',
    });
  }
  const dir = (await ssh.run(`mktemp -d ${shq(path.posix.join(parent, 'lifeboat-restore-XXXXXX'))}`, 'making the work directory', signal)).trim();
  return { dir, bundle: path.posix.join(dir, 'bundle'), zstd };
}

/**
 * Uploads the bundle from the first good copy into the work directory, plain or zstd (never
 * encrypted: it is decrypted here, so the identity stays on this machine), and unpacks it into
 * `bundle/`. A copy found damaged on the way is marked bad and the next one uploaded instead.
 * Returns the bytes sent.
 */
export async function uploadAndUnpack(ssh: SshSession, work: RemoteWorkDir, loaded: LoadedConfig, catalog: Catalog, backup: BackupRecord, job: Job): Promise<number> {
  const signal = job.signal;
  const { result } = await readGoodCopy(loaded, catalog, backup, async (read) => {
    const keepZstd = work.zstd && formatFromName(read.name).algorithm === 'zstd';
    const name = keepZstd ? 'bundle.tar.zst' : 'bundle.tar';
    const file = path.posix.join(work.dir, name);
    // Again from nothing when an earlier copy turned out damaged.
    await ssh.run(`rm -rf ${shq(file)} ${shq(work.bundle)}`, 'clearing the work directory', signal);
    const z = keepZstd ? undefined : decompressor(formatFromName(read.name).algorithm);
    const stream = z ? pipeline(read.stream, z, () => undefined) : read.stream;
    const started = Date.now();
    job.log('info', `uploading backup from storage ${read.copy.storage.name}${read.decrypted ? ' (decrypted here: the identity stays on this machine)' : ''}${z ? ' (decompressed here: the remote has no zstd)' : ''} to ${ssh.remote.display}:${file}`);
    const sent = await ssh.upload(stream, file, { signal });
    // Decryption may end the stream a moment before the copy's check settles: unpack only a checked copy.
    await read.checked;
    const seconds = Math.max(0.001, (Date.now() - started) / 1000);
    job.log('info', `uploaded ${formatBytes(sent)} in ${seconds.toFixed(1)} s (${formatBytes(sent / seconds)}/s)`);
    const unpack = keepZstd ? `zstd -dcq ${shq(name)} | tar -xf - -C bundle` : `tar -xf ${shq(name)} -C bundle`;
    await ssh.run(`cd ${shq(work.dir)} && mkdir bundle && bash -o pipefail -c ${shq(unpack)} && rm -f ${shq(name)}`, 'unpacking the bundle', signal);
    job.log('info', `unpacked into ${work.bundle}`);
    return sent;
  }, {
    decrypt: true,
    signal,
    log: (level, message) => job.log(level, message),
    onProgress: (done, total) => job.progress({ phase: 'upload', current: `-> ${ssh.remote.host}`, done, total, unit: 'bytes' }),
  });
  return result;
}
