// `lifeboat restore --remote`: the bundle uploaded over SFTP to a real sshd on loopback and
// restored there by its own restore.sh into a second, fresh cluster and a temp files root.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { parseSummary } from '../../src/jobs/restore-remote-report.ts';
import { parseRemote, SshSession } from '../../src/jobs/restore-remote-ssh.ts';
import { LifeboatError } from '../../src/errors.ts';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { startTestSshd, type TestSshd } from '../support/sshd.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
let target: TestServer;
let sshd: TestSshd;
before(async () => {
  [target, sshd] = await Promise.all([startTestServer(), startTestSshd()]);
});
after(async () => {
  await Promise.all([target?.stop(), sshd?.stop()]);
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Every file under `dir`, recursively (the remote's side: sshd runs on this machine). */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((f) => lstatSync(f).isFile());
}

/** The target's databases (by oid) and roles: what a refusal must leave as it was. */
async function serverState(server: TestServer): Promise<string> {
  const [row] = await server.query<{ s: string }>('postgres', "select (select string_agg(datname || ':' || oid, ',' order by datname) from pg_database) || ' ' || (select string_agg(rolname, ',' order by rolname) from pg_roles) as s");
  return row!.s;
}

const BIN = fileURLToPath(new URL('../../bin/lifeboat.js', import.meta.url));

/** Runs the CLI on a pseudo-terminal (util-linux `script`) and types `answer` at the question. */
function onTerminal(ws: Workspace, args: string[], answer: string): Promise<{ code: number | null; output: string }> {
  const quote = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`;
  const child = spawn('script', ['-qec', [process.execPath, BIN, ...args].map(quote).join(' '), '/dev/null'], {
    cwd: ws.dir, env: { ...process.env, LIFEBOAT_CONFIG: ws.config, LIFEBOAT_HOME: ws.home }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let typed = false;
  const read = (d: Buffer) => {
    output += d.toString();
    if (!typed && output.includes('Type RESTORE to continue:')) {
      typed = true;
      child.stdin.write(`${answer}\r`);
    }
  };
  child.stdout.on('data', read);
  child.stderr.on('data', read);
  // The terminal's carriage returns and cursor moves (readline, the progress bar) go.
  // eslint-disable-next-line no-control-regex
  const plain = (text: string) => text.replace(/\r|\x1b\[[0-9;]*[A-Za-z]/g, '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output: plain(output) })));
}

describe('restore --remote', () => {
  let ws: Workspace;
  let shop: string;
  let id: string;
  let manifest: Manifest;
  /** The parent of the remote work directories. */
  let remoteDir: string;
  const remote = () => `ssh://${os.userInfo().username}@127.0.0.1:${sshd.port}`;
  const ssh = () => ['--remote', remote(), '--ssh-key', String(sshd.storage.privateKey), '--remote-dir', remoteDir];

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('shop');
    await seedShop(suite.server, shop);
    const app = path.join(ws.dir, 'app');
    mkdirSync(path.join(app, 'media'), { recursive: true });
    writeFileSync(path.join(app, '.env'), 'SECRET=1\n');
    chmodSync(path.join(app, '.env'), 0o600);
    writeFileSync(path.join(app, 'media', 'photo.jpg'), Buffer.alloc(50_000, 3));
    symlinkSync('photo.jpg', path.join(app, 'media', 'latest.jpg'));
    ws.writeConfig(`storages:
  local: { type: local, path: ${ws.storage} }
targets:
  app:
    postgres: { url: "${suite.server.urlFor(shop)}", databases: [${shop}] }
    files:
      config: [${app}/.env]
      media: [${app}/media]
    storage: local
`);
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    id = r.json<{ id: string }>().id;
    const catalog = Catalog.open(ws.home);
    manifest = catalog.getManifest(id)!;
    catalog.close();
    remoteDir = mkdtempSync(path.join(ws.dir, 'remote-'));
  });

  test('restores databases and files on the remote: row counts and checksums match, the work directory is removed, history and audit record it without the password', async () => {
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    const url = target.urlFor('postgres');
    assert.ok(url.includes(target.password));
    const r = await ws.run(['restore', id, ...ssh(), '--host-key', sshd.fingerprint, '--remote-url', url, '--files-root', root, '--yes']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /All members match manifest\.json/, 'restore.sh --check ran first');
    assert.match(r.stdout, new RegExp(`database  ${shop}: create and restore \\(3 tables, 6000 rows\\)`), 'its plan is shown');
    assert.match(r.stdout, /The restore is whole/);
    assert.match(r.stdout, new RegExp(`restore of ${id} on ${remote().replace(/[.]/g, '\\.')}: WHOLE \\(restore\\.sh exit 0\\)`));
    assert.match(r.stdout, new RegExp(` {2}ok {6}database ${shop} +3 tables, 6000 rows: every row count matches`));
    assert.match(r.stderr, /uploaded .* in [\d.]+ s/);

    assert.deepEqual(await tableFingerprints(target, shop), await tableFingerprints(suite.server, shop));
    for (const f of manifest.files) {
      const dest = path.join(root, f.path);
      if (f.type === 'file') assert.equal(sha256(dest), f.sha256, f.path);
      if (f.type === 'symlink') assert.equal(readlinkSync(dest), f.linkTarget);
    }
    assert.ok(manifest.files.some((f) => f.type === 'symlink'));
    assert.deepEqual(readdirSync(remoteDir), [], 'the remote work directory is removed');

    const restores = (await ws.run(['restores', '--json'])).json<{ backupId: string; status: string; plan: { remote: string; url: string }; report: { whole: boolean } }[]>();
    assert.equal(restores[0]!.backupId, id);
    assert.equal(restores[0]!.status, 'succeeded');
    assert.equal(restores[0]!.plan.remote, remote());
    assert.equal(restores[0]!.report.whole, true);
    assert.match(restores[0]!.plan.url, /postgres:\/\/postgres:\*\*\*@127\.0\.0\.1/);
    const audit = (await ws.run(['audit', '--action', 'restore.run', '--json'])).json<{ object: string; outcome: string; detail: { request: { remote: string } } }[]>();
    assert.equal(audit[0]!.object, id);
    assert.equal(audit[0]!.outcome, 'ok');
    assert.equal(audit[0]!.detail.request.remote, remote());
    const catalogFiles = readdirSync(ws.home).filter((f) => f.startsWith('catalog')).map((f) => readFileSync(path.join(ws.home, f)).toString('latin1'));
    assert.ok(catalogFiles.length > 0);
    for (const text of [r.stdout, r.stderr, ...catalogFiles]) assert.equal(text.includes(target.password), false, 'the password never shows');
  });

  test('restore.sh --check refuses a database that exists (no --clean): the reason is shown, exit 3, nothing changed; --clean --jobs 2 passes through', async () => {
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    const before = await serverState(target);
    await target.query(shop, 'delete from sales.orders where id % 2 = 0');
    const args = ['restore', id, ...ssh(), '--host-key', sshd.fingerprint, '--remote-url', target.urlFor('postgres'), '--files-root', root, '--yes'];
    const r = await ws.run(args);
    assert.equal(r.code, 3, r.stderr + r.stdout);
    assert.match(r.stderr, new RegExp(`${shop} exists on the server: pass --clean`));
    assert.match(r.stderr, /Refused: 1 check\(s\) failed; nothing was changed/);
    assert.match(r.stderr, new RegExp(`error: restore\\.sh --check on ssh://.* refused: FAILED database ${shop} exists on the server`));
    assert.equal(await serverState(target), before);
    assert.deepEqual(readdirSync(root), [], 'no file written');
    assert.deepEqual(readdirSync(remoteDir), [], 'the remote work directory is removed');
    const restores = (await ws.run(['restores', '--json'])).json<unknown[]>();
    assert.equal(restores.length, 1, 'a refused plan is not a restore');

    const clean = await ws.run([...args, '--clean', '--jobs', '2', '--only', shop]);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    assert.match(clean.stdout, /joining \d+ parts|Restoring database/);
    assert.deepEqual(await tableFingerprints(target, shop), await tableFingerprints(suite.server, shop));
  });

  test('an unknown host key is refused with how to accept it; a host in known_hosts is accepted (a dry run: the plan, nothing changed)', async () => {
    const empty = path.join(ws.dir, 'known_hosts_empty');
    writeFileSync(empty, '');
    const r = await ws.run(['restore', id, ...ssh(), '--known-hosts', empty, '--remote-url', target.urlFor('postgres'), '--yes']);
    assert.equal(r.code, 3, r.stderr);
    assert.ok(r.stderr.includes(`[127.0.0.1]:${sshd.port} is not a known host (its key is ${sshd.fingerprint}): nothing was sent`), r.stderr);
    assert.ok(r.stderr.includes(`pass --host-key ${sshd.fingerprint}, or add the host to ${empty} (ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${empty})`), r.stderr);
    assert.deepEqual(readdirSync(remoteDir), []);

    const known = path.join(ws.dir, 'known_hosts');
    writeFileSync(known, `${sshd.knownHostsLine}\n`);
    const before = await serverState(target);
    const dry = await ws.run(['restore', id, ...ssh(), '--known-hosts', known, '--remote-url', target.urlFor('postgres'), '--clean', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr + dry.stdout);
    assert.match(dry.stdout, new RegExp(`database  ${shop}: DROP the existing database, create and restore \\(--clean\\)`));
    assert.match(dry.stdout, /dry run: restore\.sh --check on .* passed \(plan above\); nothing was changed/);
    assert.equal(await serverState(target), before);
    assert.deepEqual(readdirSync(remoteDir), []);
  });

  test('on a terminal it asks for RESTORE after the plan: another answer restores nothing (exit 2), RESTORE goes ahead', async () => {
    const root = mkdtempSync(path.join(ws.dir, 'root-'));
    const args = ['restore', id, ...ssh(), '--host-key', sshd.fingerprint, '--files-root', root, '--only-files', 'config'];
    const no = await onTerminal(ws, args, 'no');
    assert.equal(no.code, 2, no.output);
    assert.match(no.output, /files {5}set\(s\) config under/);
    assert.match(no.output, /Type RESTORE to continue: no/);
    assert.match(no.output, /not confirmed: nothing was restored on ssh:/);
    assert.deepEqual(readdirSync(root), []);
    assert.deepEqual(readdirSync(remoteDir), []);

    const yes = await onTerminal(ws, args, 'RESTORE');
    assert.equal(yes.code, 0, yes.output);
    const env = manifest.files.find((f) => f.set === 'config')!;
    assert.equal(sha256(path.join(root, env.path)), env.sha256);
  });

  test('without a terminal and without --yes: exit 2, nothing sent', async () => {
    const r = await ws.cli(['restore', id, ...ssh(), '--host-key', sshd.fingerprint, '--remote-url', target.urlFor('postgres')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /a restore onto ssh:\/\/.* changes that server, and there is no terminal to confirm it on/);
    assert.match(r.stderr, /pass --yes to confirm/);
    assert.deepEqual(readdirSync(remoteDir), []);
  });

  test('a partial restore (pg_restore fails there) exits 1, keeps the work directory and says how to finish; restore.sh run there again finishes it', async () => {
    const fake = mkdtempSync(path.join(ws.dir, 'fake-'));
    writeFileSync(path.join(fake, 'pg_restore'), '#!/bin/bash\nfor a in "$@"; do case $a in --version|-l|--list) exec /usr/bin/pg_restore "$@" ;; esac; done\necho "pg_restore: simulated failure" >&2\nexit 1\n');
    chmodSync(path.join(fake, 'pg_restore'), 0o755);
    const flaky = await startTestSshd({ config: [`SetEnv PATH=${fake}:/usr/bin:/bin`] });
    after(() => flaky.stop());
    const user = os.userInfo().username;
    const r = await ws.run(['restore', id, '--remote', `ssh://${user}@127.0.0.1:${flaky.port}`, '--ssh-key', String(flaky.storage.privateKey), '--host-key', flaky.fingerprint,
      '--remote-dir', remoteDir, '--remote-url', target.urlFor('postgres'), '--only', shop, '--clean', '--yes']);
    assert.equal(r.code, 1, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`FAILED\\s+database ${shop}`));
    assert.match(r.stderr, new RegExp(`error: the restore on ssh://${user}@127\\.0\\.0\\.1:${flaky.port} is PARTIAL \\(restore\\.sh exit 1\\): database ${shop} failed`));
    assert.ok(r.stderr.includes(`finish it there: ssh -p ${flaky.port} ${user}@127.0.0.1 'bash `), r.stderr);
    assert.match(r.stderr, /\(with PGPASSWORD set there: the URL's password is not shown\)/);
    const hint = r.stderr.split('\n').find((l) => l.startsWith('hint: '))!;
    assert.ok(hint.includes(target.urlFor('postgres', { password: '' })), hint);
    assert.doesNotMatch(hint, /\*\*\*/, 'the command runs as given: no placeholder password in it');
    assert.equal(r.stderr.includes(target.password), false);
    const [work] = readdirSync(remoteDir);
    assert.ok(work, 'the work directory stays for the re-run');
    const restores = (await ws.run(['restores', '--json'])).json<{ status: string; error: string }[]>();
    assert.equal(restores[0]!.status, 'failed');
    assert.match(restores[0]!.error, /PARTIAL/);

    // What the hint says, run there (sshd serves this machine) with the real pg_restore.
    const bundle = path.join(remoteDir, work, 'bundle');
    const again = spawnSync('bash', [path.join(bundle, 'restore.sh'), '--url', target.urlFor('postgres', { password: '' }), '--clean', '--only', shop], { env: { PATH: '/usr/bin:/bin', PGPASSWORD: target.password }, encoding: 'utf8' });
    assert.equal(again.status, 0, again.stderr + again.stdout);
    assert.match(again.stdout, /The restore is whole/);
    assert.deepEqual(await tableFingerprints(target, shop), await tableFingerprints(suite.server, shop));
    rmSync(path.join(remoteDir, work), { recursive: true, force: true });
  });

  test('local-only options do not go with --remote, nor remote ones without it', async () => {
    let r = await ws.run(['restore', id, ...ssh(), '--to', target.urlFor('x'), '--yes']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--to does not go with --remote/);
    r = await ws.run(['restore', id, '--clean', '--files-root', '/']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--files-root, --clean go with --remote/);
  });
});

test('an encrypted bundle is decrypted here (and decompressed for a remote without zstd): the remote gets plain members and never the identity; a damaged copy restores nothing', async () => {
  const ws = suite.workspace();
  const db = await suite.server.createDatabase('sealed');
  await suite.server.query(db, "create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 500) g");
  const identity = await generateIdentity();
  const keyFile = path.join(ws.dir, 'key.txt');
  writeFileSync(keyFile, identity + '\n');
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  sealed:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    encryption: { recipients: [${await identityToRecipient(identity)}], identityFile: ${keyFile} }\n`);
  const b = await ws.run(['backup', 'sealed', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const { id, key } = b.json<{ id: string; key: string }>();
  assert.ok(key.endsWith('.tar.zst.age'));
  // A remote whose PATH lacks zstd: the bundle travels as a plain tar, decompressed here too.
  const bare = mkdtempSync(path.join(ws.dir, 'bin-'));
  for (const d of ['/usr/bin', '/bin']) {
    for (const name of readdirSync(d)) {
      if (/zstd|^age/.test(name) || existsSync(path.join(bare, name))) continue;
      symlinkSync(path.join(d, name), path.join(bare, name));
    }
  }
  const noZstd = await startTestSshd({ config: [`SetEnv PATH=${bare}`] });
  after(() => noZstd.stop());
  const remoteDir = mkdtempSync(path.join(ws.dir, 'remote-'));
  const args = ['--remote', `ssh://${os.userInfo().username}@127.0.0.1:${noZstd.port}`, '--ssh-key', String(noZstd.storage.privateKey), '--host-key', noZstd.fingerprint,
    '--remote-url', target.urlFor('postgres'), '--no-owner', '--keep-remote', '--yes'];
  const r = await ws.run(['restore', id, ...args, '--remote-dir', remoteDir]);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stderr, /decrypted here: the identity stays on this machine\) \(decompressed here: the remote has no zstd\) to .*bundle\.tar\n/);
  assert.deepEqual(await tableFingerprints(target, db), await tableFingerprints(suite.server, db));

  const [work] = readdirSync(remoteDir);
  assert.ok(work, '--keep-remote leaves the work directory');
  assert.match(r.stdout, new RegExp(`the unpacked bundle stays in .*${work}`));
  const files = filesUnder(path.join(remoteDir, work));
  const secret = identity.trim();
  for (const f of files) {
    const bytes = readFileSync(f);
    assert.equal(bytes.includes(secret), false, `${f} holds the identity`);
    assert.doesNotMatch(bytes.toString('latin1'), /AGE-SECRET-KEY-1[0-9A-Z]{50}/, `${f} holds an age identity`);
    assert.notEqual(bytes.subarray(0, 18).toString('latin1'), 'age-encryption.org', `${f} is age-encrypted`);
  }
  const dumps = files.filter((f) => f.includes(`${path.sep}databases${path.sep}${db}.dump`));
  assert.ok(dumps.length > 0, files.join('\n'));
  assert.equal(readFileSync(dumps.sort()[0]!).subarray(0, 5).toString(), 'PGDMP', 'the uploaded dump is plain');
  assert.ok(files.some((f) => f.endsWith(`${path.sep}bundle${path.sep}restore.sh`)));

  // A changed stored byte: the upload fails, nothing is restored, the work directory goes.
  await target.query('postgres', `drop database "${db}"`);
  const stored = path.join(ws.storage, key);
  const bytes = readFileSync(stored);
  const mid = bytes.length >> 1;
  bytes[mid] = bytes[mid]! ^ 0xff;
  writeFileSync(stored, bytes);
  const badDir = mkdtempSync(path.join(ws.dir, 'remote-'));
  const bad = await ws.run(['restore', id, ...args.filter((a) => a !== '--keep-remote'), '--remote-dir', badDir]);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, new RegExp(`no good copy of backup ${id}: the copy on local does not match its sha256`));
  assert.deepEqual(readdirSync(badDir), [], 'the remote work directory is removed');
  assert.equal((await target.query('postgres', 'select 1 from pg_database where datname = $1', [db])).length, 0, 'nothing restored');
});

