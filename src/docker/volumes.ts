// Docker named volumes as file sets: read where the engine keeps them (the volume's mountpoint),
// and never the data directory of a running database, whose copy would not be a backup.

import { accessSync, constants } from 'node:fs';
import type { FileSetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { dockerClient, engineAddress, engineError } from './client.ts';
import { envMap } from './credentials.ts';
import { looksLikePostgres } from './discover.ts';
import { containerName } from './find-container.ts';

/** The sets with each volume set's paths filled in with its mountpoint. */
export async function resolveVolumeSets(sets: Record<string, FileSetConfig>, env: NodeJS.ProcessEnv = process.env): Promise<Record<string, FileSetConfig>> {
  const docker = await dockerClient(env);
  const out: Record<string, FileSetConfig> = {};
  for (const [set, cfg] of Object.entries(sets)) {
    if (!cfg.volume) {
      out[set] = cfg;
      continue;
    }
    const volume = cfg.volume;
    let mountpoint: string;
    try {
      mountpoint = (await docker.getVolume(volume).inspect()).Mountpoint;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        throw new LifeboatError('E_NOT_FOUND', `file set ${set}: no Docker volume "${volume}" at ${engineAddress(env)}`, { hint: 'docker volume ls lists them; Compose prefixes the project: <project>_<volume>' });
      }
      throw engineError(err, `cannot inspect volume ${volume}`, env);
    }
    const users = await docker.listContainers({ filters: { volume: [volume] } });
    for (const u of users) {
      const inspected = await docker.getContainer(u.Id).inspect();
      const e = envMap(inspected.Config.Env);
      if (looksLikePostgres(u, e)) {
        throw new LifeboatError('E_CONFIG', `file set ${set}: volume "${volume}" is in use by the running PostgreSQL container ${containerName(u)}; a copy of a live data directory is not a backup`, {
          hint: `back the database up as the target's database instead: postgres: { container: ${containerName(u)} }`,
        });
      }
    }
    try {
      accessSync(mountpoint, constants.R_OK | constants.X_OK);
    } catch (err) {
      throw new LifeboatError('E_DOCKER', `file set ${set}: cannot read volume "${volume}" at its mountpoint ${mountpoint}: ${(err as Error).message}`, {
        cause: err,
        hint: 'run Lifeboat as root on the Docker host, or mount the volume into Lifeboat\'s container and name that path in the file set',
      });
    }
    out[set] = { ...cfg, paths: [mountpoint] };
  }
  return out;
}
