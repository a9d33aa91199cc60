// The drill over HTTP: started with a token that may verify (202 + job, its result the report),
// refused to a reader, and its history read back with the RTO split.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addToken, addUser, call, startServe, type ServeProcess } from '../support/api.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

let ws: Workspace;
let serve: ServeProcess;
let backupId: string;
let operatorToken: string;
let readToken: string;

interface JobAnswer { state: string; outcome: { result?: { ok: boolean; rtoMs: number; checks: { name: string; ok: boolean }[] } } | null; error: string | null }
interface DrillItem { id: string; ok: boolean; rtoMs: number; phases: Record<string, number>; bundleSize: number; tools: Record<string, string> }

describe('drills over HTTP', () => {
  before(async () => {
    ws = suite.workspace({ sharedInitdb: true }); // the drill's scratch cluster from a template, not initdb
    const db = await suite.server.createDatabase('apidrill');
    await suite.server.query(db, 'create table t (id int primary key, v text); insert into t select g, md5(g::text) from generate_series(1, 400) g');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const b = await ws.run(['backup', 'app', '--json']);
    assert.equal(b.code, 0, b.stderr);
    backupId = b.json<{ id: string }>().id;
    await addUser(ws, 'ops', 'operator', 'correct horse battery staple');
    operatorToken = await addToken(ws, 'ops', ['backup'], 'ops');
    readToken = await addToken(ws, 'reader', ['read'], 'ops');
    serve = await startServe(ws);
  });

  after(async () => {
    await serve?.stop();
  });

  test('POST .../drills answers 202 with the job, whose result is the report; GET lists it with its RTO split', async () => {
    const denied = await call(serve.url, 'POST', `/api/v1/backups/${backupId}/drills`, { token: readToken, body: {} });
    assert.equal(denied.status, 403, denied.text);

    const r = await call(serve.url, 'POST', `/api/v1/backups/${backupId}/drills`, { token: operatorToken, body: { jobs: 1 } });
    assert.equal(r.status, 202, r.text);
    const { jobId, location } = r.json<{ jobId: string; location: string }>();
    assert.equal(location, `/api/v1/jobs/${jobId}`);
    let job: JobAnswer;
    for (;;) {
      job = (await call(serve.url, 'GET', location, { token: readToken })).json<JobAnswer>();
      if (job.state !== 'running') break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.equal(job.outcome!.result!.ok, true, JSON.stringify(job.outcome!.result!.checks.filter((c) => !c.ok)));

    const list = await call(serve.url, 'GET', `/api/v1/backups/${backupId.slice(0, -2)}/drills`, { token: readToken });
    assert.equal(list.status, 200, list.text);
    const [drill, ...rest] = list.json<{ items: DrillItem[] }>().items;
    assert.equal(rest.length, 0);
    assert.equal(drill!.id, jobId);
    assert.equal(drill!.ok, true);
    assert.equal(drill!.rtoMs, job.outcome!.result!.rtoMs);
    assert.deepEqual(Object.keys(drill!.phases).sort(), ['checks', 'databases', 'fetch', 'files', 'unpack', 'validation']);
    assert.ok(drill!.bundleSize > 0);
    assert.match(drill!.tools.pg_restore!, /pg_restore \(PostgreSQL\)/);

    const audit = await ws.run(['audit', '--action', 'drill.', '--json']);
    assert.match(audit.stdout, new RegExp(`"object": "${backupId}"`));
  });

  test('a backup that does not exist is a 404', async () => {
    const r = await call(serve.url, 'GET', '/api/v1/backups/nope-20200101T000000Z/drills', { token: readToken });
    assert.equal(r.status, 404, r.text);
  });
});
