// Files restored in place into a Docker volume file set (README, "Containers as targets"): the
// bundle names them by the volume's mountpoint, so the mountpoint is the set's configured path.
// Written through it when this process may; else through helper containers (docker/volume-write.ts),
// whose listing of the volume stands in for lstat in the plan's checks. Refused into a running
// database's volume; a running app on the volume stops the restore unless --force.
import type { FileRecord } from '../bundle/manifest.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import type { FileRoots } from './restore-files-check.ts';
import type { PlannedFile } from './restore-files.ts';
import type { RestoreContext } from './restore-context.ts';
import type { Check } from './restore-plan.ts';

/** A volume file set that entries of this restore go back into. */
export interface VolumeDestination {
  set: string;
  volume: string;
  mountpoint: string;
  /** How it is written: at its mountpoint by this process, or through helper containers. */
  via: 'mountpoint' | 'helper';
  /** With `helper`: what stands in the volume now, by path relative to its root. */
  listing?: Map<string, { isDirectory(): boolean; isSymbolicLink(): boolean }>;
}

function inside(p: string, root: string): boolean {
  return p === root || p.startsWith(root + '/');
}


/**
 * The volume sets of the target that selected entries go back into, with their checks, and
 * `roots` completed with their mountpoints. Nothing is asked of the engine when the target has
 * no volume set; an engine that cannot be reached fails only a restore that needs it.
 */
export async function planVolumes(ctx: RestoreContext, roots: FileRoots, checks: Check[]): Promise<VolumeDestination[]> {
  if (roots.kind !== 'in-place' || !roots.sets) return [];
  const config = Object.hasOwn(ctx.loaded.config.targets, ctx.backup.target) ? ctx.loaded.config.targets[ctx.backup.target] : undefined;
  const sets = Object.entries(config?.files ?? {}).filter(([, cfg]) => cfg.volume);
  if (!sets.length) return [];
  const { dockerClient } = await import('../docker/client.ts');
  const { mayEnter, volumeMountpoint, volumeUsers } = await import('../docker/volumes.ts');
  const found: VolumeDestination[] = [];
  let docker;
  try {
    docker = await dockerClient();
  } catch (err) {
    const needed = sets.filter(([set]) => ctx.selectedFiles.some((f) => f.set === set));
    for (const [set, cfg] of needed) checks.push({ name: `volume ${cfg.volume}`, ok: false, detail: `file set ${set}: ${asLifeboatError(err).message}` });
    return [];
  }
  for (const [set, cfg] of sets) {
    const volume = cfg.volume!;
    let mountpoint: string;
    try {
      mountpoint = await volumeMountpoint(docker, set, volume, process.env);
    } catch (err) {
      if (ctx.selectedFiles.some((f) => f.set === set)) checks.push({ name: `volume ${volume}`, ok: false, detail: asLifeboatError(err).message });
      continue;
    }
    roots.sets.set(set, [mountpoint]);
    // Entries of a renamed set (or a safety backup's) go back by their paths too.
    if (!ctx.selectedFiles.some((f) => inside(f.path, mountpoint))) continue;
    const users = await volumeUsers(docker, volume);
    const database = users.find((u) => u.postgres);
    if (database) {
      checks.push({ name: `volume ${volume}`, ok: false, detail: `in use by the running PostgreSQL container ${database.name}: files written under a live data directory corrupt it; restore the database through postgres: { container: ${database.name} } instead` });
      continue;
    }
    const direct = cfg.via !== 'helper' && mayEnter(mountpoint, true);
    if (!direct && cfg.via === 'mountpoint') {
      checks.push({ name: `volume ${volume}`, ok: false, detail: `file set ${set}: cannot write at its mountpoint ${mountpoint} (via: mountpoint); run Lifeboat as root on the Docker host, or set via: auto to write through a helper container` });
      continue;
    }
    const apps = users.map((u) => u.name);
    if (apps.length) {
      // An app keeps files of its volume open and rewrites them (n8n its config): what it
      // writes after the restore would mix with the restored files. Stopping it is the safe way.
      checks.push({ name: `volume ${volume} in use`, ok: false, overridable: true, detail: `mounted by the running container(s) ${apps.join(', ')}: stop ${apps.length === 1 ? 'it' : 'them'} first (docker stop ${apps.join(' ')}), or pass --force to write under ${apps.length === 1 ? 'it' : 'them'}` });
    }
    const destination: VolumeDestination = { set, volume, mountpoint, via: direct ? 'mountpoint' : 'helper' };
    if (!direct) {
      const { listVolume } = await import('../docker/volume-write.ts');
      try {
        destination.listing = await listVolume(volume);
      } catch (err) {
        checks.push({ name: `volume ${volume}`, ok: false, detail: `cannot list it through a helper container: ${asLifeboatError(err).message}` });
        continue;
      }
    }
    checks.push({ name: `volume ${volume}`, ok: true, detail: `file set ${set}: written ${direct ? `at its mountpoint ${mountpoint}` : `through a helper container (${mountpoint} is not writable here${cfg.via === 'helper' ? ', or via: helper' : ''})`}` });
    found.push(destination);
  }
  return found;
}

/** The volume a path goes back into, when it lies under one. */
export function volumeOf(volumes: VolumeDestination[], p: string): VolumeDestination | undefined {
  return volumes.find((v) => inside(p, v.mountpoint));
}

/** lstat for the plan's checks: a helper volume's listing below its mountpoint, else this file system. */
export function lookup(volumes: VolumeDestination[], lstat: (p: string) => Promise<{ isDirectory(): boolean; isSymbolicLink(): boolean } | undefined>) {
  return async (p: string) => {
    const v = volumeOf(volumes, p);
    if (v?.listing) return v.listing.get(p === v.mountpoint ? '' : p.slice(v.mountpoint.length + 1));
    return lstat(p);
  };
}

/**
 * Writes the planned entries that go through helper containers, one volume at a time, and
 * returns each file's sha256 as read back from its volume, by original path.
 */
export async function placeInVolumes(planned: PlannedFile[], records: FileRecord[], staged: Map<string, string>, signal: AbortSignal): Promise<Map<string, string | undefined>> {
  const { writeVolume } = await import('../docker/volume-write.ts');
  const byVolume = new Map<string, { mountpoint: string; writes: { record: FileRecord; rel: string; staged?: string }[] }>();
  for (const p of planned) {
    if (p.via !== 'helper' || !p.volume || !p.mountpoint) continue;
    const record = records.find((r) => r.set === p.set && r.path === p.path);
    if (!record) throw new LifeboatError('E_RESTORE_FAILED', `refused ${p.path}: the plan did not accept it`);
    const v = byVolume.get(p.volume) ?? { mountpoint: p.mountpoint, writes: [] };
    v.writes.push({ record, rel: p.path === p.mountpoint ? '' : p.path.slice(p.mountpoint.length + 1), staged: staged.get(record.member) });
    byVolume.set(p.volume, v);
  }
  const sums = new Map<string, string | undefined>();
  for (const [volume, { mountpoint, writes }] of byVolume) {
    const back = await writeVolume(volume, writes, { signal });
    for (const [rel, sha] of back) sums.set(rel === '' ? mountpoint : `${mountpoint}/${rel}`, sha);
  }
  return sums;
}

/** Glob characters escaped, so a path is matched as itself (a safety backup's include). */
export function literalGlob(p: string): string {
  return p.replace(/[\\*?[\]{}()!+@|^$]/g, '\\$&');
}
