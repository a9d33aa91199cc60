// Where a verification's test restore runs: a scratch cluster from this host's server binaries,
// or, when none fits (or the target asks for it), a throwaway container from the database
// container's own image.

import path from 'node:path';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError } from '../errors.ts';
import { startScratchCluster, type ScratchCluster } from '../postgres/scratch-cluster.ts';
import type { Job } from './job.ts';
import { tempRoot } from './resources.ts';

export async function startScratchServer(loaded: LoadedConfig, targetName: string, minMajor: number, job: Job): Promise<ScratchCluster> {
  const target = Object.hasOwn(loaded.config.targets, targetName) ? loaded.config.targets[targetName] : undefined;
  const verification = target?.verification;
  const settings = typeof verification === 'object' ? verification : {};
  const inContainer = async () => {
    const { startScratchContainer } = await import('../docker/scratch-container.ts');
    return startScratchContainer(target!.postgres!, { signal: job.signal, log: (line) => job.log('info', line) });
  };
  if (settings.scratch === 'container') return inContainer();
  try {
    return await startScratchCluster({ minMajor, binDir: settings.binDir, tempDir: tempRoot(loaded), templateDir: path.join(loaded.home, 'cache') });
  } catch (err) {
    const e = asLifeboatError(err);
    const container = target?.postgres && !target.postgres.url;
    if (settings.scratch === 'host' || !container || (e.code !== 'E_PG_TOOL' && e.code !== 'E_PG_VERSION')) throw err;
    job.log('info', `${e.message}: restoring into a throwaway container from the database container's image instead`);
    return inContainer();
  }
}
