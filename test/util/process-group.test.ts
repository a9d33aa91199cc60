// Tools and scratch clusters die with Lifeboat, even when it is killed with -9 and no command
// runs after it: the watchdogs of util/process-group.ts, through the real entry points.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runTool } from '../../src/postgres/dump.ts';
import { pidAlive } from '../../src/util/pid.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `code` (an ES module) in a Node child; resolves with it and its first stdout line. */
async function child(code: string): Promise<{ proc: ReturnType<typeof spawn>; line: string }> {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of proc.stdout!) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  return { proc, line: out.split('\n')[0]! };
}

/** Waits up to 15 s for every pid to be gone (an exited process not yet reaped counts as gone). */
async function gone(pids: number[]): Promise<number[]> {
  const running = (p: number) => pidAlive(p) && !/^\S+ \S+ Z/.test(readFileSync(`/proc/${p}/stat`, 'utf8').replace(/\(.*\)/, 'x'));
  for (let i = 0; i < 300 && pids.some(running); i++) await sleep(50);
  return pids.filter(running);
}

describe('children die with Lifeboat', () => {
  test('a tool and what it forked are killed when Lifeboat is killed with -9', async () => {
    const { proc, line } = await child(`
      import { runTool } from './src/postgres/dump.ts';
      const run = runTool('/bin/sh', ['-c', 'sleep 300 & echo $$ $!; wait'], { url: 'postgres://x/y', password: undefined });
      run.stdout.on('data', (d) => process.stdout.write(d));
      setInterval(() => {}, 1000);
    `);
    const pids = line.split(' ').map(Number);
    assert.equal(pids.length, 2, line);
    assert.ok(pids.every(pidAlive));
    proc.kill('SIGKILL');
    await once(proc, 'close');
    assert.deepEqual(await gone(pids), [], 'the tool and its child outlived Lifeboat');
  });

  test('a tool that ends normally leaves no watchdog behind; an abort still kills it', async () => {
    const run = runTool('/bin/sh', ['-c', 'echo $$'], { url: 'postgres://x/y', password: undefined });
    let out = '';
    run.stdout.on('data', (d: Buffer) => (out += String(d)));
    await run.done;
    const pid = Number(out.trim());
    assert.deepEqual(await gone([pid]), []);
    const pgrep = spawn('pgrep', ['-f', 'lifeboat-tool /bin/sh -c echo']);
    let found = '';
    pgrep.stdout.on('data', (d: Buffer) => (found += String(d)));
    await once(pgrep, 'close');
    assert.equal(found, '', 'no watchdog left');

    const controller = new AbortController();
    const long = runTool('/bin/sleep', ['300'], { url: 'postgres://x/y', password: undefined }, controller.signal);
    long.stdout.resume();
    controller.abort();
    await assert.rejects(long.done, /cancelled/);
  });

  test('a scratch cluster is stopped and its directory removed when Lifeboat is killed with -9', async () => {
    const { proc, line } = await child(`
      import { startScratchCluster } from './src/postgres/scratch-cluster.ts';
      const c = await startScratchCluster({ minMajor: 0, templateDir: 'node_modules/.cache/lifeboat-initdb' });
      console.log(JSON.stringify({ port: new URL(c.endpoint.url).port }));
      setInterval(() => {}, 1000);
    `);
    const { port } = JSON.parse(line) as { port: string };
    // The server's pid and directory, from its command line.
    const ps = spawn('pgrep', ['-af', `postgres .*-p ${port}`]);
    let found = '';
    ps.stdout.on('data', (d: Buffer) => (found += String(d)));
    await once(ps, 'close');
    const m = /^(\d+) .*-D (\S+)/m.exec(found);
    assert.ok(m, found);
    const [pid, data] = [Number(m[1]), m[2]!];
    assert.ok(existsSync(data));
    proc.kill('SIGKILL');
    await once(proc, 'close');
    assert.deepEqual(await gone([pid]), [], 'the scratch cluster outlived Lifeboat');
    for (let i = 0; i < 100 && existsSync(data); i++) await sleep(50);
    assert.equal(existsSync(data), false, 'its directory is removed');
  });
});
