import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const scratch = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-install-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What runs: the bin, the sources, the built web UI, package.json; plus README and the service example it documents. */
const RUNTIME = /^(bin\/(lifeboat|loader|thread)\.js|package\.json|README\.md|LICENSE|src\/(?!web\/).+\.ts|src\/bundle\/restore-kit\/restore\.sh|dist\/web\/.+|examples\/.+)$/;

function packedFiles(dir: string): string[] {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path).sort();
}

const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim() || undefined;

describe('installing like a real tool', () => {
  test('npm pack holds only what runs', () => {
    const files = packedFiles(repo);
    assert.deepEqual(files.filter((f) => !RUNTIME.test(f)), []);
    for (const needed of ['bin/lifeboat.js', 'bin/loader.js', 'bin/thread.js', 'package.json', 'src/cli/main.ts', 'src/catalog/migrations.ts', 'examples/systemd/lifeboat.service', 'dist/web/index.html']) assert.ok(files.includes(needed), needed);
    // The UI ships built: its sources (and their build tools) stay in the checkout.
    assert.ok(!files.some((f) => f.startsWith('src/web/')));
    assert.ok(!files.some((f) => /^(test|bench|scripts|\.ci)\/|\.test\.ts$/.test(f)));
  });

  test('what a user creates in a checkout stays out of the package', () => {
    // A copy of the checkout after `lifeboat init`, a first backup and `npm pack`.
    const copy = path.join(scratch, 'checkout');
    for (const f of ['package.json', 'README.md', 'bin', 'src', 'examples', 'test', 'bench']) cpSync(path.join(repo, f), path.join(copy, f), { recursive: true });
    const decoys = ['lifeboat.yaml', 'backups/app/app-20261201T000000Z.tar.zst', '.lifeboat/catalog.sqlite', '.env', 'lifeboat-0.1.0.tgz', 'src/cli/main.test.ts'];
    for (const d of decoys) {
      mkdirSync(path.dirname(path.join(copy, d)), { recursive: true });
      writeFileSync(path.join(copy, d), 'x');
    }
    const files = packedFiles(copy);
    assert.deepEqual(files.filter((f) => !RUNTIME.test(f) || decoys.includes(f)), []);
    // And git would not offer them for a commit either (where this is a git checkout).
    if (!existsSync(path.join(repo, '.git'))) return;
    const ignored = spawnSync('git', ['check-ignore', '--no-index', ...decoys.slice(0, 5)], { cwd: repo, encoding: 'utf8' }).stdout.trim().split('\n');
    assert.deepEqual(ignored, decoys.slice(0, 5));
  });

  test('the packed tarball runs from inside node_modules, where Node does not strip types itself', async () => {
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', scratch], { cwd: repo, stdio: 'ignore' });
    const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    // The layout `npm install -g` makes: <prefix>/lib/node_modules/lifeboat; dependencies beside it.
    const installed = path.join(scratch, 'prefix', 'lib', 'node_modules', 'lifeboat');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', path.join(scratch, `lifeboat-${pkg.version}.tgz`), '--strip-components=1', '-C', installed]);
    symlinkSync(path.join(repo, 'node_modules'), path.join(installed, 'node_modules'));
    const work = path.join(scratch, 'work');
    mkdirSync(work);
    writeFileSync(path.join(work, 'app.env'), 'A=1\n');
    writeFileSync(path.join(work, 'lifeboat.yaml'), 'storages:\n  local: { type: local, path: ./backups }\ntargets:\n  app:\n    files: { config: [./app.env] }\n    storage: local\n');
    const cache = path.join(scratch, 'cache');
    const run = (args: string[]) => spawnSync(process.execPath, [path.join(installed, 'bin', 'lifeboat.js'), ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, LIFEBOAT_CONFIG: undefined, LIFEBOAT_HOME: undefined, XDG_CACHE_HOME: cache } });
    const version = run(['--version']);
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout.trim(), pkg.version);
    assert.equal(version.stderr, '', 'no warning before the output');
    const backup = run(['backup', 'app', '--json']);
    assert.equal(backup.status, 0, backup.stderr);
    assert.ok(existsSync(path.join(work, 'backups', 'app', `${(JSON.parse(backup.stdout) as { id: string }).id}.tar.zst`)));
    // The stripped sources are kept for the next run, owner-only, in the user's cache.
    const stripped = readdirSync(path.join(cache, 'lifeboat', 'stripped'));
    assert.ok(stripped.length > 20, `${stripped.length} stripped sources cached`);
    assert.equal(statSync(path.join(cache, 'lifeboat', 'stripped', stripped[0]!)).mode & 0o777, 0o600);
    assert.equal(run(['--version']).status, 0, 'and a run from the cache works');

    // serve's worker thread (the catalog reader) loads the sources too, with the same hooks.
    assert.equal(spawnSync(process.execPath, [path.join(installed, 'bin', 'lifeboat.js'), 'user', 'add', 'ann', '--role', 'viewer', '--password-stdin'], { cwd: work, input: 'a long enough password\n', env: { ...process.env, LIFEBOAT_CONFIG: undefined, LIFEBOAT_HOME: undefined, XDG_CACHE_HOME: cache } }).status, 0);
    const token = (JSON.parse(run(['token', 'create', 'ci', '--user', 'ann', '--scope', 'read', '--json']).stdout) as { token: string }).token;
    const serve = spawn(process.execPath, [path.join(installed, 'bin', 'lifeboat.js'), 'serve', '--listen', '127.0.0.1:0'], { cwd: work, env: { ...process.env, LIFEBOAT_CONFIG: undefined, LIFEBOAT_HOME: undefined, XDG_CACHE_HOME: cache, LIFEBOAT_DEBUG: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    const seen = (re: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
      const look = () => {
        const m = re.exec(log);
        if (m) resolve(m);
      };
      serve.stderr.on('data', (d: Buffer) => {
        log += d.toString();
        look();
      });
      serve.once('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
      look();
    });
    try {
      const url = (await seen(/API listening on (http\S+)/))[1]!;
      const list = async () => {
        const res = await fetch(`${url}/api/v1/backups`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 200);
        return (await res.json()) as { items: unknown[] };
      };
      assert.equal((await list()).items.length, 1, 'the first page, read while the thread starts');
      assert.equal((await seen(/the catalog reader thread (is ready|failed.*|exited.*)/))[1], 'is ready', log);
      assert.equal((await list()).items.length, 1, 'a page from the thread');
      assert.doesNotMatch(log, /catalog reader thread (failed|exited)/);
    } finally {
      serve.kill('SIGTERM');
    }
  });

  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((n) => existsSync(n) && Number(execFileSync(n, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0]) < 24);
  test('on an older Node the first line says what is needed', { skip: oldNode ? false : 'no Node older than 24 on this machine' }, () => {
    const r = spawnSync(oldNode!, [path.join(repo, 'bin', 'lifeboat.js'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.split('\n')[0]!, /^lifeboat needs Node\.js 24 or newer \(this is v\d+\.\d+\.\d+\): install Node 24 \(README\.md, "Install"\)/);
  });
});

describe('examples/systemd/lifeboat.service', () => {
  const unit = readFileSync(path.join(repo, 'examples', 'systemd', 'lifeboat.service'), 'utf8');
  const settings = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!);

  test('runs the daemon as its own user, confined', () => {
    assert.deepEqual(settings('User'), ['lifeboat']);
    assert.match(settings('ExecStart')[0]!, /\/lifeboat serve$/, 'daemon mode: it schedules itself, no timer');
    assert.deepEqual(settings('ProtectSystem'), ['strict']);
    assert.deepEqual(settings('NoNewPrivileges'), ['yes']);
    assert.deepEqual(settings('PrivateTmp'), ['yes']);
    const writable = settings('ReadWritePaths').join(' ').split(/\s+/);
    assert.ok(writable.includes('/var/lib/lifeboat'), 'the home');
    assert.deepEqual(settings('Environment').filter((e) => e.startsWith('LIFEBOAT_HOME=')), ['LIFEBOAT_HOME=/var/lib/lifeboat']);
    assert.ok(writable.length >= 2, 'and a storage');
    assert.deepEqual(settings('UMask'), ['0077']);
    assert.ok(!existsSync(path.join(repo, 'examples', 'systemd', 'lifeboat.timer')));
  });

  const analyze = which('systemd-analyze');
  test('systemd-analyze verify accepts it without a warning', { skip: analyze ? false : 'systemd-analyze is not installed here' }, () => {
    // The unit names /usr/bin/lifeboat, where `npm install -g` with a /usr prefix puts it; verify
    // needs the binary to exist, so this copy names the checkout's.
    const dir = path.join(scratch, 'unit');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'lifeboat.service');
    writeFileSync(file, unit.replace(/^ExecStart=\S+/m, `ExecStart=${path.join(repo, 'bin', 'lifeboat.js')}`));
    const r = spawnSync(analyze!, ['verify', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no unknown key, no bad value');
    // It does catch mistakes: a misspelt key is reported.
    writeFileSync(file, unit.replace('ProtectSystem=strict', 'ProtectSystm=strict').replace(/^ExecStart=\S+/m, `ExecStart=${path.join(repo, 'bin', 'lifeboat.js')}`));
    assert.match(spawnSync(analyze!, ['verify', file], { encoding: 'utf8' }).stderr, /Unknown key 'ProtectSystm'/);
  });
});
