// Backup and restore performance against pg_dump and pg_restore on the same data, as ratios.
//
//   npm run bench                       # ~1 GB database
//   BENCH_SIZE_MB=5000 npm run bench    # ~5 GB
//   BENCH_KEEP=1 npm run bench          # keep the cluster and outputs in bench/out/ for inspection
//
// Needs GNU time (/usr/bin/time, Debian package `time`) for peak RSS, zstd and age.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { startScratchCluster } from '../src/postgres/scratch-cluster.ts';
import { startTestServer, type TestServer } from '../test/support/postgres.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'bench', 'out');
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1000);
const pgBin = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).trim();

interface Run {
  name: string;
  seconds: number;
  bytes: number;
  peakRssMb: number;
}

/**
 * Realistic data: n8n-like workflows and execution logs (JSON), and rows of words drawn from a
 * small vocabulary with random numbers, which compress like real text (~3-5x), unlike pgbench's
 * blank padding (~25x).
 */
export async function seed(server: TestServer, db: string, mb = sizeMb): Promise<void> {
  await server.query(db, `
    create table words as select w from unnest(string_to_array(
      'order customer invoice payment shipped pending failed success webhook http request response node workflow trigger schedule email slack notion sheet row column value error retry timeout credential token user admin project task comment status priority amount currency total discount address city country phone note active archived draft published',
      ' ')) w;
    create function sentence(n int) returns text language sql volatile as
      $$ select string_agg((select w from words offset floor(random() * 60) limit 1) || ' ' || floor(random() * 100000)::text, ' ') from generate_series(1, n) $$;
    create table workflow_entity (id varchar(36) primary key, name text, active boolean, nodes jsonb, connections jsonb, "updatedAt" timestamptz default now());
    create table execution_entity (id serial primary key, "workflowId" varchar(36), finished boolean, mode text, "startedAt" timestamptz, "stoppedAt" timestamptz, status text);
    create table execution_data (id serial primary key, "executionId" int, data text, "workflowData" jsonb);
    create table accounts (aid serial primary key, bid int, abalance int, note text, email text, created timestamptz);
  `);
  const workflows = 2000;
  await server.query(db, `insert into workflow_entity select gen_random_uuid()::text, sentence(3), random() > 0.3,
      (select jsonb_agg(jsonb_build_object('id', gen_random_uuid(), 'name', sentence(2), 'type', 'n8n-nodes-base.' || (select w from words offset floor(random()*60) limit 1),
         'position', jsonb_build_array(floor(random()*1000), floor(random()*1000)), 'parameters', jsonb_build_object('url', 'https://api.example.com/' || md5(random()::text), 'body', sentence(20))))
         from generate_series(1, 12 + g % 5)),
      jsonb_build_object('main', jsonb_build_array(sentence(4))), now() - (g || ' minutes')::interval
    from generate_series(1, ${workflows}) g`);
  // Execution data is most of an n8n database: fill ~70% of the target size with it.
  const perRow = 4000;
  const execRows = Math.floor((mb * 0.7 * 1e6) / perRow);
  const batch = 20000;
  for (let done = 0; done < execRows; done += batch) {
    const n = Math.min(batch, execRows - done);
    await server.query(db, `with e as (
        insert into execution_entity ("workflowId", finished, mode, "startedAt", "stoppedAt", status)
        select (select id from workflow_entity offset floor(random()*${workflows}) limit 1), true, 'trigger', now() - (g || ' seconds')::interval, now(), case when random() < 0.9 then 'success' else 'error' end
          from generate_series(1, ${n}) g returning id)
      insert into execution_data ("executionId", data, "workflowData")
      select id, json_build_object('resultData', json_build_object('runData', json_build_object('HTTP Request', json_build_array(json_build_object(
               'startTime', extract(epoch from now())::bigint, 'executionTime', floor(random()*2000), 'data', json_build_object('main', json_build_array(sentence(60), md5(random()::text) || md5(random()::text))))))),
               'startData', json_build_object(), 'executionData', json_build_object('note', sentence(300)))::text,
             jsonb_build_object('id', id, 'name', sentence(2))
        from e`);
    process.stderr.write(`\rseeding executions ${Math.min(done + batch, execRows)}/${execRows}`);
  }
  const accRows = Math.floor((mb * 0.3 * 1e6) / 160);
  await server.query(db, `insert into accounts (bid, abalance, note, email, created)
    select g % 100, floor(random() * 1000000)::int, sentence(8), 'user' || g || '@example.com', now() - (g || ' seconds')::interval
      from generate_series(1, ${accRows}) g`);
  await server.query(db, 'vacuum analyze');
  process.stderr.write('\n');
}

