// The dashboard's render time in Chromium with 10,000 backups in the catalog: a figure for
// bench/README.md ("Web UI"), not a test. Needs the built UI (`npm run build:web`) and Debian's
// chromium.
//
//   npm run bench:ui                  # 10,000 backups over 20 targets, 5 cold loads
//   BENCH_UI_RUNS=10 npm run bench:ui
//
// Each run is a fresh browser profile (nothing cached) already signed in, timed from the start
// of navigation (the page's own clock, performance.now()) to: every target card with its health
// shown (what the budget of 1 s is about), then every card's chart drawn (one page of backups
// per target, asked after the cards). Beside the wall time, the CPU it cost up to the cards:
// Chromium's processes (renderer, GPU, network) and the server's (/proc utime + stime);
// on a busy machine those hold where the wall time does not. The same for a cold load of the
// sign-in page (the same bundle, no data): the floor every screen pays in this browser.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../test/support/browser.ts';
import { apiDataConfig, generateApiData } from './api-data.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const BIN = path.join(root, 'bin', 'lifeboat.js');
const runs = Number(process.env.BENCH_UI_RUNS ?? 5);
const TARGETS = 20;
const BACKUPS = 10_000;

function cli(env: NodeJS.ProcessEnv, args: string[], input = ''): string {
  return execFileSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, input, encoding: 'utf8' });
}

async function serve(env: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--tick', '3600'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /API listening on (http\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { url, child, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGTERM'); }) };
}

/** A process's ppid and CPU milliseconds so far (utime + stime, clock ticks of 10 ms), from /proc. */
function stat(pid: number): { ppid: number; cpu: number } | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) * 10 };
  } catch {
    return undefined;
  }
}
const cpuMs = (pid: number) => stat(pid)?.cpu ?? 0;

/** CPU of this process's descendants but `skip`'s tree: the browser's processes (renderer, GPU, network). */
function browserCpuMs(skip: number): number {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const parent = new Map(all.map((p) => [p, stat(p)?.ppid ?? 0]));
  const under = (p: number): boolean => {
    for (let q = parent.get(p); q; q = parent.get(q)) {
      if (q === skip || p === skip) return false;
      if (q === process.pid) return true;
    }
    return false;
  };
  return all.filter(under).reduce((sum, p) => sum + cpuMs(p), 0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bench-ui-'));
const home = path.join(dir, 'home');
const config = path.join(dir, 'lifeboat.yaml');
// Without retention rules: the daemon beside the API would otherwise start deleting the
// generated backups during the run.
writeFileSync(config, apiDataConfig({ storageDir: path.join(dir, 'storage'), targets: TARGETS }).replace(/^ {4}retention: .*\n/gm, ''));
const env = { LIFEBOAT_HOME: home, LIFEBOAT_CONFIG: config };
generateApiData(home, { backups: BACKUPS, targets: TARGETS });
const password = 'a long bench password';
cli(env, ['user', 'add', 'bench', '--role', 'operator', '--password-stdin'], `${password}\n`);
const s = await serve(env);
const browser = await launchBrowser();
try {
  const signIn = await fetch(`${s.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench', password }) });
  const cookie = /lifeboat_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')![1]!;
  const cards: number[] = [];
  const charts: number[] = [];
  const pageCpu: number[] = [];
  const serverCpu: number[] = [];
  const floor: number[] = [];
  const floorCpu: number[] = [];
  // One load before the timed ones: the server's first answers warm its caches and JIT.
  for (let i = 0; i <= runs; i++) {
    const context = await browser.newContext({ baseURL: s.url, viewport: { width: 1280, height: 900 } });
    await context.addCookies([{ name: 'lifeboat_session', value: cookie, url: s.url }]);
    const page = await context.newPage();
    const before = cpuMs(s.child.pid!);
    const browserBefore = browserCpuMs(s.child.pid!);
    await page.goto('/', { waitUntil: 'commit' });
    const shown = await page.waitForFunction((n) => document.querySelectorAll('.target-card dd[data-field="last-backup"] a').length === n && performance.now(), TARGETS, { polling: 'raf', timeout: 30_000 });
    const server = cpuMs(s.child.pid!) - before;
    const task = browserCpuMs(s.child.pid!) - browserBefore;
    const drawn = await page.waitForFunction((n) => document.querySelectorAll('.target-card .chart-box canvas').length === n && performance.now(), TARGETS, { polling: 'raf', timeout: 30_000 });
    if (i > 0) {
      cards.push((await shown.jsonValue()) as number);
      charts.push((await drawn.jsonValue()) as number);
      pageCpu.push(task);
      serverCpu.push(server);
    }
    await context.close();
    const bare = await browser.newContext({ baseURL: s.url, viewport: { width: 1280, height: 900 } });
    const signInPage = await bare.newPage();
    const bareBefore = browserCpuMs(s.child.pid!);
    await signInPage.goto('/', { waitUntil: 'commit' });
    const h1 = await signInPage.waitForFunction(() => document.querySelector('h1') !== null && performance.now(), undefined, { polling: 'raf', timeout: 30_000 });
    if (i > 0) {
      floor.push((await h1.jsonValue()) as number);
      floorCpu.push(browserCpuMs(s.child.pid!) - bareBefore);
    }
    await bare.close();
  }
  const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
  console.log(`dashboard, ${BACKUPS.toLocaleString('en')} backups over ${TARGETS} targets, ${runs} cold loads in Chromium:`);
  console.log(`  every target card with its health: ${fmt(cards)}`);
  console.log(`  every card's chart drawn:          ${fmt(charts)}`);
  console.log(`  CPU up to the cards, Chromium:          ${fmt(pageCpu)}`);
  console.log(`  CPU up to the cards, server:           ${fmt(serverCpu)}`);
  console.log(`the sign-in page (the floor): ${fmt(floor)}; CPU, Chromium: ${fmt(floorCpu)}`);
  console.log(`load average during the run: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores`);
} finally {
  await browser.close();
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
