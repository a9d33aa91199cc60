import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync,
  symlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { serverBinDirs } from '../../src/postgres/scratch-cluster.ts';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

// restore.sh as a person runs it on a bare machine: unpacked with tar (and age), run under
// `env -i` with only system tools on PATH, into a second, fresh cluster and an empty files root.

const suite = useTestServer();
let target: TestServer;
before(async () => {
  target = await startTestServer();
});
after(async () => {
  await target?.stop();
});

const PG_BIN = serverBinDirs(process.env.PG_BINDIR)[0]!.dir;
const OWNER_UID = 4321;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs restore.sh with an empty environment but PATH (and HOME, which psql wants for nothing). */
function restoreSh(dir: string, args: string[], opts: { path?: string } = {}): Run {
  const r = spawnSync('bash', [path.join(dir, 'restore.sh'), ...args], {
    env: { PATH: opts.path ?? `/usr/bin:/bin:${PG_BIN}` },
    encoding: 'utf8',
    cwd: '/',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function unpack(ws: Workspace, file: string, identityFile?: string): string {
  const out = mkdtempSync(path.join(ws.dir, 'unpacked-'));
  const decrypt = identityFile ? `age -d -i '${identityFile}' '${file}'` : `cat '${file}'`;
  execFileSync('sh', ['-c', `${decrypt} | zstd -dc | tar -x -C '${out}'`]);
  return out;
}

async function backup(ws: Workspace, name: string, yaml: string, partSize?: number): Promise<{ file: string; manifest: Manifest }> {
  ws.writeConfig(yaml);
  const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
  const catalog = Catalog.open(loaded.home);
  try {
    const result = await runBackup(loaded, catalog, name, partSize ? { partSize } : {});
    return { file: path.join(ws.storage, result.key), manifest: result.manifest };
  } finally {
    catalog.close();
  }
}

/** pg_dump --schema-only without the lines that differ from run to run. */
function schema(server: TestServer, db: string): string {
  const out = execFileSync(path.join(PG_BIN, 'pg_dump'), ['--schema-only', '--dbname', server.urlFor(db)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => !/^(--|\\restrict|\\unrestrict)/.test(l)).join('\n');
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What a failed check must leave as it was: the target's databases (by oid) and roles. */
async function serverState(server: TestServer): Promise<string> {
  const dbs = await server.query<{ s: string }>('postgres', "select string_agg(datname || ':' || oid, ',' order by datname) as s from pg_database");
  const roles = await server.query<{ s: string }>('postgres', 'select string_agg(rolname, \',\' order by rolname) as s from pg_roles');
  return `${dbs[0]!.s} ${roles[0]!.s}`;
}

describe('restore.sh', () => {
  let ws: Workspace;
  let dir: string;
  let manifest: Manifest;
  let shop: string;
  let notes: string;
  let shellchecked: Promise<Run>;
  const role = `app_owner_${process.pid}`;

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('shop');
    notes = await suite.server.createDatabase('notes');
    await suite.server.query('postgres', `create role ${role} login`);
    await seedShop(suite.server, shop);
    await suite.server.query(shop, `alter table sales.orders owner to ${role}; grant select on public.customers to ${role}`);
    await suite.server.query(notes, "create table note (id int primary key, body text); insert into note select g, 'note ' || g from generate_series(1, 300) g");
    await suite.server.query('postgres', 'create table if not exists kept_in_postgres (x int); insert into kept_in_postgres values (1), (2), (3)');

    const app = path.join(ws.dir, 'app');
    mkdirSync(path.join(app, 'media', 'sub'), { recursive: true });
    mkdirSync(path.join(app, 'etc'), { recursive: true });
    writeFileSync(path.join(app, '.env'), 'SECRET=1\n');
    chmodSync(path.join(app, '.env'), 0o600);
    utimesSync(path.join(app, '.env'), new Date('2025-01-02T03:04:05Z'), new Date('2025-01-02T03:04:05Z'));
    writeFileSync(path.join(app, 'etc', 'nginx.conf'), 'server {}\n');
    writeFileSync(path.join(app, 'media', 'photo.jpg'), Buffer.alloc(70_000, 7));
    writeFileSync(path.join(app, 'media', 'sub', 'a file with\ttab.txt'), 'odd name');
    symlinkSync('photo.jpg', path.join(app, 'media', 'latest.jpg'));
    writeFileSync(path.join(app, 'owned.txt'), 'not root\'s');
    chownSync(path.join(app, 'owned.txt'), OWNER_UID, OWNER_UID);
    chmodSync(path.join(app, 'media', 'sub'), 0o750);

    const made = await backup(ws, 'full', `storages:
  local: { type: local, path: ${ws.storage} }
targets:
  full:
    postgres: { url: "${suite.server.urlFor('postgres')}", databases: [${shop}, ${notes}, postgres], globals: true }
    files:
      config: [${app}/.env, ${app}/etc]
      media: [${app}/media]
      owned: [${app}/owned.txt]
    storage: local
`, 16 * 1024);
    manifest = made.manifest;
    assert.ok(manifest.postgres!.databases[0]!.dumpMembers.length > 2, 'the shop dump comes in parts');
    dir = unpack(ws, made.file);
    // shellcheck is slow to start: it runs while the restores below do.
    shellchecked = new Promise((resolve) => {
      execFile('shellcheck', ['-s', 'bash', path.join(dir, 'restore.sh')], (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    });
  });

  test('--list shows databases with tables and rows, and file sets with counts and sizes', () => {
    const r = restoreSh(dir, ['--list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${shop}\\s+3\\s+6000\\s`));
    assert.match(r.stdout, new RegExp(`${notes}\\s+1\\s+300\\s`));
    assert.match(r.stdout, /postgres\s+1\s+3\s/);
    assert.match(r.stdout, /media\s+5\s+2\s+68\.3 KiB/);
    assert.match(r.stdout, /owned\s+1\s+1\s+10 B/);
    assert.match(r.stdout, /Roles and tablespaces/);
  });

  test('restores the whole bundle into a fresh cluster and an empty root; refuses a second run without --clean; --clean --jobs 2 restores again', async () => {
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    const url = target.urlFor('postgres');
    const check = restoreSh(dir, ['--check', '--url', url, '--globals', '--files-root', root]);
    assert.equal(check.code, 0, check.stderr + check.stdout);
    assert.match(check.stdout, /All members match manifest\.json/);
    assert.match(check.stdout, new RegExp(`database  ${shop}: create and restore \\(3 tables, 6000 rows\\)`));
    assert.match(check.stdout, /database {2}postgres: restore into the existing, empty database/);
    assert.deepEqual(readdirSync(root), [], '--check writes nothing');

    const run = restoreSh(dir, ['--url', url, '--globals', '--files-root', root]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /The restore is whole/);
    assert.match(run.stdout, new RegExp(`ok\\s+database ${shop}\\s+3 tables, 6000 rows: every row count matches`));
    assert.match(run.stdout, /ok\s+files\s+.*every sha256 matches/);

    for (const db of [shop, notes]) {
      assert.deepEqual(await tableFingerprints(target, db), await tableFingerprints(suite.server, db), db);
      assert.equal(schema(target, db), schema(suite.server, db), `schema of ${db}`);
    }
    assert.deepEqual(await target.query('postgres', 'select x from kept_in_postgres order by x'), [{ x: 1 }, { x: 2 }, { x: 3 }]);
    const [owner] = await target.query<{ o: string }>(shop, "select tableowner as o from pg_tables where tablename = 'orders'");
    assert.equal(owner!.o, role, 'globals came first, so the owner was set');

    for (const f of manifest.files) {
      const dest = path.join(root, f.path);
      const st = lstatSync(dest);
      assert.equal(st.uid, f.uid, `owner of ${f.path}`);
      assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(Date.parse(f.mtime) / 1000), `mtime of ${f.path}`);
      if (f.type === 'file') {
        assert.equal(sha256(dest), f.sha256, f.path);
        assert.equal(st.mode & 0o7777, f.mode, `mode of ${f.path}`);
      } else if (f.type === 'symlink') {
        assert.equal(readlinkSync(dest), f.linkTarget);
      } else {
        assert.ok(st.isDirectory());
        assert.equal(st.mode & 0o7777, f.mode, `mode of ${f.path}`);
      }
    }
    assert.ok(manifest.files.some((f) => f.uid === OWNER_UID));
    assert.equal(existsSync(path.join(dir, '.restore-state')), false, 'a whole run leaves no state');

    const before = await serverState(target);
    const again = restoreSh(dir, ['--url', url, '--globals', '--files-root', root]);
    assert.equal(again.code, 2, again.stdout);
    assert.match(again.stderr, new RegExp(`${shop} exists on the server: pass --clean`));
    assert.match(again.stderr, /postgres holds \d+ relations already: pass --clean/);
    assert.match(again.stderr, /Refused: \d check\(s\) failed; nothing was changed/);
    assert.equal(await serverState(target), before);

    await target.query(shop, 'delete from sales.orders where id % 2 = 0');
    const clean = restoreSh(dir, ['--url', url, '--globals', '--clean', '--jobs', '2', '--files-root', root]);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    assert.match(clean.stdout, /joining \d+ parts/);
    assert.deepEqual(await tableFingerprints(target, shop), await tableFingerprints(suite.server, shop));
    assert.equal(existsSync(path.join(dir, '.restore-joined.dump')), false, 'the joined dump is removed');
  });

  test('--check refuses a damaged member, a missing or too old tool and an unreachable server, changing nothing', async () => {
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    const url = target.urlFor('postgres');
    // With --clean: had the checks passed, the databases would have been dropped.
    const args = ['--url', url, '--globals', '--clean', '--files-root', root];
    const before = await serverState(target);
    const unchanged = async (what: string) => {
      assert.equal(await serverState(target), before, `${what}: the server is unchanged`);
      assert.deepEqual(readdirSync(root), [], `${what}: no file written`);
    };

    const damaged = mkdtempSync(path.join(ws.dir, 'damaged-'));
    cpSync(dir, damaged, { recursive: true });
    const part = manifest.postgres!.databases[0]!.dumpMembers[1]!;
    const bytes = readFileSync(path.join(damaged, part));
    bytes[100] = bytes[100]! ^ 0xff;
    writeFileSync(path.join(damaged, part), bytes);
    let r = restoreSh(damaged, args);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /FAILED\s+members\s+1 member\(s\) do not match manifest\.json/);
    assert.ok(r.stderr.includes(`${part}: FAILED`), r.stderr);
    await unchanged('damaged member');

    // PATH with every system tool but the PostgreSQL ones.
    const bare = mkdtempSync(path.join(ws.dir, 'bin-'));
    for (const d of ['/usr/bin', '/bin']) {
      for (const name of readdirSync(d)) {
        if (/^(psql|pg_|createdb|dropdb)/.test(name) || existsSync(path.join(bare, name))) continue;
        symlinkSync(path.join(d, name), path.join(bare, name));
      }
    }
    r = restoreSh(dir, ['--check', ...args], { path: bare });
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /psql is not installed \(or not on PATH\): install the PostgreSQL 15 client tools/);
    assert.match(r.stderr, /Debian\/Ubuntu: apt-get install postgresql-client-15.*RHEL\/Fedora: dnf install postgresql15.*Alpine: apk add postgresql15-client/);
    await unchanged('missing tool');

    const fake = mkdtempSync(path.join(ws.dir, 'fake-'));
    writeFileSync(path.join(fake, 'pg_restore'), '#!/bin/sh\necho "pg_restore (PostgreSQL) 11.22"\n');
    chmodSync(path.join(fake, 'pg_restore'), 0o755);
    r = restoreSh(dir, args, { path: `${fake}:/usr/bin:/bin:${PG_BIN}` });
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /pg_restore 11\.22 \(.*fake.*\) is older than the dump's pg_dump 15\.\d+ and cannot read it: install the PostgreSQL 15 client tools/);
    assert.match(r.stderr, /or put \/usr\/lib\/postgresql\/\d+\/bin first on PATH/);
    await unchanged('old pg_restore');

    r = restoreSh(dir, ['--check', '--url', 'postgres://postgres@127.0.0.1:1/postgres', '--clean', '--files-root', root]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /FAILED\s+server\s+cannot connect to postgres:\/\/postgres@127\.0\.0\.1:1\/postgres \(database postgres\): .*(refused|failed)/);
    await unchanged('unreachable server');
  });

  test('refuses entries that would leave the files root: under a symlink there, or with ".."', async () => {
    const outside = mkdtempSync(path.join(ws.dir, 'outside-'));
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    // The first directory of every path is a link out of the root.
    const first = manifest.files[0]!.path.split('/')[1]!;
    symlinkSync(outside, path.join(root, first));
    let r = restoreSh(dir, ['--no-databases', '--files-root', root]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /FAILED\s+files\s+\d+ entries would leave .* or cannot be written safely/);
    assert.match(r.stderr, /a symlink on this system: a restore never writes through a link/);
    assert.deepEqual(readdirSync(outside), []);

    // A forged index (its checksum fixed in manifest.json) with a path that climbs out.
    const forged = mkdtempSync(path.join(ws.dir, 'forged-'));
    cpSync(dir, forged, { recursive: true });
    const indexFile = path.join(forged, 'metadata/restore-index.tsv');
    const index = readFileSync(indexFile, 'utf8').replace(/\t(\/[^\t]*\/owned\.txt)\t/, (_m, p: string) => `\t${p.replace('/owned.txt', '/../../../escaped.txt')}\t`);
    assert.match(index, /escaped\.txt/);
    const oldSum = sha256(indexFile);
    writeFileSync(indexFile, index);
    const manifestFile = path.join(forged, 'manifest.json');
    writeFileSync(manifestFile, readFileSync(manifestFile, 'utf8').replace(oldSum, sha256(indexFile)));
    const clean = mkdtempSync(path.join(ws.dir, 'root-'));
    r = restoreSh(forged, ['--no-databases', '--files-root', clean]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /owned:.*escaped\.txt' is not a plain absolute path/);
    assert.deepEqual(readdirSync(clean), []);

    // The same bundle, the forged set left out: the others restore.
    r = restoreSh(forged, ['--no-databases', '--files-root', clean, '--only-files', 'config']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const restored = manifest.files.filter((f) => existsSync(path.join(clean, f.path))).map((f) => f.set);
    assert.deepEqual([...new Set(restored)], ['config']);
  });

  test('a run that fails part-way is finished by a re-run with the same options, without --clean', async () => {
    // Into the target again, without the databases the first test restored there.
    const fresh = target;
    for (const db of [shop, notes]) await fresh.query('postgres', `drop database if exists "${db}" with (force)`);
    {
      const root = mkdtempSync(path.join(ws.dir, 'root-'));
      // A pg_restore that fails on its second database (after loading part of it).
      const fake = mkdtempSync(path.join(ws.dir, 'flaky-'));
      writeFileSync(path.join(fake, 'pg_restore'), `#!/bin/bash
[ "$1" = --version ] && exec ${PG_BIN}/pg_restore --version
n=$(cat ${fake}/count 2>/dev/null || echo 0); echo $((n + 1)) > ${fake}/count
if [ "$n" = 1 ]; then ${PG_BIN}/pg_restore "$@"; exit 1; fi
exec ${PG_BIN}/pg_restore "$@"
`);
      chmodSync(path.join(fake, 'pg_restore'), 0o755);
      const args = ['--url', fresh.urlFor('postgres'), '--globals', '--only', shop, '--only', notes, '--files-root', root];
      const first = restoreSh(dir, args, { path: `${fake}:/usr/bin:/bin:${PG_BIN}` });
      assert.equal(first.code, 1, first.stderr + first.stdout);
      assert.match(first.stdout, new RegExp(`FAILED\\s+database ${notes}`));
      assert.match(first.stdout, /The restore is PARTIAL/);
      assert.deepEqual(readdirSync(root), [], '--only without --only-files restores no files');

      const second = restoreSh(dir, args);
      assert.equal(second.code, 0, second.stderr + second.stdout);
      assert.match(second.stdout, new RegExp(`database  ${shop}: restored by an earlier run; kept, validated again`));
      assert.match(second.stdout, new RegExp(`database  ${notes}: an earlier run stopped while restoring it: drop it and restore again`));
      assert.deepEqual(await tableFingerprints(fresh, notes), await tableFingerprints(suite.server, notes));
      assert.deepEqual(await tableFingerprints(fresh, shop), await tableFingerprints(suite.server, shop));
      assert.equal(existsSync(path.join(dir, '.restore-state')), false, 'the whole re-run removes the state');
    }
  });

  test('is shellcheck-clean', async () => {
    const r = await shellchecked;
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('a bundle without the index (an older Lifeboat) gets a clear message', () => {
    const old = mkdtempSync(path.join(ws.dir, 'old-'));
    cpSync(dir, old, { recursive: true });
    rmSync(path.join(old, 'metadata/restore-index.tsv'));
    const r = restoreSh(old, ['--list']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--list needs metadata\/restore-index\.tsv, which this bundle lacks: it was made by a Lifeboat older than the index/);
  });
});

test('an encrypted bundle: unpacked with the age CLI and restored the same way', async () => {
  const ws = suite.workspace();
  const db = await suite.server.createDatabase('sealed');
  await suite.server.query(db, "create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 500) g");
  const identity = await generateIdentity();
  const keyFile = path.join(ws.dir, 'key.txt');
  writeFileSync(keyFile, identity + '\n');
  const { file } = await backup(ws, 'sealed', `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  sealed:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    encryption: { recipients: [${await identityToRecipient(identity)}] }\n`);
  assert.ok(file.endsWith('.tar.zst.age'));
  const dir = unpack(ws, file, keyFile);
  const r = restoreSh(dir, ['--url', target.urlFor('postgres'), '--no-owner']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.deepEqual(await tableFingerprints(target, db), await tableFingerprints(suite.server, db));
});
