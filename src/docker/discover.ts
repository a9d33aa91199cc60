// What runs on this Docker engine that Lifeboat could back up: the PostgreSQL containers, and
// the app containers beside each (same Compose project) with the profile they suggest.

import type Dockerode from 'dockerode';
import { dockerClient, engineAddress, engineError } from './client.ts';
import { envMap } from './credentials.ts';
import { execText } from './exec.ts';
import { containerName } from './find-container.ts';

const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';

/** One app container beside a database, and the profile its image suggests. */
export interface DiscoveredApp {
  name: string;
  image: string;
  /** n8n, django or prisma when recognised; generic otherwise. */
  profile: 'n8n' | 'django' | 'prisma' | 'generic';
  /** Named volumes it mounts: candidates for file sets. */
  volumes: { name: string; destination: string }[];
}

export interface DiscoveredPostgres {
  name: string;
  image: string;
  /** The server's version as `postgres --version` prints it inside, e.g. 16.4. */
  version: string | undefined;
  /** The Compose project and service, from Compose's labels. */
  project: string | undefined;
  service: string | undefined;
  /** The database the image created (POSTGRES_DB, else POSTGRES_USER, else postgres). */
  database: string;
  volumes: { name: string | undefined; source: string; destination: string }[];
  apps: DiscoveredApp[];
}

/** An image that is PostgreSQL (or a distribution of it) by its name or its environment. */
export function looksLikePostgres(info: Pick<Dockerode.ContainerInfo, 'Image'>, env: Map<string, string>): boolean {
  return /(^|\/)(postgres|postgis|timescaledb[\w-]*|pgvector|supabase\/postgres)(:|@|$)/i.test(info.Image) || env.has('PG_MAJOR') || env.has('PG_VERSION');
}

async function guessProfile(docker: Dockerode, info: Dockerode.ContainerInfo, workingDir: string): Promise<DiscoveredApp['profile']> {
  if (/(^|\/)n8n(io)?(\/n8n)?(:|@|$)/i.test(info.Image) || /n8n/i.test(info.Image)) return 'n8n';
  // Django and Prisma live in the code, not the image's name: look for their files in the app's folder.
  const dir = workingDir || '/app';
  const found = await execText(docker.getContainer(info.Id), ['sh', '-c', 'for f in manage.py prisma/schema.prisma; do [ -e "$1/$f" ] && echo "$f"; done; true', 'sh', dir]).catch(() => undefined);
  if (found?.stdout.includes('manage.py')) return 'django';
  if (found?.stdout.includes('schema.prisma')) return 'prisma';
  return 'generic';
}

/** Every running PostgreSQL container, with what stands beside it. */
export async function discover(env: NodeJS.ProcessEnv = process.env): Promise<DiscoveredPostgres[]> {
  const docker = await dockerClient(env);
  let running: Dockerode.ContainerInfo[];
  try {
    running = await docker.listContainers();
  } catch (err) {
    throw engineError(err, `cannot list containers at ${engineAddress(env)}`, env);
  }
  const found: DiscoveredPostgres[] = [];
  for (const info of running) {
    const inspected = await docker.getContainer(info.Id).inspect();
    const cenv = envMap(inspected.Config.Env);
    if (!looksLikePostgres(info, cenv)) continue;
    const project = info.Labels?.[COMPOSE_PROJECT];
    const version = await execText(docker.getContainer(info.Id), ['postgres', '--version'])
      .then((r) => /(\d+(?:\.\d+)?)/.exec(r.stdout)?.[1])
      .catch(() => undefined);
    const apps: DiscoveredApp[] = [];
    if (project) {
      for (const other of running) {
        if (other.Id === info.Id || other.Labels?.[COMPOSE_PROJECT] !== project) continue;
        const o = await docker.getContainer(other.Id).inspect();
        if (looksLikePostgres(other, envMap(o.Config.Env))) continue;
        apps.push({
          name: containerName(other),
          image: other.Image,
          profile: await guessProfile(docker, other, o.Config.WorkingDir),
          volumes: other.Mounts.filter((m) => m.Type === 'volume' && m.Name).map((m) => ({ name: m.Name!, destination: m.Destination })),
        });
      }
    }
    found.push({
      name: containerName(info),
      image: info.Image,
      version,
      project,
      service: info.Labels?.[COMPOSE_SERVICE],
      database: cenv.get('POSTGRES_DB') ?? cenv.get('POSTGRES_USER') ?? 'postgres',
      volumes: info.Mounts.map((m) => ({ name: m.Name, source: m.Source, destination: m.Destination })),
      apps,
    });
  }
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** A target name from the Compose project, else the container's name. */
function targetName(p: DiscoveredPostgres, taken: Set<string>): string {
  const base = (p.project ?? p.name).toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 50) || 'app';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  taken.add(name);
  return name;
}

/** The `targets:` block for what was found, ready for lifeboat.yaml; `storage` names the storage. */
export function targetsFragment(found: DiscoveredPostgres[], storage: string): string {
  const taken = new Set<string>();
  const lines = ['targets:'];
  for (const p of found) {
    const profile = p.apps.find((a) => a.profile !== 'generic')?.profile ?? 'auto';
    const where = [p.version && `PostgreSQL ${p.version}`, `image ${p.image}`, p.project && `compose project ${p.project}`].filter(Boolean).join(', ');
    lines.push(`  ${targetName(p, taken)}:`);
    lines.push(`    # ${where}${p.apps.length ? `; beside it: ${p.apps.map((a) => `${a.name} (${a.image})`).join(', ')}` : ''}`);
    lines.push('    postgres:');
    lines.push(`      container: ${p.name}       # login from its POSTGRES_* environment at each run`);
    lines.push(`      databases: [${p.database}]`);
    lines.push(`    profile: ${profile}`);
    const sets = p.apps.flatMap((a) => a.volumes.map((v) => ({ app: a, v })));
    if (sets.length) {
      lines.push('    files:');
      for (const { app, v } of sets) lines.push(`      ${setName(v.name)}: { volume: ${v.name} }   # ${app.name}:${v.destination}`);
    }
    lines.push(`    storage: ${storage}`);
  }
  return lines.join('\n') + '\n';
}

function setName(volume: string): string {
  return volume.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 63) || 'data';
}
