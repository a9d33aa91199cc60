// The authorization matrix, generated from the routes the server itself serves (each carries its
// access rule in the OpenAPI document): every route x {anonymous, viewer, operator, admin
// sessions, a token of each scope} answers 401 for nobody, 403 for a caller the permission
// table (src/auth) refuses, and neither for one it allows. Also: the document is valid OpenAPI
// 3.1, the docs page needs nothing from the internet, and bad input gets problem+json.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { PERMISSION_NAMES, type Permission } from '../../src/auth/permissions.ts';
import { can, type Principal } from '../../src/auth/principal.ts';
import { SCOPES, type Scope } from '../../src/auth/roles.ts';
import { addToken, addUser, call, signIn, startServe, type Caller, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery staple';

let ws: Workspace;
let serve: ServeProcess;
type Op = { method: string; path: string; access: string };
let ops: Op[];
let doc: Record<string, unknown>;

interface Who {
  name: string;
  principal: Principal | undefined;
  caller(): Promise<Caller>;
}
const whos: Who[] = [];

describe('over HTTP', () => {
before(async () => {
  ws = suite.workspace();
  const db = await suite.server.createDatabase('matrix');
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
  for (const role of ['viewer', 'operator', 'admin'] as const) await addUser(ws, role, role, PASSWORD);
  serve = await startServe(ws);
  const res = await call(serve.url, 'GET', '/api/openapi.json');
  doc = res.json();
  ops = Object.entries(doc.paths as Record<string, Record<string, { 'x-lifeboat-access'?: string }>>).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, access: op['x-lifeboat-access'] ?? '(none)' })));
  whos.push({ name: 'anonymous', principal: undefined, caller: async () => ({}) });
  for (const role of ['viewer', 'operator', 'admin'] as const) {
    let session = await signIn(serve.url, role, PASSWORD);
    // Signing out everywhere ends this session too: the next call signs in again.
    const alive = async () => {
      if ((await call(serve.url, 'GET', '/api/v1/session', { session })).status === 401) session = await signIn(serve.url, role, PASSWORD);
      return session;
    };
    whos.push({ name: `${role} session`, principal: { kind: 'user', role, actor: role }, caller: async () => ({ session: await alive() }) });
  }
  for (const scope of SCOPES) {
    const token = await addToken(ws, `t-${scope}`, [scope], 'admin');
    whos.push({ name: `token ${scope}`, principal: { kind: 'token', role: 'admin', scopes: [scope as Scope], actor: `token:t-${scope}` }, caller: async () => ({ token }) });
  }
});

after(async () => {
  await serve?.stop();
});

