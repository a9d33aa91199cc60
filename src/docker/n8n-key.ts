// n8n's encryption key when n8n runs in a container beside the database container (same
// Compose project): from its environment, else from the config file in its user folder.

import type Dockerode from 'dockerode';
import type { TargetConfig } from '../config/schema.ts';
import { engineClient } from './client.ts';
import { envMap } from './credentials.ts';
import { execText } from './exec.ts';
import { containerName, findContainer } from './find-container.ts';
import { selectorOf } from './target.ts';

const COMPOSE_PROJECT = 'com.docker.compose.project';

/** The key and where it was found (`container n8n-n8n-1: $N8N_ENCRYPTION_KEY`), or undefined. */
export async function n8nKeyFromContainers(target: TargetConfig, envName: string, env: NodeJS.ProcessEnv = process.env): Promise<{ key: string; source: string } | undefined> {
  const pg = target.postgres;
  const selector = pg && !pg.url ? selectorOf(pg, env) : undefined;
  if (!selector) return undefined;
  const docker = engineClient(env);
  const db = await findContainer(docker, selector, env);
  const project = db.Labels?.[COMPOSE_PROJECT];
  if (!project) return undefined;
  const apps = (await docker.listContainers({ filters: { label: [`${COMPOSE_PROJECT}=${project}`] } })).filter((c) => c.Id !== db.Id && /n8n/i.test(c.Image));
  for (const app of apps) {
    const found = await keyOf(docker.getContainer(app.Id), envName);
    if (found) return { key: found.key, source: `container ${containerName(app)}: ${found.source}` };
  }
  return undefined;
}

async function keyOf(container: Dockerode.Container, envName: string): Promise<{ key: string; source: string } | undefined> {
  const inspected = await container.inspect();
  const env = envMap(inspected.Config.Env);
  const direct = env.get(envName);
  if (direct) return { key: direct, source: `$${envName}` };
  const file = env.get(`${envName}_FILE`);
  if (file) {
    const r = await execText(container, ['cat', file]);
    if (r.code === 0 && r.stdout.trim()) return { key: r.stdout.trim(), source: `$${envName}_FILE (${file})` };
  }
  // n8n's image keeps its user folder in /home/node/.n8n unless N8N_USER_FOLDER moves it.
  const config = `${env.get('N8N_USER_FOLDER') ?? '/home/node'}/.n8n/config`;
  const r = await execText(container, ['cat', config]).catch(() => undefined);
  if (r?.code !== 0) return undefined;
  try {
    const key = (JSON.parse(r.stdout) as { encryptionKey?: string }).encryptionKey;
    return key ? { key, source: config } : undefined;
  } catch {
    return undefined;
  }
}
