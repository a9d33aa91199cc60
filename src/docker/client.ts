// The Docker Engine API client: DOCKER_HOST or the default socket; Podman's compatible socket
// is reached the same way. dockerode is loaded only by targets that use containers.

import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/** Where the engine is, for messages: `unix:///var/run/docker.sock` or `tcp://host:2375`. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || `unix://${DEFAULT_SOCKET}`;
}

/**
 * A client for the engine, after checking that a local socket exists and may be opened: the two
 * mistakes self-hosters meet (no socket mounted into Lifeboat's container; a user not in the
 * docker group) get their own message instead of a connect error.
 */
export async function dockerClient(env: NodeJS.ProcessEnv = process.env): Promise<Dockerode> {
  const options = modemOptions(env);
  const { default: Docker } = await import('dockerode');
  return new Docker(options);
}

/** The part of the engine's API a target's run uses: finding its container, its inspect and execs. */
export type EngineClient = Pick<Dockerode, 'listContainers' | 'getContainer'>;

interface Modem {
  Promise: PromiseConstructor;
  dial(options: object, callback: (err: unknown, data: unknown) => void): void;
}

/**
 * An EngineClient made of dockerode's own Container (and its Exec) over dockerode's modem, with
 * the same checks as dockerClient, without dockerode's index: that loads BuildKit's gRPC and
 * protobuf too (207 modules against 75), a good part of the fixed cost of every run of a
 * container target (bench/README.md).
 */
export function engineClient(env: NodeJS.ProcessEnv = process.env): EngineClient {
  const options = modemOptions(env);
  const require = createRequire(import.meta.url);
  const modem = new (require('docker-modem') as new (o: Dockerode.DockerOptions) => Modem)(options);
  modem.Promise = Promise;
  const Container = require('dockerode/lib/container.js') as new (modem: Modem, id: string) => Dockerode.Container;
  const listContainers = (opts: Dockerode.ContainerListOptions = {}) =>
    new Promise<Dockerode.ContainerInfo[]>((resolve, reject) => {
      // As dockerode's Docker.listContainers asks it.
      modem.dial({ path: '/containers/json?', method: 'GET', options: opts, statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' } }, (err, data) =>
        err ? reject(err as Error) : resolve(data as Dockerode.ContainerInfo[]));
    });
  return { listContainers: listContainers as Dockerode['listContainers'], getContainer: (id: string) => new Container(modem, id) };
}

/** dockerode's options for the engine at DOCKER_HOST or the default socket, checked (see dockerClient). */
function modemOptions(env: NodeJS.ProcessEnv): Dockerode.DockerOptions {
  const address = engineAddress(env);
  if (address.startsWith('unix://') || address.startsWith('/')) {
    const socketPath = address.replace(/^unix:\/\//, '');
    try {
      accessSync(socketPath, constants.R_OK | constants.W_OK);
    } catch (err) {
      // A folder on the way that may not be entered hides the socket too: that is EACCES, not ENOENT.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
        throw new LifeboatError('E_DOCKER', `no Docker socket at ${socketPath}`, {
          cause: err,
          hint: 'start Docker, set DOCKER_HOST, or mount the socket into Lifeboat\'s container (-v /var/run/docker.sock:/var/run/docker.sock:ro)',
        });
      }
      throw new LifeboatError('E_DOCKER', `permission denied on the Docker socket ${socketPath}`, {
        cause: err,
        hint: 'run Lifeboat as a user in the docker group (or the socket\'s group), or as root',
      });
    }
    return { socketPath };
  }
  const url = new URL(address);
  return { host: url.hostname, port: Number(url.port) || 2375, protocol: url.protocol === 'https:' ? 'https' : 'http' };
}

/** An engine call's failure as a Lifeboat error naming the engine. */
export function engineError(err: unknown, what: string, env: NodeJS.ProcessEnv = process.env): LifeboatError {
  if (err instanceof LifeboatError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string; json?: { message?: string } };
  if (e.code === 'EACCES') {
    return new LifeboatError('E_DOCKER', `permission denied on the Docker socket (${engineAddress(env)})`, {
      cause: err,
      hint: 'run Lifeboat as a user in the docker group (or the socket\'s group), or as root',
    });
  }
  if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
    return new LifeboatError('E_DOCKER', `cannot reach the Docker engine at ${engineAddress(env)}: ${e.code}`, { cause: err, hint: 'is Docker running? set DOCKER_HOST to its socket' });
  }
  const message = e.json?.message ?? e.message ?? String(err);
  return new LifeboatError('E_DOCKER', `${what}: ${message.trim()}`, { cause: err });
}
