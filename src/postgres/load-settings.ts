import type pg from 'pg';

/**
 * How the values a restore loads are TOAST-compressed: `auto` uses lz4 where the server has it
 * and nobody configured `default_toast_compression`; `lz4` uses it even over a configured
 * method; `server` keeps the server's setting.
 */
export type ToastChoice = 'auto' | 'lz4' | 'server';

export interface LoadCompression {
  /** Session settings for the loading connections (PgEndpoint.options); none to keep the server's. */
  options?: string;
  /** What the plan shows. */
  detail: string;
  /** False when `lz4` was asked for and the server cannot do it. */
  ok: boolean;
}

/**
 * pglz, PostgreSQL's built-in TOAST compression, is slow to compress: loading JSON and text
 * rows of over 2 kB (n8n's execution_data, Django's JSON fields) spends most of its time in it.
 * On the 1 GB bench `pg_restore -j2` takes 16-18 s with pglz and 6.6-7 s with lz4 (PostgreSQL
 * 14+, built with lz4 as the Debian, Ubuntu and PGDG packages are). The rows read back the same,
 * only their stored form differs; columns given their own `COMPRESSION` in the schema keep it,
 * and a method the administrator configured (in postgresql.conf, per database or per role) is
 * kept under `auto`.
 */
export async function loadCompression(client: pg.Client, choice: ToastChoice): Promise<LoadCompression> {
  const { rows } = await client.query<{ setting: string; source: string; enumvals: string[] | null }>(
    "select setting, source, enumvals from pg_settings where name = 'default_toast_compression'",
  );
  const s = rows[0];
  const keep = (why: string): LoadCompression => ({ detail: `${s?.setting ?? 'pglz'}, the server's (${why})`, ok: true });
  if (choice === 'server') return keep('--toast-compression server');
  if (!s) return choice === 'lz4' ? { detail: 'lz4 needs PostgreSQL 14 or newer', ok: false } : keep('PostgreSQL before 14 has no other');
  if (s.setting === 'lz4') return keep('already lz4');
  if (!s.enumvals?.includes('lz4')) return choice === 'lz4' ? { detail: 'the server was built without lz4', ok: false } : keep('built without lz4');
  if (choice === 'auto' && s.source !== 'default') return keep(`configured, source: ${s.source}; --toast-compression lz4 loads faster`);
  return { options: '-c default_toast_compression=lz4', detail: `lz4 for the loaded rows: faster to load than ${s.setting}; --toast-compression server keeps ${s.setting}`, ok: true };
}
