// The Docker Engine API client: DOCKER_HOST or the default socket; Podman's compatible socket
// is reached the same way. dockerode is loaded only by targets that use containers.

import { accessSync, constants } from 'node:fs';
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
  const address = engineAddress(env);
  const { default: Docker } = await import('dockerode');
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
    return new Docker({ socketPath });
  }
  const url = new URL(address);
  return new Docker({ host: url.hostname, port: Number(url.port) || 2375, protocol: url.protocol === 'https:' ? 'https' : 'http' });
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
