// Exec-mode backup (pg_dump inside the database's container) against a host-tools backup of the
// same container's database, in turn, on a private Docker engine. Exec mode twice: its output
// through a FIFO in the container (LIFEBOAT_DOCKER_TRANSPORT=pipe) and through the engine's exec
// stream (=stream).
//   node bench/docker.bench.ts                  # ~1 GB
//   BENCH_SIZE_MB=300 node bench/docker.bench.ts

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startTestDocker } from '../test/support/docker.ts';
import { postgresImage, runPostgres } from '../test/support/postgres-image.ts';
import { workspace } from '../test/support/workspace.ts';

const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const d = await startTestDocker();
const w = workspace();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lb-dbench-'));
try {
  // The image made from this machine's files lacks mkfifo, which the official images have.
  const { tag } = await postgresImage(d);
  const id = (await d.docker(['create', tag])).trim();
  await d.docker(['cp', '-L', '/usr/bin/mkfifo', `${id}:/usr/bin/mkfifo`]);
  await d.docker(['commit', id, tag]);
  await d.docker(['rm', id]);
  const db = await runPostgres(d, { name: 'bench-db', database: 'bench' });
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  if (process.env.BENCH_PGLOG) {
    for (const k of ['log_connections', 'log_disconnections']) await client.query(`alter system set ${k} = on`);
    await client.query('select pg_reload_conf()');
  }
  const t0 = Date.now();
  await client.query('create table events (id bigint primary key, at timestamptz, kind text, body text)');
  // ~1 KB a row of hex and words: compressible about like app data.
  const rows = Math.round((sizeMb * 1e6) / 1100);
  for (let done = 0; done < rows; done += 200_000) {
    await client.query(`insert into events select i, now() - i * interval '1 second', 'k' || (i % 17),
      repeat(md5(i::text) || ' ' || md5((i * 7)::text) || ' workflow node executed ', 12)
      from generate_series($1::bigint, $2::bigint) i`, [done + 1, Math.min(rows, done + 200_000)]);
  }
  const { rows: [size] } = await client.query<{ s: string }>("select pg_database_size('bench') as s");
  await client.end();
  console.log(`database: ${(Number(size!.s) / 1e6).toFixed(0)} MB, seeded in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  w.writeConfig(`tempDir: ${tmp}\nstorages:\n  local: { type: local, path: ${w.storage} }\ntargets:\n  exec:\n    postgres: { container: bench-db, databases: [bench] }\n    storage: local\n  host:\n    postgres: { url: "postgres://app@127.0.0.1:${db.port}/bench", databases: [bench] }\n    storage: local\n`);
  const results: Record<string, number[]> = { host: [], pipe: [], stream: [] };
  const orders = [['host', 'pipe', 'stream'], ['stream', 'pipe', 'host'], ['pipe', 'host', 'stream']];
  for (let r = 0; r < rounds; r++) {
    for (const run of orders[r % orders.length]!) {
      const t = Date.now();
      const env = { DOCKER_HOST: d.host, PGPASSWORD: db.password, LIFEBOAT_DOCKER_TRANSPORT: run };
      const out = await w.cli(['backup', run === 'host' ? 'host' : 'exec', '--json'], { env });
      if (out.code !== 0) {
        // The server's log is its stderr: what it said about the failed run's sessions.
        const logs = spawnSync('docker', ['logs', '--tail', '200', 'bench-db'], { env: { ...process.env, DOCKER_HOST: d.host }, encoding: 'utf8' });
        throw new Error(`${out.stderr}${out.stdout}\n${logs.stdout}${logs.stderr}`);
      }
      results[run]!.push((Date.now() - t) / 1000);
      console.log(`${run}: ${results[run]!.at(-1)!.toFixed(1)} s, ${(out.json<{ size: number }>().size / 1e6).toFixed(0)} MB`);
    }
  }
  // What the engine's exec stream alone costs: pg_dump's output through `docker exec`, thrown away.
  for (const where of ['inside', 'docker exec']) {
    const t = Date.now();
    const cmd = `pg_dump -Fc -Z0 -h 127.0.0.1 -p ${db.port} -U app bench`;
    if (where === 'inside') await d.docker(['exec', '-e', `PGPASSWORD=${db.password}`, 'bench-db', 'sh', '-c', `${cmd} > /dev/null`], { timeoutMs: 600_000 });
    else {
      const child = spawn('docker', ['exec', '-e', `PGPASSWORD=${db.password}`, 'bench-db', 'sh', '-c', cmd], { env: { ...process.env, DOCKER_HOST: d.host }, stdio: ['ignore', 'ignore', 'inherit'] });
      await new Promise((resolve) => child.on('close', resolve));
    }
    console.log(`pg_dump ${where === 'inside' ? 'to /dev/null inside the container' : 'through docker exec (CLI)'}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const ratios = Object.fromEntries(['pipe', 'stream'].map((k) => [k, results[k]!.map((e, i) => e / results.host![i]!)]));
  for (const [k, r] of Object.entries(ratios)) console.log(`${k} / host: ${r.map((x) => x.toFixed(2)).join(' / ')}`);
  mkdirSync(path.join(import.meta.dirname, 'out'), { recursive: true });
  writeFileSync(path.join(import.meta.dirname, 'out', `docker-${sizeMb}MB.json`), JSON.stringify({ sizeMb, results, ratios, load: os.loadavg() }, null, 2));
} finally {
  await d.stop();
  w.remove();
  rmSync(tmp, { recursive: true, force: true });
}
