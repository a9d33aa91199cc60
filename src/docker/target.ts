// A target whose PostgreSQL runs in a container: found by name, pattern or label, logged in
// with the container's own credentials, its tools run inside it.

import { LifeboatError } from '../errors.ts';
import type { TargetConfig } from '../config/schema.ts';
import type { PgEndpoint } from '../postgres/connection.ts';
import type Dockerode from 'dockerode';
import { engineAddress, engineClient, type EngineClient } from './client.ts';
import { ContainerTools } from './container-tools.ts';
import { containerLogin } from './credentials.ts';
import { containerName, findContainer, type ContainerSelector } from './find-container.ts';
import { rememberContainer } from './recorded-server.ts';

type PostgresConfig = NonNullable<TargetConfig['postgres']>;

/** The container a target names: `postgres.container`, else LIFEBOAT_POSTGRES_CONTAINER or _CONTAINER_PATTERN. */
export function selectorOf(pg: PostgresConfig, env: NodeJS.ProcessEnv = process.env): ContainerSelector | undefined {
  const c = pg.container;
  if (typeof c === 'string') return { name: c };
  if (c) return c;
  if (env.LIFEBOAT_POSTGRES_CONTAINER) return { name: env.LIFEBOAT_POSTGRES_CONTAINER };
  if (env.LIFEBOAT_POSTGRES_CONTAINER_PATTERN) return { pattern: env.LIFEBOAT_POSTGRES_CONTAINER_PATTERN };
  return undefined;
}

/**
 * The endpoint of the container's server, reached through the exec API: the URL names the
 * server as the container itself sees it (127.0.0.1 and its PGPORT), the password comes from
 * the container's environment at each run and stays in memory.
 */
export async function containerEndpoint(pg: PostgresConfig, env: NodeJS.ProcessEnv = process.env): Promise<PgEndpoint> {
  const selector = selectorOf(pg, env);
  if (!selector) {
    throw new LifeboatError('E_CONFIG', 'the target\'s postgres has neither url nor container', {
      hint: 'set postgres.url, or postgres.container (or LIFEBOAT_POSTGRES_CONTAINER / LIFEBOAT_POSTGRES_CONTAINER_PATTERN)',
    });
  }
  const docker = engineClient(env);
  const { name, inspected } = await locate(docker, selector, env);
  const container = docker.getContainer(inspected.Id);
  const login = await containerLogin(container, inspected.Config.Env, { user: pg.user, password: pg.password });
  const url = `postgres://${encodeURIComponent(login.user)}@127.0.0.1:${login.port}/${encodeURIComponent(login.database)}`;
  const exec = new ContainerTools(container, name, login.port, inspected);
  // Every use of the target needs the tools: their one exec runs beside the first connection.
  exec.tools().catch(() => undefined);
  rememberContainer(exec, name, engineAddress(env)); // a killed run's scratch database is reached again by it
  return { url, password: login.password, exec };
}

/**
 * The container's name and inspect. A name is inspected at once, the one engine call a run needs
 * anyway, and taken when it is exactly that running container; anything else is found by listing
 * (findContainer), whose messages say what runs instead.
 */
async function locate(docker: EngineClient, selector: ContainerSelector, env: NodeJS.ProcessEnv): Promise<{ name: string; inspected: Dockerode.ContainerInspectInfo }> {
  if ('name' in selector) {
    const n = selector.name;
    const inspected = await docker.getContainer(n).inspect().catch(() => undefined);
    if (inspected?.State?.Running && (inspected.Name === `/${n}` || inspected.Id === n || (n.length >= 12 && inspected.Id.startsWith(n)))) {
      return { name: inspected.Name.replace(/^\//, ''), inspected };
    }
  }
  const info = await findContainer(docker, selector, env);
  return { name: containerName(info), inspected: await docker.getContainer(info.Id).inspect() };
}
