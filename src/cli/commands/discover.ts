import { existsSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import { globals, print } from '../context.ts';
import { table } from '../output.ts';

/** What runs in Docker: `lifeboat discover`, and the file `lifeboat init --docker` writes from it. */
export function registerDiscover(program: Command): void {
  program
    .command('discover')
    .description('list the PostgreSQL containers on the Docker engine (DOCKER_HOST or /var/run/docker.sock) and print a lifeboat.yaml fragment for them')
    .option('--storage <name>', 'the storage the fragment\'s targets use', 'local')
    .action(async (o: { storage: string }, cmd: Command) => {
      const opts = globals(cmd);
      const { discover, targetsFragment } = await import('../../docker/discover.ts');
      const found = await discover();
      print(opts, { containers: found, fragment: targetsFragment(found, o.storage) }, () => {
        if (!found.length) return 'no PostgreSQL container is running';
        const rows = found.map((p) => [p.name, p.image, p.version ?? '?', p.project ?? '-', p.volumes.map((v) => v.name ?? v.source).join(', ') || '-', p.apps.map((a) => `${a.name} (${a.profile})`).join(', ') || '-']);
        return `${table(['CONTAINER', 'IMAGE', 'VERSION', 'PROJECT', 'VOLUMES', 'APPS (PROFILE)'], rows)}\n\n# for lifeboat.yaml:\n${targetsFragment(found, o.storage)}`;
      });
    });
}

/** `lifeboat init --docker`: a lifeboat.yaml with one local storage and a target per PostgreSQL container. */
export async function initDocker(file: string, options: { storagePath: string; force?: boolean }): Promise<string[]> {
  const { discover, targetsFragment } = await import('../../docker/discover.ts');
  const found = await discover();
  if (!found.length) {
    throw new LifeboatError('E_NOT_FOUND', 'no PostgreSQL container is running on the Docker engine', {
      hint: 'start the stack (docker compose up -d), or write the file with lifeboat init (DATABASE_URL or PG* variables)',
    });
  }
  if (existsSync(file) && !options.force) {
    throw new LifeboatError('E_USAGE', `${file} already exists`, { hint: 'pass --force to overwrite it, or --config to write another file' });
  }
  writeFileSync(file, `# Lifeboat configuration, from \`lifeboat init --docker\`. Reference: README.md, "Containers as targets".
# Logins come from each container's POSTGRES_* environment at run time: no secret is written here.

storages:
  local: { type: local, path: ${options.storagePath} }

${targetsFragment(found, 'local')}`);
  return found.map((p) => p.name);
}