/** Runs a shell command under GNU time; peak RSS is the largest of the pipeline's processes. */
function measure(name: string, command: string, output: string, env: NodeJS.ProcessEnv = {}): Run {
  const timeFile = path.join(out, `${name.replace(/[^a-z0-9]+/gi, '_')}.time`);
  // Each process of a pipeline gets its own /usr/bin/time so every peak RSS is seen.
  const wrapped = command.split(' | ').map((part) => `/usr/bin/time -a -o ${timeFile} -f %M -- ${part}`).join(' | ');
  rmSync(timeFile, { force: true });
  const started = process.hrtime.bigint();
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', wrapped], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr.toString().slice(-2000)}`);
  const rss = execFileSync('cat', [timeFile], { encoding: 'utf8' }).trim().split('\n').map(Number);
  return { name, seconds, bytes: statSync(output).size, peakRssMb: Math.max(...rss) / 1024 };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  console.log([header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const server = await startTestServer();
  try {
    const db = await server.createDatabase('bench');
    const t0 = Date.now();
    await seed(server, db);
    const [{ size }] = (await server.query<{ size: string }>(db, 'select pg_database_size(current_database()) as size')) as [{ size: string }];
    console.log(`database ${db}: ${(Number(size) / 1e6).toFixed(0)} MB, seeded in ${((Date.now() - t0) / 1000).toFixed(0)}s`);

    const url = server.urlFor(db);
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const identityFile = path.join(out, 'bench-key.txt');
    writeFileSync(identityFile, `${identity}\n`, { mode: 0o600 });
    const storage = path.join(out, 'storage');
    rmSync(storage, { recursive: true, force: true });
    const config = path.join(out, 'lifeboat.yaml');
    // The integrity check that follows each backup by default is a separate cost (a read of the
    // bundle): it is off here so the figures compare the backup itself with pg_dump.
    const noQuick = '    verification: { quickAfterEachBackup: false }\n';
    writeFileSync(config, `storages:\n  bench: { type: local, path: ${storage} }\ntargets:\n  zstd:\n    postgres: { url: "${url}", databases: [${db}] }\n    storage: bench\n${noQuick}  zstdage:\n    postgres: { url: "${url}", databases: [${db}] }\n    storage: bench\n    encryption: { recipients: [${recipient}] }\n${noQuick}  flows:\n    postgres: { url: "${url}", databases: [${db}] }\n    storage: bench\n    profile: n8n\n${noQuick}`);
    // Run as a user runs it (`npx lifeboat`, an installed `lifeboat`): the file itself, so its shebang's Node flags apply.
    const lifeboat = `${path.join(root, 'bin', 'lifeboat.js')} --config ${config}`;
    const env = { LIFEBOAT_HOME: path.join(out, 'home') };
    const latest = (target: string) => execFileSync('sh', ['-c', `ls -t ${storage}/${target}/*.tar.zst* | grep -v manifest | head -1`], { encoding: 'utf8' }).trim();

    const runs: Run[] = [];
    runs.push(measure('pg_dump -Fc', `${pgBin}/pg_dump -Fc -f ${out}/fc.dump ${url}`, `${out}/fc.dump`));
    runs.push(measure('pg_dump -Fc -Z0 | zstd -3', `${pgBin}/pg_dump -Fc -Z0 ${url} | zstd -3 -q -f -o ${out}/z0.dump.zst`, `${out}/z0.dump.zst`));
    // The alternative to parts: spool the dump to a file, then compress it (what a writer that
    // needs sizes up front does). Its wall time is the sum of the two steps.
    runs.push(measure('spool: pg_dump -Z0 -f, then zstd', `sh -c '${pgBin}/pg_dump -Fc -Z0 -f ${out}/spool.dump ${url} && zstd -3 -q -f --rm ${out}/spool.dump -o ${out}/spool.dump.zst'`, `${out}/spool.dump.zst`));
    const lz = measure('lifeboat backup (zstd)', `${lifeboat} backup zstd`, path.join(out, 'fc.dump'), env);
    lz.bytes = statSync(latest('zstd')).size;
    runs.push(lz);
    const la = measure('lifeboat backup (zstd+age)', `${lifeboat} backup zstdage`, path.join(out, 'fc.dump'), env);
    la.bytes = statSync(latest('zstdage')).size;
    runs.push(la);

    const base = runs[1]!;
    const rows = runs.map((r) => [r.name, `${r.seconds.toFixed(1)}s`, `${(r.seconds / base.seconds).toFixed(2)}x`, `${(r.bytes / 1e6).toFixed(0)} MB`, `${(Number(size) / r.bytes).toFixed(1)}x`, `${r.peakRssMb.toFixed(0)} MB`]);
    printTable(['run', 'wall', 'vs pg_dump|zstd', 'output', 'db/output', 'peak RSS'], rows);

    // Restore: the same dump with pg_restore -j2 into a new database, against lifeboat restore
    // (which also checks every checksum and row count), and one ~1% table alone.
    const zstdId = path.basename(latest('zstd')).replace(/\.tar\.zst$/, '');
    execFileSync('sh', ['-c', `zstd -dc -q ${out}/z0.dump.zst > ${out}/restore.dump`]);
    await server.query('postgres', 'create database pgrestore_copy');
    await server.query('postgres', 'create database pgrestore_lz4');
    const restores: Run[] = [];
    restores.push(measure('pg_restore -j2', `${pgBin}/pg_restore -j2 -d ${server.urlFor('pgrestore_copy')} ${out}/restore.dump`, `${out}/restore.dump`));
    // Lifeboat loads rows with lz4 TOAST compression (load-settings.ts); pg_restore given the
    // same setting is the like-for-like peer, and Lifeboat keeping pglz is shown beside it.
    const lz4 = { PGOPTIONS: '-c default_toast_compression=lz4' };
    const pgLz4 = measure('pg_restore -j2, lz4 TOAST', `${pgBin}/pg_restore -j2 -d ${server.urlFor('pgrestore_lz4')} ${out}/restore.dump`, `${out}/restore.dump`, lz4);
    // What a test restore does besides restoring: count every table's rows (the baseline for verify).
    const tables = await server.query<{ t: string }>('pgrestore_copy', "select format('%I.%I', schemaname, tablename) as t from pg_tables where schemaname not in ('pg_catalog', 'information_schema')");
    const counting = measure('count(*) of every table', `${pgBin}/psql -qAt -d ${server.urlFor('pgrestore_copy')} -c "${tables.map((r) => `select count(*) from only ${r.t};`).join(' ')}"`, `${out}/restore.dump`);
    const lbRestore = measure('lifeboat restore --to', `${lifeboat} restore ${zstdId} --to ${server.urlFor('lifeboat_copy')}`, `${out}/restore.dump`, env);
    restores.push(measure('lifeboat restore --to, pglz TOAST', `${lifeboat} restore ${zstdId} --to ${server.urlFor('lifeboat_pglz')} --toast-compression server`, `${out}/restore.dump`, env));
    restores.push(pgLz4, lbRestore);
    restores.push(measure('lifeboat restore --table (1%)', `${lifeboat} restore ${zstdId} --database ${db} --table public.workflow_entity --rename-to wf_restored`, `${out}/restore.dump`, env));
    const ageId = path.basename(latest('zstdage')).replace(/\.tar\.zst\.age$/, '');
    restores.push(measure('lifeboat restore --table (1%, zstd+age)', `${lifeboat} restore ${ageId} --database ${db} --table public.workflow_entity --rename-to wf_restored_age`, `${out}/restore.dump`, { ...env, LIFEBOAT_AGE_IDENTITY_FILE: identityFile }));
    const [{ t }] = (await server.query<{ t: string }>(db, "select pg_total_relation_size('public.workflow_entity') as t")) as [{ t: string }];
    console.log(`\nrestore (workflow_entity is ${(Number(t) / 1e6).toFixed(0)} MB, ${((100 * Number(t)) / Number(size)).toFixed(1)}% of the database)`);
    printTable(['run', 'wall', 'vs pg_restore -j2', 'vs the same with lz4', 'peak RSS'], restores.map((r) => [r.name, `${r.seconds.toFixed(1)}s`, `${(r.seconds / restores[0]!.seconds).toFixed(2)}x`, `${(r.seconds / pgLz4.seconds).toFixed(2)}x`, `${r.peakRssMb.toFixed(0)} MB`]));
    runs.push(...restores);

    // Verification: the quick check against decompressing and hashing the same bundle with the
    // standard tools, and the test restore against pg_restore -j2 (above).
    const bundle = latest('zstd');
    // A machine that has run a test restore before keeps initdb's output in the catalog's home
    // (scratch-cluster.ts): start and stop one cluster so the timed run is such a later one.
    await (await startScratchCluster({ minMajor: 0, templateDir: path.join(env.LIFEBOAT_HOME, 'cache') })).stop();
    const verifies: Run[] = [];
    verifies.push(measure('zstd -d | sha256sum', `zstd -dcq ${bundle} | sha256sum`, bundle));
    verifies.push(measure('lifeboat verify --quick', `${lifeboat} verify ${zstdId} --quick`, bundle, env));
    verifies.push(measure('lifeboat verify (test restore)', `${lifeboat} verify ${zstdId}`, bundle, env));
    const raw = Number(execFileSync('sh', ['-c', `zstd -dcq ${bundle} | wc -c`], { encoding: 'utf8' }).trim());
    const restoreAndCount = restores[0]!.seconds + counting.seconds;
    const lz4AndCount = pgLz4.seconds + counting.seconds;
    console.log(`\nverification (pg_restore -j2 then count(*) of every table: ${restoreAndCount.toFixed(1)}s; with lz4 TOAST ${lz4AndCount.toFixed(1)}s)`);
    printTable(['run', 'wall', 'MB/s (uncompressed)', 'vs pg_restore -j2 + counts', 'vs the same with lz4', 'peak RSS'], verifies.map((r) => [r.name, `${r.seconds.toFixed(1)}s`, `${(raw / 1e6 / r.seconds).toFixed(0)}`, `${(r.seconds / restoreAndCount).toFixed(2)}x`, `${(r.seconds / lz4AndCount).toFixed(2)}x`, `${r.peakRssMb.toFixed(0)} MB`]));
    runs.push(counting, ...verifies);
    // One n8n workflow out of the same 1 GB backup, without restoring the database (target: under 10 s).
    execFileSync(path.join(root, 'bin', 'lifeboat.js'), ['--config', config, 'backup', 'flows'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const flowsId = path.basename(latest('flows')).replace(/\.tar\.zst$/, '');
    const [{ wf }] = (await server.query<{ wf: string }>(db, 'select id as wf from workflow_entity order by id limit 1')) as [{ wf: string }];
    const one = measure('lifeboat restore --workflow --as-file', `${lifeboat} restore ${flowsId} --workflow ${wf} --as-file ${out}/one-workflow.json`, `${out}/one-workflow.json`, env);
    console.log(`\none n8n workflow from the backup: ${one.seconds.toFixed(1)}s, peak RSS ${one.peakRssMb.toFixed(0)} MB`);
    runs.push(one);
    const result = { date: new Date().toISOString(), databaseBytes: Number(size), cores: (await import('node:os')).cpus().length, runs };
    writeFileSync(path.join(out, `backup-${sizeMb}MB.json`), JSON.stringify(result, null, 2));
  } finally {
    if (!process.env.BENCH_KEEP) {
      await server.stop();
      for (const f of ['fc.dump', 'z0.dump.zst', 'spool.dump.zst', 'restore.dump', 'storage', 'home', 'bench-key.txt']) rmSync(path.join(out, f), { recursive: true, force: true });
    }
  }
}

// drill.bench.ts imports seed() from here.
if (import.meta.main) await main();
