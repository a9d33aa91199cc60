// The HTTP API under load, on the 2-core machine: figures for bench/README.md, not a test.
//
//   npm run bench:api                 # 10,000 backups over 20 targets; ~300 MB database for the SSE part
//   BENCH_API_MB=100 npm run bench:api
//
// 1. GET /api/v1/backups?limit=50 with filters, 50 concurrent connections (autocannon), against
//    a catalog of 10,000 backups: latency percentiles. Every request asks the next of 5,000
//    questions (a different `from`), so the listing's memo of identical questions (64 of them,
//    1 second) never answers; then one question repeated, which it answers.
//    Then the same questions to the app in this process (app.request), as CPU per request.
//    serve's garbage-collection pauses during each run are reported beside (bench/gc-pauses.ts).
// 2. 100 SSE clients following one running backup: the server's extra RSS, and the backup's
//    duration with and without them (alternated, twice each).
// 3. What a login costs: CPU of one password check (argon2id, 19 MiB, t=2, p=1).
// 4. The event loop's longest stall while `lifeboat serve` starts and ticks on the same catalog
//    (bench/loop-delay.ts, preloaded into the server), beside this process's own, idle, as the
//    machine's noise floor: without retention rules, then with them (a first cycle that deletes).
//
//   BENCH_API_PARTS=listing,stall npm run bench:api    # only some parts (login, listing, sse, stall)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { hashPassword, verifyPassword } from '../src/auth/passwords.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { createApp } from '../src/server/app.ts';
import type { ServerContext } from '../src/server/context.ts';
import { startTestServer } from '../test/support/postgres.ts';
import { apiDataConfig, generateApiData } from './api-data.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const BIN = path.join(root, 'bin', 'lifeboat.js');
// serve runs with the Node flags an installed `lifeboat` gets from its shebang (a 2 MB young
// generation): before session 14 the bench started it without them.
const NODE_FLAGS = /^#!.*\bnode\b(.*)$/m.exec(readFileSync(BIN, 'utf8').split('\n')[0]!)![1]!.trim().split(/\s+/).filter(Boolean);
const dbMb = Number(process.env.BENCH_API_MB ?? 300);
const parts = new Set((process.env.BENCH_API_PARTS ?? 'login,listing,sse,stall').split(','));

interface Serve {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function cli(env: NodeJS.ProcessEnv, args: string[], input = ''): string {
  return execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, input, encoding: 'utf8' });
}

async function serve(env: NodeJS.ProcessEnv, o: { tick?: number; node?: string[]; onLine?: (line: string) => void } = {}): Promise<Serve> {
  const child = spawn(process.execPath, [...NODE_FLAGS, ...(o.node ?? []), BIN, 'serve', '--listen', '127.0.0.1:0', '--tick', String(o.tick ?? 3600)], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  let partial = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) o.onLine?.(line);
      const m = /API listening on (http\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { url, child, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) };
}

