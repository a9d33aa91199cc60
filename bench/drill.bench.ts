// The drill's RTO against the same restore by hand, on the same bundle, as a ratio.
//
//   node bench/drill.bench.ts                   # ~1 GB database (BENCH_SIZE_MB), BENCH_ROUNDS=2
//
// By hand: `zstd -dc bundle | tar -x`, the dump's parts joined with cat, `pg_restore -j2 --create`
// into a cluster already running (a new server's would be). The drill: `lifeboat drill` (fetch
// from local storage, unpack, restore.sh --jobs 2 under env -i into a fresh cluster, the
// comparison with the manifest), its wall time and the split it records. Rounds alternate the two.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startScratchCluster } from '../src/postgres/scratch-cluster.ts';
import { startTestServer } from '../test/support/postgres.ts';
import { seed } from './run.bench.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'bench', 'out', 'drill');
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const pgBin = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).trim();

function sh(command: string, env: NodeJS.ProcessEnv = {}): number {
  const started = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr.toString().slice(-2000)}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function main(): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const server = await startTestServer();
  try {
    const db = await server.createDatabase('bench');
    const t0 = Date.now();
    await seed(server, db, sizeMb);
    const [{ size }] = (await server.query<{ size: string }>(db, 'select pg_database_size(current_database()) as size')) as [{ size: string }];
    console.log(`database ${db}: ${(Number(size) / 1e6).toFixed(0)} MB, seeded in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    const storage = path.join(out, 'storage');
    const config = path.join(out, 'lifeboat.yaml');
    writeFileSync(config, `storages:\n  bench: { type: local, path: ${storage} }\ntargets:\n  app:\n    postgres: { url: "${server.urlFor(db)}", databases: [${db}] }\n    storage: bench\n    verification: { quickAfterEachBackup: false }\n`);
    const env = { LIFEBOAT_HOME: path.join(out, 'home') };
    const lifeboat = `${path.join(root, 'bin', 'lifeboat.js')} --config ${config}`;
    const backup = JSON.parse(execFileSync('sh', ['-c', `${lifeboat} backup app --json`], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 })) as { id: string; key: string; size: number };
    const bundle = path.join(storage, backup.key);
    console.log(`bundle ${backup.id}: ${(backup.size / 1e6).toFixed(0)} MB`);
    // The first cluster of a home makes the initdb template; later ones copy it, as a drill on a
    // configured installation would.
    await (await startScratchCluster({ minMajor: 0, templateDir: path.join(env.LIFEBOAT_HOME, 'cache') })).stop();

    const results: { round: number; byHand: number; drill: number; split: Record<string, number> }[] = [];
    for (let round = 1; round <= rounds; round++) {
      const cluster = await startScratchCluster({ minMajor: 0 });
      const dir = path.join(out, 'by-hand');
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
      let byHand: number;
      try {
        byHand = sh(`zstd -dcq '${bundle}' | tar -x -C '${dir}'`);
        byHand += sh(`cd '${dir}' && cat databases/*.dump* > joined.dump && ${pgBin}/pg_restore -j2 --create --exit-on-error -d '${cluster.endpoint.url}' joined.dump`, { PGPASSWORD: cluster.endpoint.password });
      } finally {
        await cluster.stop();
        rmSync(dir, { recursive: true, force: true });
      }
      const started = process.hrtime.bigint();
      const report = JSON.parse(execFileSync('sh', ['-c', `${lifeboat} drill ${backup.id} --json`], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 })) as { ok: boolean; rtoMs: number; phases: Record<string, number> };
      const drill = Number(process.hrtime.bigint() - started) / 1e9;
      if (!report.ok) throw new Error('the drill failed');
      results.push({ round, byHand, drill, split: report.phases });
      const split = Object.entries(report.phases).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ');
      console.log(`round ${round}: by hand ${byHand.toFixed(1)} s; drill ${drill.toFixed(1)} s wall, RTO ${(report.rtoMs / 1000).toFixed(1)} s (${split}); ratio ${(drill / byHand).toFixed(2)}x wall, ${(report.rtoMs / 1000 / byHand).toFixed(2)}x RTO`);
    }
    writeFileSync(path.join(out, `drill-${sizeMb}MB.json`), JSON.stringify({ date: new Date().toISOString(), databaseBytes: Number(size), bundleBytes: backup.size, results }, null, 2));
  } finally {
    await server.stop();
    rmSync(path.join(out, 'storage'), { recursive: true, force: true });
    rmSync(path.join(out, 'home'), { recursive: true, force: true });
  }
}

await main();
