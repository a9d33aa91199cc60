// Known secrets (a database password, an S3 key, webhook secrets, an n8n API key, a user's
// password, an API token) set in the file and over the API: after a whole session of API use
// none appears in any response body or header, the server's log, an audit row, or the catalog
// files in clear. Every change is in the audit log; the chain verifies, and altering one row in
// the SQLite file makes `lifeboat audit verify` fail naming that row.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { startReceiver } from '../support/receiver.ts';
import { seedShop } from '../support/seed.ts';
import { addToken, addUser, call, signIn, startServe, type Answer, type Caller, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const S3_SECRET = 'S3secretKEYneverShown0123456789abcdef';
const HOOK_SECRET = 'hook-secret-in-the-file-7Yq2';
const API_HOOK_SECRET = 'hook-secret-made-over-the-api-9Xw4';
const N8N_KEY = 'n8n-api-key-never-shown-Zk31';
const PASSWORD = 'an admin password 4 tests';

describe('secrets and the audit log over HTTP', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let db: string;
  let token: string;
  const answers: { what: string; a: Answer }[] = [];
  const secrets = () => [suite.server.password, S3_SECRET, HOOK_SECRET, API_HOOK_SECRET, N8N_KEY, PASSWORD, token];

  const req = async (what: string, method: string, p: string, o: Caller & { body?: unknown } = {}) => {
    const a = await call(serve.url, method, p, o);
    answers.push({ what, a });
    return a;
  };

  before(async () => {
    ws = suite.workspace();
    receiver = await startReceiver();
    db = await suite.server.createDatabase('secrets');
    await seedShop(suite.server, db, 1);
    ws.writeConfig(`storages:
  local: { type: local, path: ${ws.storage} }
  s3: { type: s3, bucket: unused, endpoint: "http://127.0.0.1:9", accessKeyId: AKIDEXAMPLE, secretAccessKey: "${S3_SECRET}" }
targets:
  app:
    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }
    storage: local
    n8n: { url: "http://127.0.0.1:9", apiKey: "${N8N_KEY}" }
notifications:
  hook: { type: webhook, url: "${receiver.url}/file", secret: "${HOOK_SECRET}" }
`);
    await addUser(ws, 'admin', 'admin', PASSWORD);
    token = await addToken(ws, 'ci', ['admin'], 'admin');
    serve = await startServe(ws);
  });

  after(async () => {
    await serve?.stop();
    await receiver?.stop();
  });

  test('a session of API use leaks no secret anywhere', async () => {
    const admin = await signIn(serve.url, 'admin', PASSWORD);
    const metricsToken = (await req('token for metrics', 'POST', '/api/v1/tokens', { session: admin, body: { name: 'prom', scopes: ['metrics'] } })).json<{ token: string }>().token;
    answers.pop(); // the one answer that shows a token, once, by design
    const made = await req('create storage', 'POST', '/api/v1/storages', { session: admin, body: { name: 'more', config: { type: 'local', path: path.join(ws.dir, 'more') } } });
    assert.equal(made.status, 201, made.text);
    const ch = await req('create channel', 'POST', '/api/v1/channels', { session: admin, body: { name: 'apihook', config: { type: 'webhook', url: `${receiver.url}/api`, secret: API_HOOK_SECRET } } });
    assert.equal(ch.status, 201, ch.text);
    assert.equal(ch.json<{ config: { secret: string } }>().config.secret, 'set');
    const tgt = await req('create target', 'POST', '/api/v1/targets', { session: admin, body: { name: 'api-app', config: { postgres: { url: suite.server.urlFor(db), databases: [db] }, storage: 'more' } } });
    assert.equal(tgt.status, 201, tgt.text);
    for (const kind of ['targets', 'storages', 'channels']) {
      const list = await req(`list ${kind}`, 'GET', `/api/v1/${kind}`, { token });
      assert.equal(list.status, 200, list.text);
      for (const item of list.json<{ items: { name: string; source: string }[] }>().items) {
        assert.equal((await req(`get ${kind}/${item.name}`, 'GET', `/api/v1/${kind}/${item.name}`, { token })).status, 200);
      }
    }
    const files = await req('list storages', 'GET', '/api/v1/channels/hook', { token });
    assert.equal(files.json<{ source: string; config: { secret: string } }>().source, 'file');
    assert.equal(files.json<{ config: { secret: string } }>().config.secret, 'set');
    assert.equal((await req('test channel', 'POST', '/api/v1/channels/apihook/test', { token })).status, 200);
    assert.equal((await req('test target', 'POST', '/api/v1/targets/api-app/test', { token })).status, 200);
    const started = await req('backup', 'POST', '/api/v1/targets/api-app/backups', { token });
    assert.equal(started.status, 202, started.text);
    const jobId = started.json<{ jobId: string }>().jobId;
    for (let i = 0; i < 120; i++) {
      const j = await req('job', 'GET', `/api/v1/jobs/${jobId}`, { token });
      if (j.json<{ state: string }>().state !== 'running') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const events = await fetch(`${serve.url}/api/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });
    answers.push({ what: 'events', a: { status: events.status, headers: events.headers, text: await events.text(), json: () => ({}) as never } });
    for (const p of ['/api/v1/backups', '/api/v1/status', '/api/v1/events', '/api/v1/jobs', '/api/v1/schedules', '/api/v1/retention', '/api/v1/audit', '/api/v1/restores', '/api/openapi.json']) {
      assert.equal((await req(p, 'GET', p, { token })).status, 200, p);
    }
    const backups = (await req('backups', 'GET', '/api/v1/backups?target=api-app', { token })).json<{ items: { id: string }[] }>().items;
    assert.equal(backups.length, 1);
    assert.equal((await req('show', 'GET', `/api/v1/backups/${backups[0]!.id}`, { token })).status, 200);
    assert.equal((await req('contents', 'GET', `/api/v1/backups/${backups[0]!.id}/contents`, { token })).status, 200);
    const plan = await req('plan', 'POST', '/api/v1/restores', { token, body: { backup: backups[0]!.id, dryRun: true, to: suite.server.urlFor(`${db}_copy`) } });
    assert.equal(plan.status, 200, plan.text);
    const metrics = await req('metrics', 'GET', '/metrics', { token: metricsToken });
    assert.equal(metrics.status, 200, metrics.text);
    assert.match(metrics.text, /lifeboat_last_success_timestamp_seconds\{target="api-app"\}/);
    // A wrong password, a bad body with a secret in it: answered without echoing the secret.
    await req('bad login', 'POST', '/api/v1/session', { body: { name: 'admin', password: HOOK_SECRET } });
    await req('bad body', 'POST', '/api/v1/channels', { session: admin, body: { name: 'x', config: { type: 'webhook', url: 'not a url', secret: API_HOOK_SECRET } } });

    const leaks: string[] = [];
    for (const { what, a } of answers) {
      const text = `${[...a.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n${a.text}`;
      for (const s of secrets()) if (text.includes(s)) leaks.push(`${what} shows ${s.slice(0, 6)}...`);
    }
    await serve.stop();
    for (const s of secrets()) if (serve.output().includes(s)) leaks.push(`the server's log shows ${s.slice(0, 6)}...`);
    for (const f of readdirSync(ws.home)) {
      const file = path.join(ws.home, f);
      if (!f.startsWith('catalog.sqlite') || !existsSync(file)) continue;
      const bytes = readFileSync(file);
      for (const s of secrets()) if (bytes.includes(s)) leaks.push(`${f} holds ${s.slice(0, 6)}... in clear`);
    }
    assert.deepEqual(leaks, []);
  });

  test('every change is in the audit log, and the chain shows an altered row', async () => {
    const rows = await ws.cli(['audit', '--json', '--limit', '1000']);
    assert.equal(rows.code, 0, rows.stderr);
    const entries = (rows.json<{ entries?: { id: number; actor: string; action: string; object: string | null; outcome: string }[] } | { id: number; actor: string; action: string; object: string | null; outcome: string }[]>());
    const list = Array.isArray(entries) ? entries : entries.entries!;
    const has = (action: string, actor: string, object?: string) => list.some((e) => e.action === action && e.actor === actor && (object === undefined || e.object === object));
    assert.ok(has('storage.create', 'admin', 'more'), 'storage.create by admin');
    assert.ok(has('channel.create', 'admin', 'apihook'));
    assert.ok(has('target.create', 'admin', 'api-app'));
    assert.ok(has('backup.start', 'token:ci (admin)', 'api-app'));
    assert.ok(has('session.login', 'admin'));
    assert.ok(list.some((e) => e.action === 'session.login-failed' && e.outcome === 'refused'));
    assert.ok(has('restore.plan', 'token:ci (admin)'));
    // The shell's changes too: the user and the token made with the CLI before the server started.
    assert.ok(list.some((e) => e.action === 'user.create' && e.object === 'admin' && e.actor.startsWith('cli:')), 'user add is audited');
    assert.ok(list.some((e) => e.action === 'token.create' && e.object === 'ci' && e.actor.startsWith('cli:')), 'token create is audited');
    // In process (ws.run): audit/chain.test.ts sees both exits from a process of its own.
    const verify = await ws.run(['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const victim = list.find((e) => e.action === 'target.create')!.id;
    const sqlite = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
    sqlite.prepare("update audit set actor = 'someone else' where id = ?").run(victim);
    sqlite.close();
    const broken = await ws.run(['audit', 'verify']);
    assert.equal(broken.code, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout + broken.stderr, new RegExp(`\\b${victim}\\b`));
  });
});
