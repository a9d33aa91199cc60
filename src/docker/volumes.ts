// Docker named volumes as file sets: read where the engine keeps them (the volume's mountpoint)
// when this process may, else copied out through a helper container that mounts the volume
// read-only and is never started (the engine's archive API reads its mounts). Never the data
// directory of a running database, whose copy would not be a backup. The helper containers and
// the volume's users serve the restore into a volume too (volume-write.ts).

import { randomBytes } from 'node:crypto';
import { accessSync, constants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import tar from 'tar-stream';
import type { FileEntry } from '../bundle/file-sets.ts';
import type { FileSetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { removeTempDir } from '../jobs/resources.ts';
import { track } from '../util/resource-ledger.ts';
import { dockerClient, engineAddress, engineError } from './client.ts';
import { envMap } from './credentials.ts';
import { looksLikePostgres } from './discover.ts';
import { containerName } from './find-container.ts';
import { SCRATCH_HOST_LABEL, SCRATCH_LABEL } from './scratch-container.ts';

/** The sets ready for collectFiles, and what maps staged copies back to the volume's paths. */
export interface ResolvedVolumes {
  sets: Record<string, FileSetConfig>;
  /** Entries read from a staged copy get the volume's mountpoint paths back; `source` keeps the copy. */
  remap(entries: FileEntry[]): void;
  /** Removes the staged copies. */
  cleanup(): Promise<void>;
}

export async function resolveVolumeSets(
  sets: Record<string, FileSetConfig>,
  options: { stage: () => Promise<string>; log?: (line: string) => void; env?: NodeJS.ProcessEnv },
): Promise<ResolvedVolumes> {
  const env = options.env ?? process.env;
  const docker = await dockerClient(env);
  const out: Record<string, FileSetConfig> = {};
  const staged = new Map<string, { root: string; mountpoint: string }>();
  const dirs: string[] = [];
  const cleanup = async () => {
    for (const d of dirs) await removeTempDir(d).catch(() => undefined);
  };
  try {
    for (const [set, cfg] of Object.entries(sets)) {
      if (!cfg.volume) {
        out[set] = cfg;
        continue;
      }
      const mountpoint = await checkVolume(docker, set, cfg.volume, env);
      if (cfg.via !== 'helper' && mayEnter(mountpoint)) {
        out[set] = { ...cfg, paths: [mountpoint] };
        continue;
      }
      if (cfg.via === 'mountpoint') {
        throw new LifeboatError('E_DOCKER', `file set ${set}: cannot read volume "${cfg.volume}" at its mountpoint ${mountpoint}`, {
          hint: 'run Lifeboat as root on the Docker host, or set via: auto to read it through a helper container',
        });
      }
      const dir = await options.stage();
      dirs.push(dir);
      const root = path.join(dir, 'volume');
      options.log?.(`reading volume ${cfg.volume} through a helper container`);
      await copyOut(docker, cfg.volume, root, env);
      staged.set(set, { root, mountpoint });
      out[set] = { ...cfg, paths: [root] };
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    sets: out,
    remap(entries) {
      for (const e of entries) {
        const s = staged.get(e.set);
        if (!s || (e.path !== s.root && !e.path.startsWith(s.root + '/'))) continue;
        e.source = e.path;
        e.path = s.mountpoint + e.path.slice(s.root.length);
        e.member = `files/${e.set}${e.path}`;
      }
    },
    cleanup,
  };
}

/** Whether this process may read (or, `write`, change) the folder: a volume's mountpoint. */
export function mayEnter(dir: string, write = false): boolean {
  try {
    accessSync(dir, (write ? constants.W_OK : constants.R_OK) | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Names the entries of the engine's tar of a folder relative to that folder: its first entry is
 * the folder itself (`./` or `lifeboat-volume/`), the others are named under it.
 */
export function archiveNames(): (header: { name: string; type?: string | null }) => string {
  let prefix: string | undefined;
  return (header) => {
    if (prefix === undefined) prefix = header.type === 'directory' ? header.name.replace(/\/?$/, '/') : '';
    const full = header.name.replace(/\/?$/, header.type === 'directory' ? '/' : '');
    return (full.startsWith(prefix) ? full.slice(prefix.length) : full).replace(/\/$/, '');
  };
}

/** The volume's mountpoint, after refusing a missing volume and a running database's. */
async function checkVolume(docker: Dockerode, set: string, volume: string, env: NodeJS.ProcessEnv): Promise<string> {
  const mountpoint = await volumeMountpoint(docker, set, volume, env);
  const database = (await volumeUsers(docker, volume)).find((u) => u.postgres);
  if (database) {
    throw new LifeboatError('E_CONFIG', `file set ${set}: volume "${volume}" is in use by the running PostgreSQL container ${database.name}; a copy of a live data directory is not a backup`, {
      hint: `back the database up as the target's database instead: postgres: { container: ${database.name} }`,
    });
  }
  return mountpoint;
}

/** Where the engine keeps a volume's files; a missing volume is an error naming the set. */
export async function volumeMountpoint(docker: Dockerode, set: string, volume: string, env: NodeJS.ProcessEnv): Promise<string> {
  try {
    return (await docker.getVolume(volume).inspect()).Mountpoint;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) {
      throw new LifeboatError('E_NOT_FOUND', `file set ${set}: no Docker volume "${volume}" at ${engineAddress(env)}`, { hint: 'docker volume ls lists them; Compose prefixes the project: <project>_<volume>' });
    }
    throw engineError(err, `cannot inspect volume ${volume}`, env);
  }
}

/** The running containers that mount a volume, and whether each is a PostgreSQL server. */
export async function volumeUsers(docker: Dockerode, volume: string): Promise<{ name: string; postgres: boolean }[]> {
  const users = [];
  for (const u of await docker.listContainers({ filters: { volume: [volume] } })) {
    const inspected = await docker.getContainer(u.Id).inspect();
    users.push({ name: containerName(u), postgres: looksLikePostgres(u, envMap(inspected.Config.Env)) });
  }
  return users;
}

/** A helper container, and what removes it (and forgets its record). */
export interface Helper {
  container: Dockerode.Container;
  remove(): Promise<void>;
}

/** Where a helper container mounts the volume. */
export const HELPER_MOUNT = '/lifeboat-volume';

/**
 * A helper container with the volume mounted at HELPER_MOUNT, created and never started unless
 * `command` is given: then from an image that has /bin/sh and mv (checked through the archive API
 * before anything runs), as root, so it may replace any file. Labelled as a scratch container
 * so a killed run's helper is swept (scratch-container.ts). The caller removes it.
 */
export async function createHelper(docker: Dockerode, volume: string, env: NodeJS.ProcessEnv, options: { write?: boolean; command?: string[]; staging?: string } = {}): Promise<Helper> {
  // Any local image serves when nothing runs: prefer one a container of this volume uses.
  const users = await docker.listContainers({ all: true, filters: { volume: [volume] } });
  const images = [...new Set([...users.map((u) => u.ImageID), ...(await docker.listImages()).map((i) => i.Id)])];
  if (!images.length) throw new LifeboatError('E_DOCKER', `cannot reach volume "${volume}": no local image to make a helper container from`);
  const { hostname } = await import('node:os');
  for (const image of images.slice(0, options.command ? 8 : 1)) {
    let helper: Dockerode.Container;
    const name = `lifeboat-helper-${randomBytes(4).toString('hex')}`;
    // Before it exists: a kill leaves it recorded, with the staging folder it may leave in the volume.
    const record = track({ kind: 'container', location: name, server: engineAddress(env), ...(options.staging ? { detail: JSON.stringify({ volume, staging: options.staging }) } : {}) });
    const remove = () => helper.remove({ force: true, v: false }).then(() => record.release(), () => undefined);
    try {
      helper = await docker.createContainer({
        name, Image: image, Entrypoint: options.command ? ['/bin/sh'] : ['/lifeboat-never-started'], Cmd: options.command ?? [], User: '0:0',
        Labels: { [SCRATCH_LABEL]: String(process.pid), [SCRATCH_HOST_LABEL]: hostname() },
        HostConfig: { Binds: [`${volume}:${HELPER_MOUNT}:${options.write ? 'rw' : 'ro'}`], NetworkMode: 'none' },
      });
    } catch (err) {
      record.release();
      throw engineError(err, `cannot create a helper container for volume ${volume}`, env);
    }
    if (!options.command) return { container: helper, remove };
    const has = (p: string) => helper.infoArchive({ path: p }).then(() => true, () => false);
    if ((await has('/bin/sh')) && ((await has('/bin/mv')) || (await has('/usr/bin/mv')))) return { container: helper, remove };
    await remove();
  }
  throw new LifeboatError('E_DOCKER', `cannot write into volume "${volume}": no local image with /bin/sh and mv to run the helper container from`, {
    hint: 'pull a small image with a shell (docker pull busybox), or run Lifeboat as root on the Docker host so it writes through the mountpoint',
  });
}

/**
 * Copies a volume's files to `root` through a helper container: created with the volume mounted
 * read-only, never started, read through the archive API (no tar needed in any image), removed.
 */
async function copyOut(docker: Dockerode, volume: string, root: string, env: NodeJS.ProcessEnv): Promise<void> {
  const helper = await createHelper(docker, volume, env);
  try {
    const archive = (await helper.container.getArchive({ path: `${HELPER_MOUNT}/.` })) as unknown as Readable;
    await extract(archive, root);
  } finally {
    await helper.remove();
  }
}

/** Unpacks the engine's tar of a folder under `root`, keeping modes and times. */
async function extract(archive: Readable, root: string): Promise<void> {
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const times: [string, Date][] = [];
  const unpack = tar.extract();
  const nameOf = archiveNames();
  unpack.on('entry', (header, stream, next) => {
    const name = nameOf(header);
    const target = path.join(root, name);
    if (name.split('/').includes('..')) {
      stream.resume();
      return next();
    }
    const done = (err?: unknown) => (err ? next(err as Error) : next());
    const mode = (header.mode ?? 0o644) & 0o7777;
    const mtime = header.mtime ?? new Date();
    if (header.type === 'directory') {
      stream.resume();
      fs.mkdir(target, { recursive: true }).then(() => fs.chmod(target, mode)).then(() => times.push([target, mtime])).then(() => done(), done);
    } else if (header.type === 'symlink') {
      stream.resume();
      fs.symlink(header.linkname ?? '', target).then(() => done(), done);
    } else if (header.type === 'file') {
      pipeline(stream, createWriteStream(target, { mode })).then(() => fs.utimes(target, mtime, mtime)).then(() => done(), done);
    } else {
      stream.resume();
      next();
    }
  });
  await pipeline(archive, unpack);
  // Folders last: writing into them moved their times.
  for (const [dir, mtime] of times.reverse()) await fs.utimes(dir, mtime, mtime).catch(() => undefined);
}
