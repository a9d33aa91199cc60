// Long operations over HTTP: a backup started with a `backup` token streams its progress and log
// over SSE to two clients (one joining late), ends in `done`, and is in the catalog; a restore
// runs only the plan the user read (planToken, confirm RESTORE); a changed plan is a 409.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { addToken, addUser, call, startServe, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

let ws: Workspace;
let serve: ServeProcess;
let db: string;
let backupToken: string;
let restoreToken: string;
let readToken: string;

interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/** Reads a job's event stream to its `done` event, as an EventSource would. */
async function readEvents(base: string, jobId: string, token: string, onFirst?: () => void): Promise<SseEvent[]> {
  const res = await fetch(`${base}/api/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const e: SseEvent = { event: 'message', data: undefined };
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) e.event = line.slice(6).trim();
        else if (line.startsWith('data:')) e.data = JSON.parse(line.slice(5).trim());
        else if (line.startsWith('id:')) e.id = line.slice(3).trim();
      }
      if (e.data === undefined) continue;
      events.push(e);
      if (events.length === 1) onFirst?.();
      if (e.event === 'done') return events;
    }
  }
  return events;
}

describe('over HTTP', () => {
before(async () => {
  ws = suite.workspace();
  db = await suite.server.createDatabase('apijobs');
  await seedShop(suite.server, db, 20);
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
  await addUser(ws, 'ops', 'operator', 'correct horse battery staple');
  backupToken = await addToken(ws, 'ci', ['backup'], 'ops');
  restoreToken = await addToken(ws, 'restorer', ['restore'], 'ops');
  readToken = await addToken(ws, 'reader', ['read'], 'ops');
  serve = await startServe(ws);
});

after(async () => {
  await serve?.stop();
});

describe('a backup started over the API', () => {
  let backupId: string;

  test('answers 202 with the job, streams it to two clients (one late), ends in done, lands in the catalog', async () => {
    const r = await call(serve.url, 'POST', '/api/v1/targets/app/backups', { token: backupToken });
    assert.equal(r.status, 202, r.text);
    const { jobId, location } = r.json<{ jobId: string; location: string }>();
    assert.equal(r.headers.get('location'), location);
    assert.equal(location, `/api/v1/jobs/${jobId}`);
    // A second backup of the same target while this one runs: 409, naming the running job.
    const again = await call(serve.url, 'POST', '/api/v1/targets/app/backups', { token: backupToken });
    if (again.status !== 202) {
      assert.equal(again.status, 409, again.text);
      assert.match(again.json<{ detail: string }>().detail, /running/);
    }
    let late: Promise<SseEvent[]> | undefined;
    const early = readEvents(serve.url, jobId, readToken, () => {
      late = readEvents(serve.url, jobId, backupToken);
    });
    const first = await early;
    const second = await late!;
    for (const events of [first, second]) {
      const done = events.at(-1)!;
      assert.equal(done.event, 'done');
      const outcome = done.data as { state: string; result: { backupId: string } };
      assert.equal(outcome.state, 'succeeded', JSON.stringify(outcome));
      backupId = outcome.result.backupId;
      assert.ok(events.some((e) => e.event === 'log'), 'log lines were streamed');
    }
    // The late client was replayed what it missed: the same log lines, in the same order.
    const lines = (events: SseEvent[]) => events.filter((e) => e.event === 'log').map((e) => (e.data as { message: string }).message);
    assert.deepEqual(lines(second), lines(first));
    const job = await call(serve.url, 'GET', `/api/v1/jobs/${jobId}`, { token: readToken });
    assert.equal(job.status, 200, job.text);
    assert.equal(job.json<{ state: string }>().state, 'succeeded');
    const b = await call(serve.url, 'GET', `/api/v1/backups/${backupId}`, { token: readToken });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json<{ backup: { status: string; trigger: string } }>().backup.status, 'ok');
    assert.equal(b.json<{ backup: { trigger: string } }>().backup.trigger, 'api');
    // A client joining after the end still gets the whole story and the end.
    const after = await readEvents(serve.url, jobId, readToken);
    assert.equal(after.at(-1)!.event, 'done');
    assert.deepEqual(lines(after), lines(first));
  });

  test('the check after the backup is kept as a verification report: GET /backups/{id}/verifications lists every check', async () => {
    const r = await call(serve.url, 'GET', `/api/v1/backups/${backupId}/verifications`, { token: readToken });
    assert.equal(r.status, 200, r.text);
    const [v, ...more] = r.json<{ items: { level: string; ok: boolean; report: { checks: { name: string; ok: boolean; expected?: string; actual?: string }[] } }[] }>().items;
    assert.equal(more.length, 0);
    assert.deepEqual([v!.level, v!.ok], ['quick', true]);
    assert.ok(v!.report.checks.length > 0 && v!.report.checks.every((c) => c.ok));
    assert.ok(v!.report.checks.some((c) => c.expected !== undefined && c.actual !== undefined), 'checks say what was expected and found');
    assert.equal((await call(serve.url, 'GET', '/api/v1/backups/no-such-backup/verifications', { token: readToken })).status, 404);
  });

  test('a restore runs only a fresh plan the user read, with RESTORE when it replaces data', async () => {
    const before = await tableFingerprints(suite.server, db);
    const request = { backup: backupId, databases: [db] };
    const noPlan = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: request });
    assert.equal(noPlan.status, 400, noPlan.text);
    assert.match(noPlan.json<{ detail: string }>().detail, /planToken/);

    const planned = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, dryRun: true } });
    assert.equal(planned.status, 200, planned.text);
    const { plan, planToken } = planned.json<{ plan: { replacesData: boolean; databases: { action: string }[] }; planToken: string }>();
    assert.equal(plan.replacesData, true);
    assert.equal(plan.databases[0]!.action, 'replace');

    const unconfirmed = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, planToken } });
    assert.equal(unconfirmed.status, 400, unconfirmed.text);
    assert.match(unconfirmed.json<{ detail: string }>().detail, /RESTORE/);

    const altered = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, planToken: planToken.slice(0, -2) + (planToken.endsWith('AA') ? 'BB' : 'AA'), confirm: 'RESTORE' } });
    assert.equal(altered.status, 409, altered.text);
    const other = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, globals: true, planToken, confirm: 'RESTORE' } });
    assert.equal(other.status, 409, other.text);
    assert.match(other.json<{ detail: string }>().detail, /another request/);

    // The target changes after the plan was read: a new table. The run must refuse, not restore.
    await suite.server.query(db, 'create table added_after_plan (id int)');
    const stale = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, planToken, confirm: 'RESTORE' } });
    let staleOutcome: { state: string; error?: { status: number; detail: string } } | undefined;
    if (stale.status === 202) {
      const events = await readEvents(serve.url, stale.json<{ jobId: string }>().jobId, readToken);
      staleOutcome = events.at(-1)!.data as typeof staleOutcome;
      assert.equal(staleOutcome!.state, 'failed');
      assert.equal(staleOutcome!.error!.status, 409, JSON.stringify(staleOutcome));
    } else assert.equal(stale.status, 409, stale.text);
    assert.equal((await suite.server.query(db, "select to_regclass('added_after_plan') as t"))[0]!.t, 'added_after_plan', 'the refused run changed nothing');
    await suite.server.query(db, 'drop table added_after_plan');

    const fresh = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, dryRun: true } });
    const run = await call(serve.url, 'POST', '/api/v1/restores', { token: restoreToken, body: { ...request, planToken: fresh.json<{ planToken: string }>().planToken, confirm: 'RESTORE' } });
    assert.equal(run.status, 202, run.text);
    const events = await readEvents(serve.url, run.json<{ jobId: string }>().jobId, restoreToken);
    const done = events.at(-1)!.data as { state: string; result: { safetyBackupId: string | null } };
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.ok(done.result.safetyBackupId, 'a safety backup was taken first');
    assert.deepEqual(await tableFingerprints(suite.server, db), before);
    const history = await call(serve.url, 'GET', '/api/v1/restores', { token: readToken });
    const last = history.json<{ items: { requestedBy: string; status: string }[] }>().items[0]!;
    assert.equal(last.status, 'succeeded');
    assert.equal(last.requestedBy, 'token:restorer (ops)');
  });
});
});
