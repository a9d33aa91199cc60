import path from 'node:path';
import type { DecryptionKeys } from '../bundle/codec.ts';
import type { Manifest } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { formatBytes } from '../util/format.ts';
import type { Copies } from './copies.ts';
import type { Job } from './job.ts';
import { openBundleStream } from './restore-remote-source.ts';
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
export async function prepareRemote(ssh: SshSession, parent: string, manifest: Manifest, storedSize: number, signal: AbortSignal): Promise<RemoteWorkDir> {
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
  const need = unpacked + (zstd ? storedSize : unpacked);
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
 * encrypted: the identity stays here), and unpacks it into `bundle/`. A copy whose bytes do not
 * match their recorded sha256, or that cannot be read, is marked bad and the next is uploaded
 * instead. Returns the bytes sent.
 */
export async function uploadAndUnpack(ssh: SshSession, work: RemoteWorkDir, copies: Copies, keys: DecryptionKeys, job: Job): Promise<number> {
  const signal = job.signal;
  for (;;) {
    const copy = copies.current;
    const total = copy.location.size ?? undefined;
    let read = 0;
    const name = `bundle.tar${work.zstd && copy.key.includes('.tar.zst') ? '.zst' : ''}`;
    const file = path.posix.join(work.dir, name);
    const started = Date.now();
    try {
      const source = await openBundleStream(copy, keys, {
        decompress: !work.zstd,
        signal,
        onRead: (n) => {
          read += n;
          job.progress({ phase: 'upload', current: `${copy.storage.name} -> ${ssh.remote.host}`, done: read, total, unit: 'bytes' });
        },
      });
      job.log('info', `uploading backup from storage ${copy.storage.name}${source.encrypted ? ' (decrypted here: the identity stays on this machine)' : ''} to ${ssh.remote.display}:${file}`);
      const sent = await ssh.upload(source.stream, file, { signal });
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      job.log('info', `uploaded ${formatBytes(sent)} in ${seconds.toFixed(1)} s (${formatBytes(sent / seconds)}/s)`);
      const unpack = source.algorithm === 'zstd' ? `zstd -dcq ${shq(name)} | tar -xf - -C bundle` : `tar -xf ${shq(name)} -C bundle`;
      await ssh.run(`cd ${shq(work.dir)} && mkdir bundle && bash -o pipefail -c ${shq(unpack)} && rm -f ${shq(name)}`, 'unpacking the bundle', signal);
      job.log('info', `unpacked into ${work.bundle}`);
      return sent;
    } catch (err) {
      const e = asLifeboatError(err);
      await ssh.exec(`rm -rf ${shq(file)} ${shq(work.bundle)}`).catch(() => undefined);
      if (!['E_BUNDLE_CORRUPT', 'E_STORAGE_READ', 'E_STORAGE_NOT_FOUND'].includes(e.code) || !(await copies.fallBack(e.message))) throw e;
    }
  }
}