/** CPU seconds (user + system) a process has used so far. */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function listing(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-api-'));
  const home = path.join(dir, 'home');
  const config = path.join(dir, 'lifeboat.yaml');
  // Without retention rules: the daemon beside the API would otherwise start deleting the
  // generated backups during the run, which is not what is measured here.
  writeFileSync(config, apiDataConfig({ storageDir: path.join(dir, 'storage'), targets: 20 }).replace(/^ {4}retention: .*\n/gm, ''));
  const env = { LIFEBOAT_HOME: home, LIFEBOAT_CONFIG: config };
  const t0 = Date.now();
  generateApiData(home, { backups: 10_000, targets: 20 });
  console.log(`catalog: 10,000 backups over 20 targets in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  cli(env, ['user', 'add', 'bench', '--role', 'viewer', '--password-stdin'], 'a long bench password\n');
  const token = JSON.parse(cli(env, ['token', 'create', 'bench', '--user', 'bench', '--scope', 'read', '--json'])).token as string;
  // The collector's pauses in serve, summed over each run: a tail made of them shows here.
  let gc: { young: number[]; full: number[] } | undefined;
  const s = await serve(env, {
    node: ['--import', path.join(root, 'bench', 'gc-pauses.ts')],
    onLine: (line) => {
      const m = /^gc young=([\d.]+)\/([\d.]+)\/([\d.]+) full=([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(line);
      if (!m || !gc) return;
      const v = m.slice(1).map(Number);
      gc.young = [gc.young[0]! + v[0]!, gc.young[1]! + v[1]!, Math.max(gc.young[2]!, v[2]!)];
      gc.full = [gc.full[0]! + v[3]!, gc.full[1]! + v[4]!, Math.max(gc.full[2]!, v[5]!)];
    },
  });
  try {
    const filters = ['status=ok', 'verified=full', 'protected=false', 'status=failed', 'verified=none', 'sort=size', 'sort=target&order=asc'];
    const requests = Array.from({ length: 5000 }, (_, i) => {
      const from = new Date(Date.UTC(2025, 0, 1) + i * 3_600_000 * 3).toISOString();
      return { method: 'GET' as const, path: `/api/v1/backups?limit=50&target=app-${String((i % 20) + 1).padStart(2, '0')}&${filters[i % filters.length]}&from=${from}` };
    });
    // autocannon walks a `requests` list from its start on every connection, so 50 connections
    // given the list would ask nearly the same question at once and the memo would answer most:
    // one shared counter hands each request the next question instead.
    let asked = 0;
    const distinct: autocannon.Request[] = [{ method: 'GET', setupRequest: (req) => ({ ...req, path: requests[asked++ % requests.length]!.path }) }];
    // Saturated: each connection sends its next request when the last is answered, so latency is
    // 50 / throughput (Little's law), and autocannon shares the two cores with the server.
    const runs: [string, autocannon.Request[]][] = [
      ['distinct questions', distinct],
      ['one repeated question', requests.slice(0, 1)],
    ];
    for (const [label, reqs] of runs) {
      await autocannon({ url: s.url, connections: 50, duration: 3, headers: { authorization: `Bearer ${token}` }, requests: reqs as autocannon.Request[] });
      const cpu0 = cpuSeconds(s.child.pid!);
      gc = { young: [0, 0, 0], full: [0, 0, 0] };
      // autocannon's summary has no p95 (the bound): every response time is kept instead.
      const times: number[] = [];
      const r = await new Promise<autocannon.Result>((resolve, reject) => {
        const run = autocannon({ url: s.url, connections: 50, duration: 20, headers: { authorization: `Bearer ${token}` }, requests: reqs as autocannon.Request[] }, (err, result) => (err ? reject(err as Error) : resolve(result)));
        run.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => times.push(ms));
      });
      const cpuMs = ((cpuSeconds(s.child.pid!) - cpu0) * 1000) / r.requests.total;
      times.sort((a, b) => a - b);
      const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
      const pauses = ([n, ms, max]: number[]) => `${n} taking ${Math.round(ms!)} ms, longest ${max!.toFixed(1)} ms`;
      console.log(`GET /api/v1/backups?limit=50 (filters, ${label}), 50 connections, 20 s: ${Math.round(r.requests.average)} req/s; latency p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, p95 ${p(0.95)} ms, p99 ${p(0.99)} ms, max ${p(1)} ms; server CPU ${cpuMs.toFixed(3)} ms a request; non-2xx ${r.non2xx}, errors ${r.errors}`);
      console.log(`  serve's garbage collector meanwhile: young-generation ${pauses(gc.young)}; full ${pauses(gc.full)}`);
      gc = undefined;
    }
    const health = await autocannon({ url: `${s.url}/healthz`, connections: 50, duration: 10 });
    console.log(`GET /healthz, 50 connections, 10 s (the HTTP stack alone): ${Math.round(health.requests.average)} req/s; p99 ${health.latency.p99} ms`);
    await inProcess(home, token, requests.map((r) => r.path));
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The whole app in this process (`app.request`: no sockets, no autocannon beside it), CPU per
 * request: steadier than latency on a shared machine, for comparing code. Minimum and median
 * of 10 rounds of 500 requests, distinct questions then one repeated.
 */
async function inProcess(home: string, token: string, paths: string[]): Promise<void> {
  const catalog = Catalog.open(home);
  try {
    const context = { catalog, address: () => '127.0.0.1', secure: () => false, publicOrigin: undefined, log: () => undefined } as unknown as ServerContext;
    const { app } = createApp(context);
    const headers = { authorization: `Bearer ${token}` };
    for (const [label, asked] of [['distinct questions', paths], ['one repeated question', paths.slice(0, 1)]] as const) {
      const rounds: number[] = [];
      let k = 0;
      for (let round = 0; round < 10; round++) {
        const before = process.cpuUsage();
        for (let i = 0; i < 500; i++) {
          const res = await app.request(asked[k++ % asked.length]!, { headers });
          if (res.status !== 200) throw new Error(`${res.status}: ${await res.text()}`);
          await res.text();
        }
        const used = process.cpuUsage(before);
        rounds.push((used.user + used.system) / 500 / 1000);
      }
      rounds.sort((a, b) => a - b);
      console.log(`in process (app.request), ${label}: ${rounds[0]!.toFixed(3)} ms of CPU a request at least, ${rounds[5]!.toFixed(3)} ms median`);
    }
  } finally {
    catalog.close();
  }
}

async function sse(): Promise<void> {
  const pg = await startTestServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-sse-'));
  try {
    const db = await pg.createDatabase('ssebench');
    const rows = Math.floor((dbMb * 1e6) / 200);
    await pg.query(db, `create table events as select g as id, md5(g::text) || ' ' || repeat(md5((g * 7)::text), 4) as body, now() - (g || ' seconds')::interval as at from generate_series(1, ${rows}) g`);
    const config = path.join(dir, 'lifeboat.yaml');
    writeFileSync(config, `storages:\n  local: { type: local, path: ${path.join(dir, 'storage')} }\ntargets:\n  app:\n    postgres: { url: "${pg.urlFor(db)}", databases: [${db}] }\n    storage: local\n    verification: { quickAfterEachBackup: false }\n`);
    const env = { LIFEBOAT_HOME: path.join(dir, 'home'), LIFEBOAT_CONFIG: config };
    cli(env, ['user', 'add', 'bench', '--role', 'operator', '--password-stdin'], 'a long bench password\n');
    const token = JSON.parse(cli(env, ['token', 'create', 'bench', '--user', 'bench', '--scope', 'backup', '--json'])).token as string;
    const s = await serve(env);
    const headers = { authorization: `Bearer ${token}` };
    const runs: { clients: number; seconds: number; extraRssMb: number }[] = [];
    try {
      for (const clients of [0, 100, 0, 100]) {
        await new Promise((r) => setTimeout(r, 1000));
        const base = rssMb(s.child.pid!);
        const res = await fetch(`${s.url}/api/v1/targets/app/backups`, { method: 'POST', headers });
        const { jobId } = (await res.json()) as { jobId: string };
        let peak = base;
        const sampler = setInterval(() => (peak = Math.max(peak, rssMb(s.child.pid!))), 100);
        const follow = async () => {
          const r = await fetch(`${s.url}/api/v1/jobs/${jobId}/events`, { headers });
          let text = '';
          for await (const chunk of r.body!) {
            text += Buffer.from(chunk as Uint8Array).toString();
            if (text.includes('event: done')) break;
          }
          return text;
        };
        const followers = Array.from({ length: clients }, follow);
        for (;;) {
          const j = (await (await fetch(`${s.url}/api/v1/jobs/${jobId}`, { headers })).json()) as { state: string; finishedAt: string | null; startedAt: string };
          if (j.state !== 'running') {
            runs.push({ clients, seconds: (Date.parse(j.finishedAt!) - Date.parse(j.startedAt)) / 1000, extraRssMb: peak - base });
            break;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        await Promise.all(followers);
        clearInterval(sampler);
      }
    } finally {
      await s.stop();
    }
    for (const r of runs) console.log(`backup of a ${dbMb} MB database with ${r.clients} SSE clients: ${r.seconds.toFixed(2)} s; server RSS +${r.extraRssMb.toFixed(1)} MB over its idle size`);
    const avg = (n: number) => runs.filter((r) => r.clients === n).reduce((a, r) => a + r.seconds, 0) / 2;
    console.log(`100 SSE clients: backup time ${(avg(100) / avg(0)).toFixed(3)}x of none`);
  } finally {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function login(): Promise<void> {
  const stored = await hashPassword('a long bench password');
  await verifyPassword(stored, 'a long bench password');
  const n = 20;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await verifyPassword(stored, 'a long bench password');
  const used = process.cpuUsage(cpu);
  console.log(`login: one password check costs ${((used.user + used.system) / 1000 / n).toFixed(1)} ms of CPU, ${((performance.now() - t0) / n).toFixed(1)} ms of wall time (${stored.split('$')[1]})`);
}

/**
 * The longest event-loop stall of `lifeboat serve` from the moment it listens, over `seconds`
 * of start and ticks (every 5 s) on 10,000 backups; and this process's own over the same time,
 * idle but for reading the server's lines: what the machine alone adds.
 */
async function stall(): Promise<void> {
  const seconds = Number(process.env.BENCH_STALL_SECONDS ?? 30);
  for (const rules of [false, true]) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-stall-'));
    try {
      const home = path.join(dir, 'home');
      const config = path.join(dir, 'lifeboat.yaml');
      const text = apiDataConfig({ storageDir: path.join(dir, 'storage'), targets: 20 });
      writeFileSync(config, rules ? text : text.replace(/^ {4}retention: .*\n/gm, ''));
      generateApiData(home, { backups: 10_000, targets: 20 });
      let listening = false;
      const stalls: { ms: number; at: number }[] = [];
      const own = monitorEventLoopDelay({ resolution: 10 });
      const s = await serve({ LIFEBOAT_HOME: home, LIFEBOAT_CONFIG: config }, {
        tick: 5,
        node: ['--import', path.join(root, 'bench', 'loop-delay.ts')],
        onLine: (line) => {
          if (line.includes('API listening')) listening = true;
          const m = /^loop-delay max=([\d.]+) at=(\d+)/.exec(line);
          if (m && listening) stalls.push({ ms: Number(m[1]), at: Number(m[2]) });
        },
      });
      own.enable();
      await new Promise((r) => setTimeout(r, seconds * 1000));
      own.disable();
      await s.stop();
      const worst = [...stalls].sort((a, b) => b.ms - a.ms);
      const over = stalls.filter((x) => x.ms > 100).length;
      console.log(`serve on 10,000 backups, ${rules ? 'with retention rules (its first cycle deletes most of them; s3 unreachable)' : 'without retention rules'}, ${seconds} s from listening, ticks every 5 s: longest event-loop stall ${worst[0]?.ms ?? 0} ms (next: ${worst.slice(1, 4).map((x) => x.ms).join(', ')} ms); quarter-seconds with a stall over 100 ms: ${over} of ${stalls.length}; this idle process's own longest: ${(own.max / 1e6).toFixed(1)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

if (parts.has('login')) await login();
if (parts.has('listing')) await listing();
if (parts.has('sse')) await sse();
if (parts.has('stall')) await stall();
