import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import type { DoctorReport } from '../../src/jobs/doctor.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

/** A pid that no process has now: one that just ran and exited. */
const deadPid = () => spawnSync('true').pid!;

describe('lifeboat doctor', () => {
  let ws: Workspace;
  let db: string;
  let tmp: string;
  const env = () => ({ TMPDIR: tmp });
  /** `spawned`: a CLI process of its own; else main() in this process (ws.run), the same checks and exit code. */
  const doctor = async (spawned = false) => {
    const r = await (spawned ? ws.cli : ws.run)(['doctor', '--json'], { env: env() });
    return { ...r, report: r.json<DoctorReport>() };
  };
  const find = (report: DoctorReport, area: string, name: RegExp) => report.checks.find((c) => c.area === area && name.test(c.name));

  before(async () => {
    db = await suite.server.createDatabase('shop');
    ws = suite.workspace();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'doctor-tmp-'));
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    mkdirSync(ws.home, { mode: 0o700 });
    chmodSync(ws.storage, 0o700);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a healthy installation: tools with versions, the server, the storage, modes, no leftovers; exit 0', async () => {
    const { code, report, stderr } = await doctor(true);
    assert.equal(code, 0, JSON.stringify(report.checks.filter((c) => c.status === 'fail')) + stderr);
    assert.equal(report.ok, true);
    assert.match(find(report, 'tools', /PostgreSQL \d+ client tools/)!.detail, /pg_dump \d+\.\d+, pg_restore \d+\.\d+, psql \d+\.\d+ in \//);
    assert.equal(find(report, 'tools', /^zstd$/)?.status, 'ok', 'zstd is the default compression');
    assert.match(find(report, 'servers', /target shop/)!.detail, new RegExp(`PostgreSQL ${suite.server.major}\\.\\d+ at postgres://postgres@127\\.0\\.0\\.1`));
    assert.doesNotMatch(JSON.stringify(report), new RegExp(suite.server.password), 'no password in the report');
    assert.match(find(report, 'storage', /storage local/)!.detail, /reachable \(local\), \d+ objects, .* free of /);
    assert.equal(find(report, 'files', /^home$/)!.status, 'ok');
    assert.equal(find(report, 'resources', /leaked resources/)!.detail, 'none');
    assert.match(find(report, 'daemon', /daemon/)!.detail, /not running/);
    const text = await ws.run(['doctor'], { env: env() });
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^ok {4}servers: target shop: PostgreSQL/m);
    assert.match(text.stdout, /no problems/);
  });

  test('the daemon\'s lease: a live holder is reported running', async () => {
    const catalog = Catalog.open(ws.home);
    catalog.acquireLease('scheduler', `${os.hostname()}:${process.pid}:test`, new Date(), 60_000);
    catalog.close();
    try {
      const { report } = await doctor();
      assert.match(find(report, 'daemon', /daemon/)!.detail, new RegExp(`running: ${os.hostname()}:${process.pid}:test, last heartbeat`));
    } finally {
      const c = Catalog.open(ws.home);
      c.releaseLease('scheduler', `${os.hostname()}:${process.pid}:test`);
      c.close();
    }
  });

  test('what a killed run left is removed by the next command, said once on stderr and as an event', async () => {
    const dir = path.join(ws.home, 'tmp', 'lifeboat-restore-0123456789ab');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'db.dump'), 'x'.repeat(1000));
    const scratch = `${db}_lifeboat_0badc0de`;
    await suite.server.query('postgres', `create database ${scratch}`);
    const catalog = Catalog.open(ws.home);
    const owner = deadPid();
    catalog.addResource({ kind: 'dir', location: dir, ownerPid: owner });
    catalog.addResource({ kind: 'database', location: scratch, server: suite.server.urlFor('postgres', { password: '' }).replace(':@', '@'), ownerPid: owner });
    catalog.close();

    const r = await ws.cli(['list'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warn: removed'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, new RegExp(`removed 2 resource\\(s\\) left by killed Lifeboat process\\(es\\) ${owner}: scratch database ${scratch} on 127\\.0\\.0\\.1:\\d+, temp directory ${dir}`));
    assert.equal(existsSync(dir), false);
    assert.deepEqual(await suite.server.query('postgres', `select 1 from pg_database where datname = '${scratch}'`), []);
    const again = await ws.run(['list'], { env: env() });
    assert.doesNotMatch(again.stderr, /removed/, 'reported once');
    const events = (await ws.run(['events', '--json'], { env: env() })).json<{ kind: string; message: string }[]>();
    assert.equal(events.filter((e) => e.kind === 'resources_reaped').length, 1);
  });

  test('the daemon removes what a killed run left at its next tick', async () => {
    const child = ws.spawnCli(['serve', '--no-api', '--tick', '1'], { env: env() });
    let log = '';
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => re.test(log) && resolve();
        child.stderr!.on('data', (d: Buffer) => {
          log += d.toString();
          check();
        });
        child.once('exit', () => reject(new Error(`serve exited before ${re}: ${log}`)));
        check();
      });
    try {
      await seen(/daemon started/);
      const dir = path.join(ws.home, 'tmp', 'lifeboat-verify-0123456789ab');
      mkdirSync(dir, { recursive: true });
      const catalog = Catalog.open(ws.home);
      catalog.addResource({ kind: 'dir', location: dir, ownerPid: deadPid() });
      catalog.close();
      await seen(new RegExp(`warn: removed 1 resource\\(s\\) left by killed Lifeboat process\\(es\\) \\d+: temp directory ${dir}`));
      assert.equal(existsSync(dir), false);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  test('problems: a leftover nobody owns, one that cannot be removed, an unreachable storage, a home others can read; exit 1', async () => {
    const scratch = `${db}_lifeboat_feedf00d`;
    await suite.server.query('postgres', `create database ${scratch}`);
    const aside = `${db}_lifeboat_old_12345678`;
    await suite.server.query('postgres', `create database ${aside}`);
    const stray = path.join(tmp, 'lifeboat-verify-abc123');
    mkdirSync(stray);
    const catalog = Catalog.open(ws.home);
    // On a server that is not there: the next start cannot drop it and keeps the record.
    catalog.addResource({ kind: 'database', location: 'gone_lifeboat_00000000', server: 'postgres://postgres@127.0.0.1:1/postgres', ownerPid: deadPid() });
    catalog.close();
    chmodSync(ws.home, 0o755);
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\n  gone: { type: local, path: /nonexistent/lifeboat-storage }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    try {
      const { code, report, stderr } = await doctor();
      assert.equal(code, 1);
      assert.equal(report.ok, false);
      assert.match(stderr, /could not remove scratch database gone_lifeboat_00000000 on 127\.0\.0\.1:1/);
      const left = find(report, 'resources', /scratch databases on target shop/)!;
      assert.equal(left.status, 'fail');
      assert.match(left.detail, new RegExp(scratch));
      assert.match(left.hint!, new RegExp(`drop database "${scratch}" with \\(force\\);`));
      assert.doesNotMatch(left.hint!, /_lifeboat_old_/, 'a database set aside by a swap is never offered to be dropped');
      const setAside = find(report, 'resources', /databases set aside on target shop/)!;
      assert.match(setAside.detail, new RegExp(aside));
      assert.match(setAside.hint!, /rename it back/);
      assert.match(find(report, 'resources', /left by killed processes/)!.detail, /scratch database gone_lifeboat_00000000/);
      assert.match(find(report, 'resources', /unrecorded temp files/)!.detail, new RegExp(stray));
      assert.equal(find(report, 'storage', /storage gone/)!.status, 'fail');
      const home = find(report, 'files', /^home$/)!;
      assert.equal(home.status, 'warn');
      assert.match(home.detail, /mode 0755: other users can read it/);
      const text = await ws.cli(['doctor'], { env: env() });
      assert.equal(text.code, 1);
      assert.doesNotMatch(text.stderr, /could not remove/, 'a server that was down is not tried again at once');
      assert.match(text.stdout, /^FAIL {2}resources: left by killed processes: scratch database gone_lifeboat_00000000/m);
      assert.match(text.stdout, /^FAIL {2}resources: scratch databases on target shop: /m);
      assert.match(text.stdout, /\d+ problem\(s\), \d+ warning\(s\)$/m);
    } finally {
      await suite.server.query('postgres', `drop database ${scratch}`);
      await suite.server.query('postgres', `drop database ${aside}`);
      rmSync(stray, { recursive: true });
    }
  });
});
