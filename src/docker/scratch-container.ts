// A test restore's throwaway server when this host has no fitting PostgreSQL server binaries:
// a container from the source database container's own image, removed after, whatever happens.

import { randomBytes } from 'node:crypto';
import type Dockerode from 'dockerode';
import type { TargetConfig } from '../config/schema.ts';
import { LifeboatError } from '../errors.ts';
import { connect, type PgEndpoint } from '../postgres/connection.ts';
import { freePort, type ScratchCluster } from '../postgres/scratch-cluster.ts';
import { track } from '../util/resource-ledger.ts';
import { dockerClient, engineAddress, engineError } from './client.ts';
import { ContainerTools } from './container-tools.ts';
import { containerName, findContainer } from './find-container.ts';
import { selectorOf } from './target.ts';

/** Every scratch container carries it; its value is the owning process's pid. */
export const SCRATCH_LABEL = 'io.lifeboat.scratch';
/** The host of that process: a sweep on another host leaves its containers alone. */
export const SCRATCH_HOST_LABEL = 'io.lifeboat.scratch.host';
const HOST_LABEL = SCRATCH_HOST_LABEL;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes scratch containers whose Lifeboat process is gone (killed with -9, a power cut):
 * found by their label, at the start of the next one.
 */
export async function sweepScratchContainers(docker: Dockerode, hostname: string): Promise<string[]> {
  const left = await docker.listContainers({ all: true, filters: { label: [SCRATCH_LABEL] } });
  const removed: string[] = [];
  for (const c of left) {
    const pid = Number(c.Labels[SCRATCH_LABEL]);
    if (c.Labels[HOST_LABEL] === hostname && Number.isInteger(pid) && pid > 0 && alive(pid)) continue;
    await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    removed.push(containerName(c));
  }
  return removed;
}

/**
 * Starts a throwaway server from the image of the target's database container, on a port of its
 * own and a random password, and waits until it answers. stop() removes it with its volumes.
 */
export async function startScratchContainer(pg: NonNullable<TargetConfig['postgres']>, options: { signal?: AbortSignal; log?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<ScratchCluster> {
  const env = options.env ?? process.env;
  const selector = selectorOf(pg, env);
  if (!selector) throw new LifeboatError('E_PG_TOOL', 'no PostgreSQL server binaries fit, and the target has no container whose image could serve instead');
  const docker = await dockerClient(env);
  const { hostname } = await import('node:os');
  const host = hostname();
  const swept = await sweepScratchContainers(docker, host).catch(() => []);
  if (swept.length) options.log?.(`removed scratch container(s) left by an earlier run: ${swept.join(', ')}`);
  const source = await findContainer(docker, selector, env);
  const inspected = await docker.getContainer(source.Id).inspect();
  const password = randomBytes(18).toString('base64url');
  // Its own port, in case it shares a network namespace (host networking) with the source.
  const port = await freePort();
  const name = `lifeboat-scratch-${randomBytes(4).toString('hex')}`;
  let container: Dockerode.Container;
  const record = track({ kind: 'container', location: name, server: engineAddress(env) }); // before it exists: a kill leaves it recorded
  try {
    container = await docker.createContainer({
      name,
      Image: inspected.Image,
      Env: [`POSTGRES_PASSWORD=${password}`, 'POSTGRES_USER=postgres', 'POSTGRES_DB=postgres', `PGPORT=${port}`],
      Labels: { [SCRATCH_LABEL]: String(process.pid), [HOST_LABEL]: host },
      HostConfig: { NetworkMode: inspected.HostConfig.NetworkMode, AutoRemove: false },
    });
  } catch (err) {
    record.release();
    throw engineError(err, `cannot create a scratch container from ${inspected.Config.Image}`, env);
  }
  const remove = () => container.remove({ force: true, v: true }).then(() => record.release(), () => undefined);
  try {
    await container.start();
    // Its ID and PID: where it shares this host's network, its sessions need no exec.
    const tools = new ContainerTools(container, name, port, await container.inspect());
    const endpoint: PgEndpoint = { url: `postgres://postgres@127.0.0.1:${port}/postgres`, password, exec: tools };
    const major = (await tools.tools()).major;
    await waitReady(endpoint, container, options.signal);
    return { endpoint, major, binDir: `container ${name} (${inspected.Config.Image})`, fromTemplate: false, stop: remove };
  } catch (err) {
    await remove();
    throw err;
  }
}

/** The official image starts a private server to initialise, then the real one: wait for that. */
async function waitReady(endpoint: PgEndpoint, container: Dockerode.Container, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const client = await connect(endpoint);
      await client.query('select 1').finally(() => client.end().catch(() => undefined));
      return;
    } catch (err) {
      const state = await container.inspect().catch(() => undefined);
      if (state && !state.State.Running) {
        throw new LifeboatError('E_PG_CONNECT', `the scratch container exited (${state.State.ExitCode}) before its server answered`, { cause: err });
      }
      if (Date.now() > deadline) throw new LifeboatError('E_PG_CONNECT', 'the scratch container\'s server did not answer within 120 s', { cause: err });
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/**
 * Removes a scratch or helper container a killed run left (jobs/resources.ts reaps it): only one
 * that carries the scratch label, whatever else bears the recorded name.
 */
export async function removeLeftContainer(engine: string | null, name: string, detail: string | null): Promise<void> {
  const env = engine ? { ...process.env, DOCKER_HOST: engine } : process.env;
  const docker = await dockerClient(env);
  const container = docker.getContainer(name);
  let inspected: Dockerode.ContainerInspectInfo;
  try {
    inspected = await container.inspect();
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return; // removed already
    throw engineError(err, `cannot inspect container ${name}`, env);
  }
  if (!(SCRATCH_LABEL in (inspected.Config.Labels ?? {}))) throw new Error(`refusing to remove container ${name}: it has no ${SCRATCH_LABEL} label`);
  // A volume restore's writing helper: the staging folder it may have left in the volume goes first.
  if (detail) await (await import('./volume-write.ts')).cleanLeftHelper(docker, inspected, detail);
  await container.remove({ force: true, v: true }).catch((err: unknown) => {
    if ((err as { statusCode?: number }).statusCode !== 404) throw engineError(err, `cannot remove container ${name}`, env);
  });
}
