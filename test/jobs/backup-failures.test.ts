import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

let server: TestServer;
let db: string;
const spaces: Workspace[] = [];
before(async () => {
  server = await startTestServer();
  db = await server.createDatabase('app');
  await server.query(db, "create table items (id serial primary key, body text); insert into items (body) select md5(g::text) from generate_series(1, 2000) g");
});
after(async () => {
  await server?.stop();
  for (const ws of spaces) ws.remove();
});

function setup(target: string): Workspace {
  const ws = workspace();
  spaces.push(ws);
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n${target}`);
  return ws;
}

/** Every file under the storage directory, hidden ones included. */
function stored(ws: Workspace): string[] {
  return (readdirSync(ws.storage, { recursive: true }) as string[]).filter((f) => !f.endsWith('/') && !readdirSafe(path.join(ws.storage, f)));
}
function readdirSafe(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}

const pgTarget = (url: string, extra = '') => `    postgres: { url: "${url}", databases: [${db}] }\n    storage: local\n${extra}`;

async function lastBackup(ws: Workspace): Promise<{ status: string; error: string | null }> {
  const list = await ws.run(['list', '--json']);
  return list.json<{ status: string; error: string | null }[]>()[0]!;
}

describe('a backup that cannot be made fails clearly and leaves nothing behind', () => {
  const cases: { what: string; target: () => Promise<string> | string; error: RegExp; code?: number }[] = [
    { what: 'unreachable server', target: async () => pgTarget(`postgres://postgres:x@127.0.0.1:${await freePort()}/${db}`), error: /cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+/ },
    { what: 'wrong password', target: () => pgTarget(server.urlFor(db, { password: 'wrong-password' })), error: /PostgreSQL refused the login/ },
    { what: 'database that does not exist', target: () => `    postgres: { url: "${server.urlFor('postgres')}", databases: [nope] }\n    storage: local\n`, error: /database "nope" does not exist on the server\nhint: databases there: .*app_/ },
    { what: 'missing pg_dump (binDir without one)', target: () => `    postgres: { url: "${server.urlFor(db)}", databases: [${db}], binDir: /nonexistent/bin }\n    storage: local\n`, error: /postgres\.binDir \/nonexistent\/bin holds no working pg_dump/ },
    { what: 'unreadable file in a file set', target: () => pgTarget(server.urlFor(db), '    files: { config: [/nonexistent/app/.env] }\n'), error: /cannot read a file in the file sets: \/nonexistent\/app\/\.env \(set config: does not exist\)/ },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const ws = setup(await c.target());
      const r = await ws.run(['backup', 'app']);
      assert.equal(r.code, c.code ?? 1, r.stderr);
      assert.match(r.stderr, c.error);
      assert.ok(!(r.stderr + r.stdout).includes('wrong-password') && !(r.stderr + r.stdout).includes(server.password), 'no password in the output');
      assert.deepEqual(stored(ws), [], 'nothing written to storage');
      const b = await lastBackup(ws);
      assert.equal(b.status, 'failed');
      assert.match(b.error ?? '', c.error.source.includes('\\n') ? /./ : c.error);
    });
  }

  test('storage path that is not writable', async () => {
    const ws = setup(pgTarget(server.urlFor(db)));
    const blocker = path.join(ws.dir, 'a-file');
    writeFileSync(blocker, 'x');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${blocker}/backups }\ntargets:\n  app:\n${pgTarget(server.urlFor(db))}`);
    const r = await ws.run(['backup', 'app']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /storage "local" is not writable/);
  });

  test('onUnreadable: skip backs up the rest and says what it left out', async () => {
    const ws = setup(pgTarget(server.urlFor(db), `    onUnreadable: skip\n    files: { config: [/nonexistent/.env, ${process.cwd()}/package.json] }\n`));
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warn: skipped unreadable file \/nonexistent\/\.env \(set config\): does not exist/);
    const show = await ws.run(['show', r.json<{ id: string }>().id]);
    assert.match(show.stdout, /warning +skipped unreadable file \/nonexistent\/\.env/);
    const contents = await ws.run(['contents', r.json<{ id: string }>().id]);
    assert.match(contents.stdout, /package\.json/);
    assert.match(contents.stdout, /skipped \/nonexistent\/\.env \(does not exist\)/);
  });

  const configCases = [
    { what: 'malformed YAML', yaml: 'storages: [\n', error: /lifeboat\.yaml:\d+:\d+: malformed YAML/ },
    { what: 'unknown key', yaml: `storages:\n  local: { type: local, path: /tmp, colour: red }\ntargets: {}\n`, error: /storages\.local\.colour: unknown key "colour"/ },
    { what: 'missing env var', yaml: `storages:\n  local: { type: local, path: /tmp }\ntargets:\n  app:\n    postgres: { url: "\${LIFEBOAT_TEST_UNSET}" }\n    storage: local\n`, error: /environment variable LIFEBOAT_TEST_UNSET is not set/ },
    { what: 'wrong age recipient', yaml: `storages:\n  local: { type: local, path: /tmp }\ntargets:\n  app:\n    files: { a: [/etc/hostname] }\n    storage: local\n    encryption: { recipients: [age1qqqq] }\n`, error: /not an age recipient: "age1qqqq"/ },
    { what: 'unknown target', yaml: `storages:\n  local: { type: local, path: /tmp }\ntargets:\n  app:\n    files: { a: [/etc/hostname] }\n    storage: local\n`, args: ['backup', 'other'], error: /no target named "other".*\nhint: configured targets: app/ },
  ];
  for (const c of configCases) {
    test(`bad configuration: ${c.what} exits 2 and writes nothing`, async () => {
      const ws = setup('');
      ws.writeConfig(c.yaml);
      const r = await ws.run(c.args ?? ['backup', 'app']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, c.error);
      assert.deepEqual(stored(ws), []);
    });
  }

  test('not enough free space: refused before writing, and a disk that fills mid-way leaves no temp file', { skip: process.getuid?.() !== 0 && 'mounting a small tmpfs needs root' }, async () => {
    const ws = setup('');
    const small = path.join(ws.dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small]);
    try {
      // Pre-flight: the database is larger than the storage could hold even compressed.
      ws.writeConfig(`storages:\n  local: { type: local, path: ${small} }\ntargets:\n  app:\n${pgTarget(server.urlFor(db))}`);
      const r = await ws.run(['backup', 'app']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /storage "local" has .* free of .*; this backup needs about/);
      assert.deepEqual(readdirSync(small), []);

      // Mid-way: random (incompressible) files that the estimate lets through.
      const media = path.join(ws.dir, 'media');
      mkdirSync(media);
      for (let i = 0; i < 3; i++) writeFileSync(path.join(media, `f${i}.bin`), randomBytes(600_000));
      ws.writeConfig(`storages:\n  local: { type: local, path: ${small} }\ntargets:\n  app:\n    files: { media: [${media}] }\n    storage: local\n`);
      const full = await ws.run(['backup', 'app']);
      assert.equal(full.code, 1, full.stderr);
      assert.match(full.stderr, /ran out of space/);
      assert.deepEqual(readdirSync(small, { recursive: true }).filter((f) => !readdirSafe(path.join(small, f as string))), [], 'no bundle and no temp file');
    } finally {
      execFileSync('umount', [small]);
    }
  });
});

describe('interrupted and overlapping backups', () => {
  /** Holds an exclusive lock on the table so pg_dump waits: the backup stays mid-way. */
  async function blockDump(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: server.urlFor(db) });
    await client.connect();
    await client.query('begin');
    await client.query('lock table items in access exclusive mode');
    return client;
  }

  async function startBlocked(ws: Workspace) {
    const child = ws.spawnCli(['backup', 'app']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!stderr.includes(`writing databases/${db}.dump`)) {
      if (Date.now() > deadline) throw new Error(`backup did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { child, exited, stderr: () => stderr };
  }

  test('a second backup of the same target is refused while one runs; Ctrl-C/SIGTERM cancels cleanly', async () => {
    const ws = setup(pgTarget(server.urlFor(db)));
    const lock = await blockDump();
    try {
      const first = await startBlocked(ws);
      const second = await ws.run(['backup', 'app']);
      assert.equal(second.code, 4, 'a lock held by another operation');
      assert.match(second.stderr, /cannot start a backup of target "app": a backup job holds the backup:app lock \(job [0-9a-f-]+, pid \d+/);

      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 1);
      assert.match(first.stderr(), /cancelled/);
      assert.deepEqual(stored(ws), [], 'no bundle, no temp file');
      const b = await lastBackup(ws);
      assert.equal(b.status, 'failed');
    } finally {
      await lock.query('rollback');
      await lock.end();
    }
    const again = await ws.run(['backup', 'app']);
    assert.equal(again.code, 0, again.stderr);
  });

  test('a killed backup (SIGKILL) never looks like a backup; the next run cleans up after it', async () => {
    const ws = setup(pgTarget(server.urlFor(db)));
    const lock = await blockDump();
    let killedId: string;
    try {
      const run = await startBlocked(ws);
      // Kill it once its temporary file exists, the worst moment: a half-written bundle on disk.
      while (!stored(ws).some((f) => path.basename(f).startsWith('.'))) await new Promise((r) => setTimeout(r, 20));
      run.child.kill('SIGKILL');
      await run.exited;
      killedId = /backup (\S+) of target/.exec(run.stderr())![1]!;
      const visible = stored(ws).filter((f) => !path.basename(f).startsWith('.'));
      assert.deepEqual(visible, [], 'no visible bundle');
      const list = await ws.run(['list', '--json']);
      // Any command after the kill removes the half-written bundle (jobs/resources.ts), and says so once.
      assert.match(list.stderr, /^warn: removed \d+ resource\(s\) left by killed Lifeboat process\(es\) \d+: .*staged upload \S+ on storage local/m);
      assert.deepEqual(stored(ws).filter((f) => path.basename(f).startsWith('.')), [], 'no temporary file left');
      const rec = list.json<{ id: string; status: string; error: string }[]>().find((b) => b.id === killedId)!;
      assert.equal(rec.status, 'failed');
      assert.match(rec.error, /interrupted/);
    } finally {
      await lock.query('rollback');
      await lock.end();
    }
    const next = await ws.run(['backup', 'app']);
    assert.equal(next.code, 0, next.stderr);
    assert.doesNotMatch(next.stderr, /temporary file/, 'nothing left for the backup to sweep');
    const id = /^backup (\S+):/.exec(next.stdout)![1]!;
    assert.deepEqual(stored(ws).map((f) => path.basename(f)).sort(), [`${id}.tar.zst`, `${id}.tar.zst.manifest.json`]);
    const contents = await ws.run(['contents', killedId]);
    assert.equal(contents.code, 2);
    assert.match(contents.stderr, /has no contents: it failed \(interrupted/);
  });
});

describe('catalog rebuild', () => {
  test('recreates the same list from storage alone, sidecar or not', async () => {
    const ws = setup(pgTarget(server.urlFor(db)));
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await ws.run(['backup', 'app', '--json']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.json<{ id: string }>().id);
    }
    const before = (await ws.run(['list', '--json'])).json<{ id: string; size: number; status: string; target: string }[]>();
    rmSync(ws.home, { recursive: true });
    rmSync(path.join(ws.storage, 'app', `${ids[0]}.tar.zst.manifest.json`));
    const r = await ws.run(['catalog', 'rebuild', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json<{ added: string[] }>().added.sort(), [...ids].sort());
    const afterList = (await ws.run(['list', '--json'])).json<{ id: string; size: number; status: string; target: string }[]>();
    const pick = (l: typeof before) => l.map((b) => ({ id: b.id, size: b.size, status: b.status, target: b.target }));
    assert.deepEqual(pick(afterList), pick(before));
    const contents = await ws.run(['contents', ids[0]!, '--json']);
    assert.equal(contents.json<{ databases: { tables: { rows: number }[] }[] }>().databases[0]!.tables[0]!.rows, 2000);
  });
});