describe('the route table', () => {
  test('every route in the document declares who may call it, from the known set', () => {
    assert.ok(ops.length >= 30, `only ${ops.length} routes in the document`);
    for (const op of ops) {
      assert.ok(op.access === 'public' || op.access === 'signed-in' || (PERMISSION_NAMES as string[]).includes(op.access), `${op.method} ${op.path} has access ${op.access}`);
    }
  });

  test('the routes that hold data or change much need what the issue says they need', () => {
    const access = (m: string, p: string) => ops.find((o) => o.method === m && o.path === p)?.access;
    assert.equal(access('GET', '/api/v1/backups/{id}/download'), 'download', 'a viewer may not download bundles: they hold the data');
    assert.equal(access('DELETE', '/api/v1/backups/{id}'), 'delete', 'only admins delete');
    assert.equal(access('POST', '/api/v1/restores'), 'restore');
    assert.equal(access('POST', '/api/v1/targets/{name}/backups'), 'backup');
    assert.equal(access('GET', '/api/v1/audit'), 'audit.read');
    for (const kind of ['targets', 'storages', 'channels']) assert.equal(access('POST', `/api/v1/${kind}`), 'config.write');
    assert.equal(access('POST', '/api/v1/users'), 'users.manage');
    assert.equal(access('GET', '/metrics'), 'metrics');
    for (const p of ['/healthz', '/readyz']) assert.equal(access('GET', p), 'public');
  });

  test('the document is valid OpenAPI 3.1', async () => {
    const v = new Validator();
    const r = await v.validate(doc as never);
    assert.equal(v.version, '3.1');
    assert.ok(r.valid, JSON.stringify(r.errors, null, 2)?.slice(0, 2000));
  });

  test('every route x every caller: 401 for nobody, 403 when refused, neither when allowed', async () => {
    const failures: string[] = [];
    // The validation before this held this process's event loop for seconds (5 s on a loaded
    // machine): the server has closed the idle keep-alive socket by now, but undici's timer that
    // would drop it has not run, and the first request on it fails with "other side closed".
    // One throwaway request takes that socket out of the pool.
    await call(serve.url, 'GET', '/healthz').catch(() => undefined);
    for (const op of ops) {
      const path = op.path.replace(/\{[^}]+\}/g, (p) => (p === '{id}' && op.path.startsWith('/api/v1/tokens') ? '999999' : p === '{id}' && op.path.startsWith('/api/v1/schedules') ? '999999' : 'no-such-thing'));
      for (const who of whos) {
        const caller = await who.caller();
        const allowed = op.access === 'public' || (who.principal !== undefined && (op.access === 'signed-in' || can(who.principal, op.access as Permission)));
        const r = await call(serve.url, op.method, path, { ...caller, ...(['POST', 'PATCH', 'PUT'].includes(op.method) ? { body: {} } : {}) });
        const expected = allowed ? 'not 401/403' : who.principal ? 403 : 401;
        const ok = allowed ? r.status !== 401 && r.status !== 403 : r.status === expected;
        if (!ok) failures.push(`${op.method} ${path} as ${who.name}: ${r.status}, expected ${expected} (${r.text.slice(0, 160)})`);
        if (r.status >= 500) failures.push(`${op.method} ${path} as ${who.name}: ${r.status} ${r.text.slice(0, 300)}`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('answers', () => {
  test('the docs page and its assets are served from this server (nothing from a CDN)', async () => {
    const page = await call(serve.url, 'GET', '/api/docs');
    assert.equal(page.status, 200);
    const refs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length >= 3);
    for (const ref of refs) {
      assert.ok(ref.startsWith('/'), `${ref} is not served locally`);
      assert.equal((await call(serve.url, 'GET', ref)).status, 200, ref);
    }
  });

  test('bad input is a problem+json naming what was wrong, and changes nothing', async () => {
    const admin = await signIn(serve.url, 'admin', PASSWORD);
    const cases: { what: string; method: string; path: string; body?: unknown; raw?: string; status: number; detail: RegExp }[] = [
      { what: 'malformed JSON', method: 'POST', path: '/api/v1/schedules', raw: '{"target": ', status: 400, detail: /malformed|JSON/i },
      { what: 'a wrong type', method: 'POST', path: '/api/v1/schedules', body: { target: 'app', spec: 5 }, status: 400, detail: /spec/ },
      { what: 'an unknown field', method: 'POST', path: '/api/v1/schedules', body: { target: 'app', spec: 'hourly', colour: 'red' }, status: 400, detail: /colour/ },
      { what: 'a bad cron', method: 'POST', path: '/api/v1/schedules', body: { target: 'app', spec: 'every blue moon' }, status: 400, detail: /blue moon/ },
      { what: 'an unknown target', method: 'POST', path: '/api/v1/schedules', body: { target: 'nope', spec: 'hourly' }, status: 404, detail: /nope/ },
      { what: 'an unknown backup', method: 'GET', path: '/api/v1/backups/app-2099', status: 404, detail: /app-2099/ },
      { what: 'an unknown route', method: 'GET', path: '/api/v1/nothing-here', status: 404, detail: /nothing-here/ },
      { what: 'a huge body', method: 'POST', path: '/api/v1/schedules', raw: JSON.stringify({ target: 'app', spec: 'x'.repeat(2 * 1024 * 1024) }), status: 413, detail: /KiB/ },
    ];
    for (const k of cases) {
      const r = await call(serve.url, k.method, k.path, { session: admin, ...(k.body !== undefined ? { body: k.body } : {}), ...(k.raw !== undefined ? { rawBody: k.raw } : {}) });
      assert.equal(r.status, k.status, `${k.what}: ${r.text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, k.what);
      const p = r.json<{ status: number; code: string; detail: string }>();
      assert.equal(p.status, k.status, k.what);
      assert.match(p.detail, k.detail, k.what);
    }
    const schedules = await call(serve.url, 'GET', '/api/v1/schedules', { session: admin });
    assert.deepEqual(schedules.json<{ items: unknown[] }>().items, [], 'nothing was added by the refused requests');
  });
});
});