test('an interrupted remote command is killed there, its process group with it', async () => {
  const session = await SshSession.open(parseRemote(`ssh://${os.userInfo().username}@127.0.0.1:${sshd.port}`), { key: String(sshd.storage.privateKey), hostKey: sshd.fingerprint });
  const marker = `lifeboat_sleep_${process.pid}`;
  const alive = () => spawnSync('pgrep', ['-f', marker]).status === 0;
  try {
    const stop = new AbortController();
    const started = Date.now();
    const run = session.exec(`exec bash -c 'sleep 60 # ${marker}
 echo done'`, { signal: stop.signal });
    for (let i = 0; i < 50 && !alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(alive(), 'the command runs');
    stop.abort(new LifeboatError('E_ABORTED', 'interrupted'));
    await assert.rejects(run, /interrupted/);
    session.close(); // as the restore does at once: the kill must not depend on the connection staying
    assert.ok(Date.now() - started < 15_000, 'the abort does not wait for the command');
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(), false, 'the remote command and its children are gone');
  } finally {
    session.close();
  }
});

test('the validation summary is read back from restore.sh\'s output', () => {
  const out = [
    'Restoring',
    '',
    'Summary (3 s)',
    '  ok      roles                        2 created, 1 kept',
    '  FAILED  database a_very_long_database_name_here pg_restore failed (above); a re-run restores it again',
    '  ok      database shop                3 tables, 6000 rows: every row count matches',
    '  ok      files                        4 entries: every sha256 matches',
    'The restore is PARTIAL: fix what failed and run restore.sh again with the same options.',
  ].join('\n');
  assert.deepEqual(parseSummary(out), [
    { state: 'ok', what: 'roles', detail: '2 created, 1 kept' },
    { state: 'FAILED', what: 'database a_very_long_database_name_here', detail: 'pg_restore failed (above); a re-run restores it again' },
    { state: 'ok', what: 'database shop', detail: '3 tables, 6000 rows: every row count matches' },
    { state: 'ok', what: 'files', detail: '4 entries: every sha256 matches' },
  ]);
  assert.deepEqual(parseSummary('no summary here'), []);
});
