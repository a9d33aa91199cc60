import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { instanceIdOf, workflowChecksum } from '../../src/profiles/n8n.ts';
import { CREDENTIAL_SECRET, seedN8n } from '../support/n8n.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const KEY = 'n8nKeyV3ryS3cretXq0pA7Lm2Zt9Rw4Ys1';

/** An n8n database and a target on it; the key in a user folder's .n8n/config unless `key: false`. */
async function setup(options: { schema?: string; prefix?: string; key?: boolean } = {}): Promise<{ ws: Workspace; db: string; userFolder: string }> {
  const db = await suite.server.createDatabase('n8n');
  await seedN8n(suite.server, db, options);
  const ws = suite.workspace();
  const userFolder = path.join(ws.dir, 'n8n-home');
  mkdirSync(path.join(userFolder, '.n8n'), { recursive: true });
  if (options.key !== false) writeFileSync(path.join(userFolder, '.n8n', 'config'), JSON.stringify({ encryptionKey: KEY }));
  const n8n = JSON.stringify({ schema: options.schema ?? 'public', tablePrefix: options.prefix ?? '', userFolder, encryptionKeyEnv: 'LIFEBOAT_TEST_NO_SUCH_ENV' });
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  flows:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: n8n\n    n8n: ${n8n}\n`);
  return { ws, db, userFolder };
}

async function backup(ws: Workspace): Promise<{ id: string; key: string; stderr: string }> {
  const r = await ws.run(['backup', 'flows', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { ...r.json<{ id: string; key: string }>(), stderr: r.stderr };
}

describe('n8n profile', () => {
  test('the workflows manifest equals the rows; credentials never leave the dump; the key is found and only its instance id recorded', async () => {
    const { ws, db } = await setup();
    const { id, key, stderr } = await backup(ws);
    assert.match(stderr, /n8n: this bundle holds n8n's encryption key .* UNENCRYPTED: set encryption:/);

    const show = (await ws.run(['show', id, '--json'])).json<{ manifest: Manifest }>();
    const app = show.manifest.app;
    assert.equal(app.profile, 'n8n');
    assert.deepEqual(app.info && { instanceId: app.info.instanceId, keyFound: app.info.keyFound, workflows: app.info.workflows, credentials: app.info.credentials }, { instanceId: instanceIdOf(KEY), keyFound: true, workflows: 3, credentials: 2 });
    assert.deepEqual(app.migrations?.map((m) => m.name), ['InitialMigration1587669153312', 'AddWorkflowHistory1690000000000', 'CreateFolderTable1740000000000']);

    const rows = await suite.server.query<Record<string, unknown>>(db, 'select * from workflow_entity order by id');
    const workflows = app.items.filter((i) => i.kind === 'workflow');
    assert.deepEqual(workflows.map((w) => [w.id, w.name, w.checksum]), rows.map((r) => [r.id, r.name, workflowChecksum(r)]));
    const invoice = workflows.find((w) => w.id === 'wF1nvoiceSync001')!;
    assert.deepEqual(invoice.details, {
      active: true, archived: false, tags: ['billing', 'nightly'], project: 'Operations', folder: 'Billing', nodes: 2,
      triggers: ['n8n-nodes-base.webhook'], credentials: ['cR3dStripe000001'], versionId: 'a3c1e1f0-0000-4000-8000-000000000001', createdAt: '2026-09-01T08:00:00.000Z', versions: [],
    });
    assert.deepEqual(workflows.find((w) => w.id === 'wFn1ghtlyReport2')!.details!.versions, [
      { versionId: 'b3c1e1f0-0000-4000-8000-000000000002', createdAt: '2026-11-19T02:00:00.000Z' },
      { versionId: 'b3c1e1f0-0000-4000-8000-00000000000a', createdAt: '2026-10-01T00:00:00.000Z' },
    ]);
    assert.equal(invoice.updatedAt, '2026-11-20T16:45:12.345Z');
    assert.equal(workflows.find((w) => w.id === 'wFo1dArchived003')!.details!.archived, true);
    const creds = app.items.filter((i) => i.kind === 'credential');
    assert.deepEqual(creds.map((c) => [c.id, c.name, c.details]), [
      ['cR3dSlack0000002', 'Slack bot', { type: 'slackApi', usedBy: ['wFn1ghtlyReport2'] }],
      ['cR3dStripe000001', 'Stripe live', { type: 'stripeApi', usedBy: ['wF1nvoiceSync001'] }],
    ]);

    // The secret is in the dump (n8n's own encrypted column) and nowhere else Lifeboat writes.
    const out = mkdtempSync(path.join(ws.dir, 'unpacked-'));
    execFileSync('sh', ['-c', `zstd -dc '${path.join(ws.storage, key)}' | tar -x -C '${out}'`]);
    const everywhere = [
      readFileSync(path.join(ws.storage, `${key}.manifest.json`), 'utf8'),
      ...readdirSync(out, { recursive: true }).map(String).filter((f) => !f.startsWith('databases')).map((f) => { try { return readFileSync(path.join(out, f), 'latin1'); } catch { return ''; } }),
      // Every file in the home, its tmp/ and keys included.
      ...readdirSync(ws.home, { recursive: true }).map((f) => path.join(ws.home, String(f))).filter((f) => statSync(f).isFile()).map((f) => readFileSync(f, 'latin1')),
      (await ws.run(['contents', id, '--json'])).stdout,
    ].join('\n');
    assert.ok(!everywhere.includes(CREDENTIAL_SECRET), 'credential data leaked outside the dump');
    assert.ok(!everywhere.replace(/"encryptionKey":"[^"]+"/, '').includes(KEY), 'the key appears only in the n8n config file it was backed up from');
    assert.ok(readdirSync(out, { recursive: true }).map(String).some((f) => f.endsWith('.n8n/config')), 'the config file holding the key is in the bundle');
    const workflowsJson = JSON.parse(readFileSync(path.join(out, 'metadata', 'workflows.json'), 'utf8')) as { id: string }[];
    assert.deepEqual(workflowsJson.map((w) => w.id), rows.map((r) => r.id));
  });

  test('contents --workflows lists from the manifest, with --search', async () => {
    const { ws } = await setup();
    const { id } = await backup(ws);
    const all = await ws.run(['contents', id, '--workflows']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /wF1nvoiceSync001 +Invoice sync +yes +2 +billing, nightly +2026-11-20 16:45:12/);
    assert.match(all.stdout, /3 of 3 workflow\(s\)/);
    const found = await ws.run(['contents', id, '--workflows', '--search', 'NIGHTLY', '--json']);
    assert.deepEqual(found.json<{ id: string }[]>().map((w) => w.id), ['wF1nvoiceSync001', 'wFn1ghtlyReport2'], 'by name or tag');
  });

  test('restore --workflow --as-file gives the workflow as the source row, from a schema and table prefix of its own', async () => {
    const { ws, db } = await setup({ schema: 'automation', prefix: 'n8n_' });
    const { id } = await backup(ws);
    const file = path.join(ws.dir, 'flow.json');
    const r = await ws.run(['restore', id, '--workflow', 'Nightly report', '--as-file', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote 1 workflow\(s\) from \S+ to \S+ \(inactive; checksums match the backup\)/);
    const got = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const [row] = await suite.server.query<Record<string, unknown>>(db, `select * from automation.n8n_workflow_entity where id = 'wFn1ghtlyReport2'`);
    for (const k of ['id', 'name', 'nodes', 'connections', 'settings', 'staticData']) assert.deepEqual(got[k], row![k], k);
    assert.equal(got.active, false);
    assert.equal((got.nodes as { parameters: { text: string } }[])[1]!.parameters.text, '=Report: {{ $json.total }}\ttab\\back\nnewline', 'COPY escapes undone');

    const two = await ws.run(['restore', id, '--workflow', 'wF1nvoiceSync001', '--workflow', 'wFo1dArchived003', '--as-file', '-']);
    assert.equal(two.code, 0, two.stderr);
    assert.deepEqual((JSON.parse(two.stdout) as { name: string }[]).map((w) => w.name), ['Invoice sync', 'Old import (ünïcode ✓)']);

    const older = await ws.run(['restore', id, '--workflow', 'Nightly report', '--workflow-version', 'b3c1e1f0-0000-4000-8000-00000000000a', '--as-file', '-']);
    assert.equal(older.code, 0, older.stderr);
    const v = JSON.parse(older.stdout) as { name: string; versionId: string; nodes: { type: string }[] };
    assert.deepEqual([v.name, v.versionId, v.nodes.map((n) => n.type)], ['Nightly report', 'b3c1e1f0-0000-4000-8000-00000000000a', ['n8n-nodes-base.cron']]);
    const noSuch = await ws.run(['restore', id, '--workflow', 'Nightly report', '--workflow-version', 'nope', '--as-file', '-']);
    assert.equal(noSuch.code, 2);
    assert.match(noSuch.stderr, /has no version nope .*\nhint: versions in it, newest first: b3c1e1f0-0000-4000-8000-000000000002, b3c1e1f0-0000-4000-8000-00000000000a/);

    const missing = await ws.run(['restore', id, '--workflow', 'Nope', '--as-file', file]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no workflow "Nope"\nhint: find it with `lifeboat contents .* --workflows --search <text>`/);
  });

  test('credentials without a key found: a warning in the job log and in show', async () => {
    const { ws } = await setup({ key: false });
    const { id, stderr } = await backup(ws);
    assert.match(stderr, /n8n: 2 credential\(s\) are backed up but no encryption key was found/);
    assert.match((await ws.run(['show', id])).stdout, /warning +n8n: 2 credential\(s\) are backed up but no encryption key was found/);
  });
});

describe('n8n: restore a workflow into a running n8n', () => {
  test('--to-n8n creates it through the public API with only the fields the API accepts, renamed and inactive', async () => {
    const { startFakeN8n } = await import('../support/n8n-api.ts');
    const api = await startFakeN8n('n8n_api_test_key');
    try {
      const { ws, db } = await setup();
      const config = readFileSync(ws.config, 'utf8');
      writeFileSync(ws.config, config.replace('"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV"', `"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV","url":"${api.url}","apiKey":"n8n_api_test_key"`));
      const { id } = await backup(ws);
      const r = await ws.run(['restore', id, '--workflow', 'Invoice sync', '--to-n8n']);
      assert.equal(r.code, 0, r.stderr);
      const day = id.slice(6, 14);
      assert.match(r.stdout, new RegExp(`created "Invoice sync_backup_${day}" \\(new1x+\\) in n8n from workflow wF1nvoiceSync001`));
      const [made] = api.created;
      const [row] = await suite.server.query<Record<string, unknown>>(db, `select * from workflow_entity where id = 'wF1nvoiceSync001'`);
      assert.deepEqual(made!.nodes, row!.nodes, 'nodes as in the backup (all their keys are ones the API accepts)');
      assert.deepEqual(made!.connections, row!.connections);
      assert.deepEqual(made!.settings, row!.settings);

      const named = await ws.run(['restore', id, '--workflow', 'wFn1ghtlyReport2', '--to-n8n', '--name', 'Nightly (restored)']);
      assert.equal(named.code, 0, named.stderr);
      assert.equal(api.created[1]!.name, 'Nightly (restored)');

      writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace('"apiKey":"n8n_api_test_key"', '"apiKey":"wrong"'));
      const rejected = await ws.run(['restore', id, '--workflow', 'Invoice sync', '--to-n8n']);
      assert.equal(rejected.code, 1);
      assert.match(rejected.stderr, /n8n at .* rejected the API key \(HTTP 401\)\nhint: .*--as-file/);
    } finally {
      await api.stop();
    }
  });

  test('--to-n8n refuses an untrusted backup without --trust-foreign, and nothing reaches n8n', async () => {
    const { startFakeN8n } = await import('../support/n8n-api.ts');
    const api = await startFakeN8n('n8n_api_test_key');
    try {
      const { ws } = await setup();
      writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace('"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV"', `"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV","url":"${api.url}","apiKey":"n8n_api_test_key"`));
      const { id } = await backup(ws);
      // Another installation (its own key) that rebuilt its catalog from the same storage.
      const other = { LIFEBOAT_HOME: path.join(ws.dir, 'other-home') };
      const rebuilt = await ws.run(['catalog', 'rebuild', '--json'], { env: other });
      assert.equal(rebuilt.code, 0, rebuilt.stderr);
      assert.deepEqual(rebuilt.json<{ untrusted: { id: string }[] }>().untrusted.map((u) => u.id), [id]);

      const refused = await ws.run(['restore', id, '--workflow', 'Invoice sync', '--to-n8n'], { env: other });
      assert.equal(refused.code, 3, refused.stdout + refused.stderr);
      assert.match(refused.stderr, new RegExp(`backup ${id} is untrusted \\(signed with key \\S+, which this installation does not hold\\): it may not have been made by this installation\nhint: pass --trust-foreign`));
      assert.equal(api.created.length, 0, 'nothing was created in n8n');

      const trusted = await ws.run(['restore', id, '--workflow', 'Invoice sync', '--to-n8n', '--trust-foreign'], { env: other });
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.deepEqual(api.created.map((w) => w.name), [`Invoice sync_backup_${id.slice(6, 14)}`]);
    } finally {
      await api.stop();
    }
  });

  test('an unreachable n8n is named, with --as-file offered', async () => {
    const { ws } = await setup();
    const { freePort } = await import('../../src/postgres/scratch-cluster.ts');
    writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace('"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV"', `"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV","url":"http://127.0.0.1:${await freePort()}","apiKey":"k"`));
    const { id } = await backup(ws);
    const r = await ws.run(['restore', id, '--workflow', 'Invoice sync', '--to-n8n']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /n8n at http:\/\/127\.0\.0\.1:\d+ is not reachable \(ECONNREFUSED\)\nhint: write it to a file instead: --as-file/);
  });
});

describe('n8n: execution data', () => {
  test('excludeExecutionData dumps the execution tables schema-only; the restore and its counts agree', async () => {
    const { ws, db } = await setup();
    writeFileSync(ws.config, readFileSync(ws.config, 'utf8').replace('"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV"', '"encryptionKeyEnv":"LIFEBOAT_TEST_NO_SUCH_ENV","excludeExecutionData":true'));
    const { id } = await backup(ws);
    const contents = await ws.run(['contents', id]);
    assert.match(contents.stdout, /public\.execution_entity +\(schema only\)/);
    assert.match(contents.stdout, /public\.workflow_entity +3/);
    const r = await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_lean`), '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const [{ n }] = (await suite.server.query<{ n: string }>(`${db}_lean`, 'select count(*) as n from execution_entity')) as [{ n: string }];
    assert.equal(Number(n), 0, 'the table is there, empty');
    const [{ w }] = (await suite.server.query<{ w: string }>(`${db}_lean`, 'select count(*) as w from workflow_entity')) as [{ w: string }];
    assert.equal(Number(w), 3);
  });
});

describe('n8n: the encryption key at restore', () => {
  test('the plan checks the key here against the instance id the backup recorded', async () => {
    const { ws, db, userFolder } = await setup();
    const { id } = await backup(ws);
    const plan = async () => (await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_keycheck`), '--dry-run'])).stdout;
    assert.match(await plan(), /pass {2}n8n encryption key: the key in .*\.n8n\/config opens the backup's 2 credential\(s\)/);
    writeFileSync(path.join(userFolder, '.n8n', 'config'), JSON.stringify({ encryptionKey: 'a-different-key-altogether' }));
    assert.match(await plan(), /WARN {2}n8n encryption key: the key in .* is not the one the backup's credentials were encrypted with/);
    const refused = await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_keycheck`), '--yes']);
    assert.equal(refused.code, 3, 'refused by the plan');
    assert.match(refused.stderr, /restore refused: n8n encryption key: .*\nhint: pass --force/);
  });
});
