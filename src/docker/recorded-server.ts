// How a scratch database on a container target's server is recorded (jobs/resources.ts), and how
// the reaper reaches that server again after a kill: the container's name and the engine's
// address, never a login. The password is read from the container's environment at reap time,
// as at every run. Loaded by every command's reaper: the Docker client is imported only to reap.

import type { LoadedConfig } from '../config/load.ts';
import type { PgEndpoint } from '../postgres/connection.ts';

/** The container behind each exec endpoint's tools (target.ts registers them). */
const containers = new WeakMap<object, { name: string; engine: string }>();

/** Notes the container a target's tools run in, for recordedServer. */
export function rememberContainer(exec: object, name: string, engine: string): void {
  containers.set(exec, { name, engine });
}

/**
 * What a resource record names as the server of `endpoint`: its URL (without a password), or for
 * a server in a container `docker://<container>/<database>?engine=<DOCKER_HOST>`, since its URL
 * (127.0.0.1 as the container sees it) cannot be reached from here.
 */
export function recordedServer(endpoint: PgEndpoint): string {
  const ref = endpoint.exec ? containers.get(endpoint.exec) : undefined;
  if (!ref) return endpoint.url;
  const database = new URL(endpoint.url).pathname.slice(1) || 'postgres';
  return `docker://${encodeURIComponent(ref.name)}/${database}?engine=${encodeURIComponent(ref.engine)}`;
}

/** Whether a record's server is a container's. */
export function inContainer(server: string): boolean {
  return server.startsWith('docker://');
}

/** The container's name in a recorded server, for messages. */
export function recordedContainer(server: string): string {
  return decodeURIComponent(new URL(server).host);
}

/**
 * The endpoint of a recorded container's server: found by name on the recorded engine, logged in
 * with the container's own credentials (or the user and password of a configured target naming
 * that container), reached through the exec API.
 */
export async function recordedEndpoint(server: string, loaded: LoadedConfig): Promise<PgEndpoint> {
  const url = new URL(server);
  const name = decodeURIComponent(url.host);
  const database = url.pathname.slice(1) || 'postgres';
  const engine = url.searchParams.get('engine');
  const env = engine ? { ...process.env, DOCKER_HOST: engine } : process.env;
  const [{ engineClient }, { findContainer, containerName }, { containerLogin }, { ContainerTools }] = await Promise.all([
    import('./client.ts'), import('./find-container.ts'), import('./credentials.ts'), import('./container-tools.ts'),
  ]);
  const docker = engineClient(env);
  const info = await findContainer(docker, { name }, env);
  const container = docker.getContainer(info.Id);
  const inspected = await container.inspect();
  const configured = Object.values(loaded.config.targets).find((t) => {
    const c = t.postgres?.container;
    return c === name || (typeof c === 'object' && 'name' in c && c.name === name);
  });
  const login = await containerLogin(container, inspected.Config.Env, { user: configured?.postgres?.user, password: configured?.postgres?.password });
  return {
    url: `postgres://${encodeURIComponent(login.user)}@127.0.0.1:${login.port}/${database}`,
    password: login.password,
    exec: new ContainerTools(container, containerName(info), login.port, inspected),
  };
}
