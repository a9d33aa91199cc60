// Which container a target means: an exact name, a name pattern, or a label.

import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';
import { engineAddress, engineError } from './client.ts';

/** How a target names its container (config `postgres.container`, or the LIFEBOAT_POSTGRES_* env). */
export type ContainerSelector = { name: string } | { pattern: string } | { label: string };

/** The selector in words, for messages: `name "db"`, `pattern /postgres/`, `label com.docker...`. */
export function describeSelector(s: ContainerSelector): string {
  if ('name' in s) return `container "${s.name}"`;
  if ('pattern' in s) return `containers matching /${s.pattern}/`;
  return `containers labelled ${s.label}`;
}

/** A container's name without the engine's leading slash. */
export function containerName(c: Pick<Dockerode.ContainerInfo, 'Names' | 'Id'>): string {
  return c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12);
}

function matches(s: ContainerSelector, c: Dockerode.ContainerInfo): boolean {
  const names = c.Names.map((n) => n.replace(/^\//, ''));
  if ('name' in s) return names.includes(s.name) || c.Id === s.name || (s.name.length >= 12 && c.Id.startsWith(s.name));
  if ('pattern' in s) {
    const re = new RegExp(s.pattern, 'i');
    return names.some((n) => re.test(n));
  }
  const [key, ...rest] = s.label.split('=');
  const value = rest.length ? rest.join('=') : undefined;
  return key! in (c.Labels ?? {}) && (value === undefined || c.Labels[key!] === value);
}

/**
 * The one running container the selector names. No match (listing what runs), several running
 * matches (naming them), and a stopped match each fail with their own message.
 */
export async function findContainer(docker: Pick<Dockerode, 'listContainers'>, selector: ContainerSelector, env: NodeJS.ProcessEnv = process.env): Promise<Dockerode.ContainerInfo> {
  if ('pattern' in selector) {
    try {
      new RegExp(selector.pattern);
    } catch (err) {
      throw new LifeboatError('E_CONFIG', `postgres.container.pattern ${selector.pattern} is not a regular expression: ${(err as Error).message}`);
    }
  }
  let all: Dockerode.ContainerInfo[];
  try {
    all = await docker.listContainers({ all: true });
  } catch (err) {
    throw engineError(err, `cannot list containers at ${engineAddress(env)}`, env);
  }
  const found = all.filter((c) => matches(selector, c));
  const running = found.filter((c) => c.State === 'running');
  if (running.length === 1) return running[0]!;
  if (running.length > 1) {
    throw new LifeboatError('E_AMBIGUOUS', `${running.length} running ${describeSelector(selector)}: ${running.map(containerName).join(', ')}`, {
      hint: 'name one: postgres: { container: NAME }, or narrow the pattern or label',
    });
  }
  if (found.length > 0) {
    const c = found[0]!;
    throw new LifeboatError('E_DOCKER', `${'name' in selector ? describeSelector(selector) : `container "${containerName(c)}"`} is not running (${c.State}: ${c.Status})`, {
      hint: `start it (docker start ${containerName(c)}, or docker compose up -d), then try again`,
    });
  }
  const up = all.filter((c) => c.State === 'running');
  throw new LifeboatError('E_NOT_FOUND', `no ${describeSelector(selector)} at ${engineAddress(env)}; running: ${up.length ? up.slice(0, 12).map((c) => `${containerName(c)} (${c.Image})`).join(', ') : 'none'}`, {
    hint: 'lifeboat discover lists the PostgreSQL containers; fix postgres.container in the target',
  });
}
