import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

/** A database with one table, a workspace backing it up, and one backup; then the live table gains a column. */
async function drifted(): Promise<{ ws: Workspace; db: string; id: string }> {
  const db = await suite.server.createDatabase('exits');
  await suite.server.query(db, 'create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 100) g');
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
  // The fixture's backup in process (ws.run): the exits this file checks are the spawned runs'.
  const b = await ws.run(['backup', 'app', '--json']);
  assert.equal(b.code, 0, b.stderr);
  await suite.server.query(db, 'alter table items add column note text');
  return { ws, db, id: b.json<{ id: string }>().id };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('exit codes', () => {
  test('a plan refusal exits 3 and names each failed check once; --force goes ahead', async () => {
    const { ws, db, id } = await drifted();
    const r = await ws.cli(['restore', id, '--yes']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /^error: restore refused: schema of \S+: public\.items has other columns now\nhint: pass --force to restore anyway/m);
    assert.equal(count(r.stdout + r.stderr, 'has other columns now'), 1, `the failed check is said once:\n${r.stderr}`);
    const [cols] = await suite.server.query<{ n: string }>(db, "select count(*) as n from information_schema.columns where table_name = 'items'");
    assert.equal(Number(cols!.n), 3, 'nothing was restored');

    const forced = await ws.cli(['restore', id, '--yes', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warn: check FAILED, overridden by --force: schema of /);
  });

  test('--dry-run that the real run would refuse exits 3; with --force it exits 0; each check line once', async () => {
    const { ws, id } = await drifted();
    const r = await ws.cli(['restore', id, '--dry-run']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /WARN {2}schema of \S+: public\.items has other columns now/);
    assert.match(r.stderr, /error: dry run: the restore would be refused by 1 failed check\(s\): schema of \S+\nhint: pass --force/);
    const all = r.stdout + r.stderr;
    assert.equal(count(all, 'has other columns now'), 1, `the failed check is printed once:\n${all}`);
    assert.equal(count(all, 'checksums: all'), 1, `a passing check is printed once:\n${all}`);

    // The same refusal as JSON: its exit code is the spawned run's above; in process here.
    const json = await ws.run(['restore', id, '--dry-run', '--json']);
    assert.equal(json.code, 3);
    const body = json.json<{ plan: { checks: { name: string; ok: boolean }[] }; refused: { code: string; message: string } }>();
    assert.equal(body.refused.code, 'E_RESTORE_CHECK');
    assert.match(body.refused.message, /restore refused: schema of/);

    const forced = await ws.cli(['restore', id, '--dry-run', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(forced.stderr, /would be refused/);
  });

  test('a lock held by another operation exits 4', async () => {
    const { ws } = await drifted();
    const catalog = Catalog.open(ws.home);
    try {
      catalog.createJob({ id: 'other-backup', kind: 'backup', target: 'app', trigger: 'manual' });
      catalog.acquireLock('backup:app', 'other-backup', 'a backup of target "app"');
      const r = await ws.cli(['backup', 'app']);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /cannot start a backup of target "app": a backup job holds the backup:app lock/);
      const j = await ws.run(['backup', 'app', '--json']);
      assert.equal(j.code, 4);
      assert.equal(j.json<{ error: { code: string } }>().error.code, 'E_LOCKED');
    } finally {
      catalog.releaseLock('backup:app', 'other-backup');
      catalog.close();
    }
  });

  test('a bad config exits 2', async () => {
    const ws = suite.workspace();
    ws.writeConfig('storages:\n  local: { type: local }\ntargets: {}\n');
    const r = await ws.cli(['list']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error: .*storages\.local/m);
  });

  test('--quiet prints nothing on success, and everything (with the error) on failure', async () => {
    const { ws, id } = await drifted();
    const ok = await ws.cli(['backup', 'app', '--quiet']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, '');
    assert.equal(ok.stderr, '');
    const list = await ws.cli(['list', '-q']);
    assert.equal(list.code, 0);
    assert.equal(list.stdout + list.stderr, '');
    const json = await ws.run(['list', '--quiet', '--json']);
    assert.equal(json.json<unknown[]>().length, 2, '--json output is asked for explicitly: --quiet leaves it');

    const refused = await ws.cli(['restore', id, '--dry-run', '--quiet']);
    assert.equal(refused.code, 3);
    assert.match(refused.stdout, /WARN {2}schema of /, 'a refused dry run shows its plan even with --quiet');
    assert.match(refused.stderr, /would be refused/);
  });

  test('progress lines only on a terminal: a backup into a pipe logs its steps without progress noise', async () => {
    const { ws } = await drifted();
    const r = await ws.cli(['backup', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /progress:|\r/);
    assert.ok(!r.stderr.includes('\u001b'), 'no terminal escapes');
    assert.match(r.stderr, /dumped \S+: 1 tables/);
  });
});
