// Browser sessions and tokens over real HTTP: the first admin is claimed only with the setup link
// the server printed; a cross-site change with a valid cookie is refused, the same from the app's
// origin passes; logout, sign-out-everywhere, idle expiry, token revocation and expiry take
// effect at once; failed logins are throttled without telling whether the user exists.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { addToken, addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const PASSWORD = 'correct horse battery staple';
let ws: Workspace;
let serve: ServeProcess;

before(async () => {
  ws = workspace();
  // Sessions idle out after 4 s here, so the test sees it happen.
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  docs:\n    files:\n      app: [${ws.dir}]\n    storage: local\nserver:\n  sessions: { idleHours: ${4 / 3600} }\n`);
  serve = await startServe(ws);
});

after(async () => {
  await serve?.stop();
  ws?.remove();
});

describe('first start', () => {
  test('no user exists: only the printed setup token claims the first admin, once', async () => {
    const token = await serve.setupToken();
    assert.ok(token, `no setup link printed:\n${serve.output()}`);
    assert.deepEqual((await call(serve.url, 'GET', '/api/v1/setup')).json(), { pending: true });
    const wrong = await call(serve.url, 'POST', '/api/v1/setup', { body: { token: 'guess', name: 'mallory', password: PASSWORD }, headers: { origin: serve.url } });
    assert.equal(wrong.status, 401, wrong.text);
    const ok = await call(serve.url, 'POST', '/api/v1/setup', { body: { token, name: 'admin', password: PASSWORD } });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json<{ role: string }>().role, 'admin');
    assert.match(ok.headers.get('set-cookie') ?? '', /lifeboat_session=.*HttpOnly.*SameSite=Lax/i);
    const again = await call(serve.url, 'POST', '/api/v1/setup', { body: { token, name: 'mallory', password: PASSWORD } });
    assert.equal(again.status, 409, again.text);
    assert.deepEqual((await call(serve.url, 'GET', '/api/v1/setup')).json(), { pending: false });
  });
});

describe('sessions', () => {
  test('a cross-site change with a valid cookie is refused; from the app\'s origin with the CSRF token it passes', async () => {
    const s = await signIn(serve.url, 'admin', PASSWORD);
    const body = { target: 'docs', spec: 'hourly' };
    const evil = await call(serve.url, 'POST', '/api/v1/schedules', { session: s, body, headers: { origin: 'https://evil.example', 'x-csrf-token': s.csrf } });
    assert.equal(evil.status, 403, evil.text);
    assert.match(evil.json<{ detail: string }>().detail, /cross-site/);
    const fetchSite = await call(serve.url, 'POST', '/api/v1/schedules', { session: s, body, headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(fetchSite.status, 403, fetchSite.text);
    const noToken = await call(serve.url, 'POST', '/api/v1/schedules', { session: s, body, headers: { 'x-csrf-token': 'nope' } });
    assert.equal(noToken.status, 403, noToken.text);
    // Nor can a page elsewhere sign the browser in.
    const crossLogin = await call(serve.url, 'POST', '/api/v1/session', { body: { name: 'admin', password: PASSWORD }, headers: { 'sec-fetch-site': 'cross-site' } });
    assert.equal(crossLogin.status, 403, crossLogin.text);
    assert.equal(crossLogin.headers.get('set-cookie'), null);
    const same = await call(serve.url, 'POST', '/api/v1/schedules', { session: s, body });
    assert.equal(same.status, 201, same.text);
    // Reading needs no CSRF token: a GET changes nothing.
    assert.equal((await call(serve.url, 'GET', '/api/v1/schedules', { session: { cookie: s.cookie, csrf: '' } })).status, 200);
  });

  test('logout and sign-out-everywhere end sessions at once', async () => {
    const a = await signIn(serve.url, 'admin', PASSWORD);
    const b = await signIn(serve.url, 'admin', PASSWORD);
    const c = await signIn(serve.url, 'admin', PASSWORD);
    const list = await call(serve.url, 'GET', '/api/v1/sessions', { session: a });
    assert.ok(list.json<{ items: { current: boolean }[] }>().items.filter((x) => x.current).length === 1);
    assert.equal((await call(serve.url, 'DELETE', '/api/v1/session', { session: a })).status, 200);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: a })).status, 401);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: b })).status, 200);
    const all = await call(serve.url, 'POST', '/api/v1/sessions/signout-all', { session: b });
    assert.equal(all.status, 200, all.text);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: b })).status, 401);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: c })).status, 401);
  });

  test('an idle session ends after server.sessions.idleHours', async () => {
    const s = await signIn(serve.url, 'admin', PASSWORD);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: s })).status, 200);
    await sleep(5000);
    assert.equal((await call(serve.url, 'GET', '/api/v1/session', { session: s })).status, 401);
  });
});

describe('tokens', () => {
  test('revocation and expiry take effect at the next request', async () => {
    const s = await signIn(serve.url, 'admin', PASSWORD);
    const made = await call(serve.url, 'POST', '/api/v1/tokens', { session: s, body: { name: 'short', scopes: ['read'] } });
    assert.equal(made.status, 201, made.text);
    const { token, summary } = made.json<{ token: string; summary: { id: number } }>();
    assert.match(token, /^lb_/);
    assert.equal((await call(serve.url, 'GET', '/api/v1/backups/none', { token })).status, 404);
    assert.equal((await call(serve.url, 'DELETE', `/api/v1/tokens/${summary.id}`, { session: s })).status, 200);
    const revoked = await call(serve.url, 'GET', '/api/v1/backups/none', { token });
    assert.equal(revoked.status, 401);
    assert.match(revoked.json<{ detail: string }>().detail, /not valid/);
    // An expiry a moment away, made with the CLI (a few seconds: on a loaded machine the command
    // itself took over 2.5, and the token was dead before its first use).
    const expires = Date.now() + 8000;
    const r = await ws.run(['token', 'create', 'brief', '--user', 'admin', '--scope', 'read', '--expires', new Date(expires).toISOString(), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const brief = r.json<{ token: string }>().token;
    assert.equal((await call(serve.url, 'GET', '/api/v1/schedules', { token: brief })).status, 200);
    await sleep(Math.max(0, expires - Date.now()) + 500);
    assert.equal((await call(serve.url, 'GET', '/api/v1/schedules', { token: brief })).status, 401);
    // A token cannot mint tokens, whatever its scope.
    const admin = await addToken(ws, 'adm', ['admin'], 'admin');
    assert.equal((await call(serve.url, 'POST', '/api/v1/tokens', { token: admin, body: { name: 'x', scopes: ['read'] } })).status, 403);
  });
});

describe('a token the server has seen before', () => {
  // The server reuses a token's answer while the catalog is unchanged (server/principal.ts):
  // each change below, made by another process, must still count at the very next request.
  test('is refused or narrowed at once when its owner is demoted or disabled, or it is revoked, from the CLI', async () => {
    await addUser(ws, 'ops', 'operator', PASSWORD);
    const token = await addToken(ws, 'ops-restore', ['restore'], 'ops');
    // Downloading needs an operator: 404 for a backup that does not exist, 403 without the role.
    const download = async () => (await call(serve.url, 'GET', '/api/v1/backups/none/download', { token })).status;
    const seen = async (expected: number) => {
      for (let i = 0; i < 3; i++) assert.equal(await download(), expected);
    };
    // main() in this process (ws.run): still a process other than the server's.
    const cli = async (args: string[]) => assert.equal((await ws.run(args)).code, 0);
    await seen(404);
    await cli(['user', 'role', 'ops', 'viewer']);
    await seen(403);
    await cli(['user', 'role', 'ops', 'operator']);
    await seen(404);
    await cli(['user', 'disable', 'ops']);
    await seen(401);
    await cli(['user', 'enable', 'ops']);
    await seen(404);
    await cli(['token', 'revoke', 'ops-restore', '--user', 'ops']);
    await seen(401);
  });
});

describe('login throttling', () => {
  test('repeated failures get 429 with Retry-After; unknown and known users answer alike', async () => {
    const answers: { status: number; detail: string }[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await call(serve.url, 'POST', '/api/v1/session', { body: { name: 'admin', password: `wrong ${i}` } });
      answers.push({ status: r.status, detail: r.json<{ detail: string }>().detail });
      if (r.status === 429) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1, 'Retry-After says when');
        break;
      }
    }
    assert.equal(answers.at(-1)!.status, 429, JSON.stringify(answers));
    const unknown = await call(serve.url, 'POST', '/api/v1/session', { body: { name: 'nobody-here', password: 'wrong' } });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.json<{ detail: string }>().detail, answers[0]!.detail, 'the message does not tell whether the user exists');
    // The right password is refused too while the account waits.
    const right = await call(serve.url, 'POST', '/api/v1/session', { body: { name: 'admin', password: PASSWORD } });
    assert.equal(right.status, 429, right.text);
  });
});
