import type { TargetConfig } from '../config/schema.ts';
import { parsePgUrl, type PgEndpoint } from './connection.ts';

/**
 * Where a target's server is: its URL, or its container (src/docker/, loaded only then, so a
 * host-only setup never loads the Docker client).
 */
export async function targetEndpoint(pg: NonNullable<TargetConfig['postgres']>, env: NodeJS.ProcessEnv = process.env): Promise<PgEndpoint> {
  if (pg.url) return parsePgUrl(pg.url);
  const { containerEndpoint } = await import('../docker/target.ts');
  return containerEndpoint(pg, env);
}
