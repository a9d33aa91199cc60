// The database login a PostgreSQL container was created with, read from its own environment at
// run time (the official image's POSTGRES_* variables), so no secret sits in lifeboat.yaml.

import type Dockerode from 'dockerode';
import { LifeboatError } from '../errors.ts';
import { execText } from './exec.ts';

export interface ContainerLogin {
  user: string;
  password: string | undefined;
  /** The database the image created (POSTGRES_DB, default the user's name). */
  database: string;
  /** The port the server listens on inside the container (PGPORT, default 5432). */
  port: number;
}

/** `NAME=value` entries as a map; the later of two wins, as in the engine. */
export function envMap(entries: readonly string[] | undefined): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of entries ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  return env;
}

/**
 * POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB, or their *_FILE forms read inside the
 * container (a Docker secret lives there, not here). An explicit user or password overrides.
 */
export async function containerLogin(
  container: Dockerode.Container,
  entries: readonly string[] | undefined,
  overrides: { user?: string; password?: string },
): Promise<ContainerLogin> {
  const env = envMap(entries);
  const read = async (name: string): Promise<string | undefined> => {
    const direct = env.get(name);
    if (direct !== undefined) return direct;
    const file = env.get(`${name}_FILE`);
    if (file === undefined) return undefined;
    const r = await execText(container, ['cat', file]);
    if (r.code !== 0) {
      throw new LifeboatError('E_DOCKER', `cannot read ${name}_FILE (${file}) inside the container: ${r.stderr.trim() || `exit ${r.code}`}`, {
        hint: 'the file must exist in the database container; or set postgres.user/postgres.password in the target',
      });
    }
    return r.stdout.replace(/\r?\n$/, '');
  };
  const user = overrides.user ?? (await read('POSTGRES_USER')) ?? 'postgres';
  const password = overrides.password ?? (await read('POSTGRES_PASSWORD'));
  const database = (await read('POSTGRES_DB')) ?? user;
  const port = Number(env.get('PGPORT') ?? 5432);
  return { user, password, database, port: Number.isInteger(port) && port > 0 ? port : 5432 };
}
