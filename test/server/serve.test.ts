// `lifeboat serve` as an operator meets it: health and readiness, a warning when it listens
// beyond loopback over plain HTTP, HTTPS from server.tls, Prometheus metrics behind a token
// (or public by config), and a graceful stop that ends open event streams.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { seedShop } from '../support/seed.ts';
import { addToken, addUser, call, startServe, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();

describe('lifeboat serve', () => {
  const running: ServeProcess[] = [];
  after(async () => {
    for (const s of running) await s.stop();
  });

  test('health, readiness, and a warning when it listens beyond loopback over plain HTTP', async () => {
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  docs:\n    files:\n      app: [${ws.dir}]\n    storage: local\n`);
    const open = await startServe(ws, { args: ['--listen', '0.0.0.0:0'] });
    running.push(open);
    assert.match(open.output(), /warn: the API listens on 0\.0\.0\.0 over plain HTTP with no trusted proxy/);
    const port = new URL(open.url).port;
    const health = await call(`http://127.0.0.1:${port}`, 'GET', '/healthz');
    assert.deepEqual(health.json(), { ok: true });
    const ready = await call(`http://127.0.0.1:${port}`, 'GET', '/readyz');
    assert.equal(ready.status, 200, ready.text);
    assert.equal(ready.json<{ catalog: string }>().catalog, 'writable');
    // Loopback (the default) says nothing.
    const ws2 = suite.workspace();
    ws2.writeConfig(`storages:\n  local: { type: local, path: ${ws2.storage} }\ntargets:\n  docs:\n    files:\n      app: [${ws2.dir}]\n    storage: local\n`);
    const quiet = await startServe(ws2);
    running.push(quiet);
    assert.doesNotMatch(quiet.output(), /plain HTTP/);
  });

  test('in a directory without lifeboat.yaml it starts with nothing configured, for the web UI to fill; a named missing file is still an error', async () => {
    const ws = suite.workspace();
    const bare = await startServe(ws, { env: { LIFEBOAT_CONFIG: undefined } });
    running.push(bare);
    assert.match(bare.output(), /warn: no \S+lifeboat\.yaml: starting with nothing configured/);
    assert.ok(await bare.setupToken(), 'and it prints the setup link');
    assert.equal((await call(bare.url, 'GET', '/api/v1/setup')).json<{ pending: boolean }>().pending, true);
    const named = await ws.cli(['serve', '--listen', '127.0.0.1:0'], { env: { LIFEBOAT_CONFIG: path.join(ws.dir, 'missing.yaml') } });
    assert.equal(named.code, 2);
    assert.match(named.stderr, /missing\.yaml: no such file/);
  });

  test('HTTPS with server.tls; metrics need a metrics token unless public', async () => {
    const ws = suite.workspace();
    const key = path.join(ws.dir, 'key.pem');
    const cert = path.join(ws.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  docs:\n    files:\n      app: [${ws.dir}]\n    storage: local\nserver:\n  tls: { cert: ${cert}, key: ${key} }\n`);
    await addUser(ws, 'admin', 'admin', 'a long enough password');
    const prom = await addToken(ws, 'prom', ['metrics'], 'admin');
    const reader = await addToken(ws, 'reader', ['read'], 'admin');
    const s = await startServe(ws, { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' } });
    running.push(s);
    assert.match(s.url, /^https:/);
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      assert.equal((await call(s.url, 'GET', '/metrics')).status, 401);
      assert.equal((await call(s.url, 'GET', '/metrics', { token: reader })).status, 403);
      const m = await call(s.url, 'GET', '/metrics', { token: prom });
      assert.equal(m.status, 200, m.text);
      assert.match(m.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(m.text, /^# TYPE lifeboat_\w+ \w+$/m);
      const login = await call(s.url, 'POST', '/api/v1/session', { body: { name: 'admin', password: 'a long enough password' } });
      assert.match(login.headers.get('set-cookie') ?? '', /;\s*Secure/i, 'over HTTPS the session cookie is Secure');
    } finally {
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    }
    const pub = suite.workspace();
    pub.writeConfig(`storages:\n  local: { type: local, path: ${pub.storage} }\ntargets:\n  docs:\n    files:\n      app: [${pub.dir}]\n    storage: local\nserver:\n  metrics: { public: true }\n`);
    const p = await startServe(pub);
    running.push(p);
    assert.equal((await call(p.url, 'GET', '/metrics')).status, 200);
  });

  test('SIGTERM ends open event streams and lets the running backup finish', async () => {
    const ws = suite.workspace();
    const db = await suite.server.createDatabase('servestop');
    await seedShop(suite.server, db, 10);
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    await addUser(ws, 'ops', 'operator', 'a long enough password');
    const token = await addToken(ws, 'ci', ['backup'], 'ops');
    const s = await startServe(ws);
    const started = await call(s.url, 'POST', '/api/v1/targets/app/backups', { token });
    assert.equal(started.status, 202, started.text);
    const { jobId } = started.json<{ jobId: string }>();
    const res = await fetch(`${s.url}/api/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });
    const reader = (async () => {
      let text = '';
      try {
        for await (const chunk of res.body!) text += Buffer.from(chunk as Uint8Array).toString();
      } catch {
        // The server closed the connection: the stream ended.
      }
      return text;
    })();
    s.child.kill('SIGTERM');
    const [code] = await once(s.child, 'exit');
    assert.equal(code, 0, s.output());
    const streamed = await reader;
    assert.match(streamed, /event: (log|progress|done)/);
    const list = await ws.run(['list', '--json']);
    const backups = list.json<{ status: string; trigger: string }[]>();
    assert.equal(backups.length, 1);
    assert.equal(backups[0]!.status, 'ok', 'the backup was given its grace and finished');
    assert.equal(backups[0]!.trigger, 'api');
  });
});
