// A bundle leaves one installation over HTTP (download, resumable with Range) and enters
// another over HTTP (import): checked, stored, catalogued, and untrusted there unless a key of
// that installation vouches for it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { seedShop } from '../support/seed.ts';
import { addToken, addUser, call, startServe, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

/** Waits for a job the API started and answers its state and the problem it failed with. */
async function finished(base: string, token: string, jobId: string): Promise<{ state: string; error: string | null }> {
  for (let i = 0; i < 600; i++) {
    const j = (await call(base, 'GET', `/api/v1/jobs/${jobId}`, { token })).json<{ state: string; error: string | null }>();
    if (j.state !== 'running') return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${jobId} did not finish`);
}

describe('download and import over HTTP', () => {
  let a: Workspace;
  let b: Workspace;
  let serveA: ServeProcess;
  let serveB: ServeProcess;
  let tokenA: string;
  let viewerA: string;
  let tokenB: string;
  let id: string;
  let bundle: string;

  before(async () => {
    const db = await suite.server.createDatabase('dl');
    await seedShop(suite.server, db, 1);
    a = suite.workspace();
    b = suite.workspace();
    for (const ws of [a, b]) {
      ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
      await addUser(ws, 'admin', 'admin', 'a long enough password');
    }
    const r = await a.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    id = r.json<{ id: string }>().id;
    const shown = (await a.run(['show', id, '--json'])).json<{ locations: { key: string }[] }>();
    bundle = path.join(a.storage, shown.locations[0]!.key);
    tokenA = await addToken(a, 'ops', ['restore'], 'admin');
    viewerA = await addToken(a, 'look', ['read'], 'admin');
    tokenB = await addToken(b, 'admin', ['admin'], 'admin');
    serveA = await startServe(a);
    serveB = await startServe(b);
  });

  after(async () => {
    await serveA?.stop();
    await serveB?.stop();
  });

  test('download: the bundle as stored, whole or by range; refused to a read-only token', async () => {
    const stored = readFileSync(bundle);
    const whole = await fetch(`${serveA.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${tokenA}` } });
    assert.equal(whole.status, 200);
    const body = Buffer.from(await whole.arrayBuffer());
    assert.ok(body.equals(stored), 'the bytes are the stored bundle');
    assert.equal(whole.headers.get('accept-ranges'), 'bytes');
    assert.equal(whole.headers.get('x-lifeboat-sha256'), createHash('sha256').update(stored).digest('hex'));
    assert.match(whole.headers.get('content-disposition') ?? '', /attachment; filename="app-/);
    const part = await fetch(`${serveA.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${tokenA}`, range: 'bytes=100-199' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${stored.length}`);
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(stored.subarray(100, 200)));
    const tail = await fetch(`${serveA.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${tokenA}`, range: `bytes=${stored.length - 10}-` } });
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(stored.subarray(stored.length - 10)));
    const outside = await fetch(`${serveA.url}/api/v1/backups/${id}/download`, { headers: { authorization: `Bearer ${tokenA}`, range: `bytes=${stored.length + 5}-` } });
    assert.equal(outside.status, 416);
    assert.equal((await call(serveA.url, 'GET', `/api/v1/backups/${id}/download`, { token: viewerA })).status, 403);
  });

  test('import: refused as untrusted unless asked, then catalogued as untrusted; a damaged upload imports nothing', async () => {
    const stored = readFileSync(bundle);
    const name = path.basename(bundle);
    const upload = (q: string, body: Uint8Array) => fetch(`${serveB.url}/api/v1/backups/import?filename=${encodeURIComponent(name)}${q}`, { method: 'POST', headers: { authorization: `Bearer ${tokenB}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(body) });
    const refused = await upload('', stored);
    assert.equal(refused.status, 202, await refused.clone().text());
    const r1 = await finished(serveB.url, tokenB, ((await refused.json()) as { jobId: string }).jobId);
    assert.equal(r1.state, 'failed');
    assert.match(r1.error ?? '', /not vouched for/);
    const damaged = Buffer.from(stored);
    damaged[Math.floor(damaged.length / 2)]! ^= 0xff;
    const bad = await upload('&trustForeign=true', damaged);
    const r2 = await finished(serveB.url, tokenB, ((await bad.json()) as { jobId: string }).jobId);
    assert.equal(r2.state, 'failed');
    assert.match(r2.error ?? '', /damaged|checksum|corrupt/i);
    assert.equal((await call(serveB.url, 'GET', '/api/v1/backups', { token: tokenB })).json<{ items: unknown[] }>().items.length, 0, 'nothing was imported');
    const ok = await upload('&trustForeign=true', stored);
    const r3 = await finished(serveB.url, tokenB, ((await ok.json()) as { jobId: string }).jobId);
    assert.equal(r3.state, 'succeeded', JSON.stringify(r3));
    const listed = (await call(serveB.url, 'GET', '/api/v1/backups', { token: tokenB })).json<{ items: { id: string; trust: string }[] }>().items;
    assert.deepEqual(listed.map((x) => [x.id, x.trust]), [[id, 'untrusted']]);
    assert.ok(readFileSync(path.join(b.storage, path.relative(a.storage, bundle))).equals(stored), 'stored in B as it was in A');
    const bad2 = await fetch(`${serveB.url}/api/v1/backups/import?filename=..%2Fescape.tar.zst`, { method: 'POST', headers: { authorization: `Bearer ${tokenB}` }, body: new Uint8Array(stored) });
    assert.equal(bad2.status, 400);
  });
});
