// The image test's part that needs container targets (postgres: { container }), which land on
// their own branch: it runs once they are in this tree, and is skipped with that reason before.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { configSchema } from '../../src/config/schema.ts';
import type { TestDocker } from '../support/docker.ts';

const support = new URL('../support/postgres-image.ts', import.meta.url);

/** Whether this tree has container targets: the schema takes `container` and the harness that runs PostgreSQL containers exists. */
export function containerTargetsMerged(): boolean {
  const parsed = configSchema.safeParse({ storages: { l: { type: 'local', path: '/tmp' } }, targets: { a: { postgres: { container: 'x' }, storage: 'l' } } });
  const refused = !parsed.success && parsed.error.issues.some((i) => JSON.stringify(i).includes('container'));
  return !refused && existsSync(fileURLToPath(support));
}

/** What the image test needs of support/postgres-image.ts's runPostgres. */
interface Harness {
  runPostgres(d: TestDocker, options: { name: string }): Promise<{ url: string; database: string }>;
}

/** A PostgreSQL container named `name` (POSTGRES_* in its environment, as compose runs one), with a table of `rows` rows. */
export async function runPostgresContainer(d: TestDocker, name: string): Promise<{ database: string; rows: number; seed(): Promise<void> }> {
  const { runPostgres } = (await import(support.href)) as Harness;
  const c = await runPostgres(d, { name });
  const rows = 2500;
  return {
    database: c.database,
    rows,
    async seed() {
      const client = new pg.Client({ connectionString: c.url });
      await client.connect();
      try {
        await client.query(`create table public.items (id int primary key, name text); insert into public.items select g, 'item ' || g from generate_series(1, ${rows}) g`);
      } finally {
        await client.end();
      }
    },
  };
}
