// The drill in a backup's Verification tab, in a real browser against a real `lifeboat serve`:
// an operator runs it and sees the RTO by part; a viewer sees the last drill, and no button.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { newContext, serveAndBrowser } from '../support/browser.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

describe('the drill in the Verification tab', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let context: BrowserContext;
  let backupId: string;

  const as = async (name: string) => {
    const [cookieName, value] = (await signIn(serve.url, name, PASSWORD)).cookie.split('=') as [string, string];
    await context.clearCookies();
    await context.addCookies([{ name: cookieName, value, url: serve.url }]);
  };

  before(async () => {
    ws = suite.workspace({ sharedInitdb: true }); // the drill's scratch cluster from a template, not initdb
    const db = await suite.server.createDatabase('uidrill');
    await suite.server.query(db, 'create table t (id int primary key); insert into t select generate_series(1, 300)');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    backupId = r.json<{ id: string }>().id;
    await Promise.all([addUser(ws, 'olivia', 'operator', PASSWORD), addUser(ws, 'victor', 'viewer', PASSWORD)]);
    [serve, browser] = await serveAndBrowser(startServe(ws));
    context = await newContext(browser, serve.url);
    context.setDefaultTimeout(10_000);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('an operator runs the drill and sees its RTO by part; a viewer sees it without the button', async () => {
    await as('olivia');
    const page = await context.newPage();
    await page.goto(`/backups/${backupId}`);
    await page.getByRole('tab', { name: 'Verification' }).click();
    const section = page.getByRole('region', { name: 'Bare-metal drill' });
    await section.getByText('Never drilled').waitFor();
    await section.getByRole('button', { name: 'Run drill' }).click();
    await section.locator('.job-progress[data-state="succeeded"]').waitFor({ timeout: 120_000 });
    const rto = section.getByRole('table', { name: 'RTO by part' });
    await rto.waitFor();
    assert.deepEqual(await rto.locator('th').allTextContents(), ['Fetch', 'Decrypt + unpack', 'Checks', 'Databases', 'Files', 'Validation']);
    assert.match(await section.textContent() ?? '', /passed.*RTO/s);
    const drills = (await call(serve.url, 'GET', `/api/v1/backups/${backupId}/drills`, { session: await signIn(serve.url, 'victor', PASSWORD) })).json<{ items: { ok: boolean }[] }>().items;
    assert.deepEqual(drills.map((d) => d.ok), [true], 'the drill is in the catalog');

    await as('victor');
    const v = await context.newPage();
    await v.goto(`/backups/${backupId}`);
    await v.getByRole('tab', { name: 'Verification' }).click();
    const seen = v.getByRole('region', { name: 'Bare-metal drill' });
    await seen.getByRole('table', { name: 'RTO by part' }).waitFor();
    assert.equal(await seen.getByRole('button', { name: 'Run drill' }).count(), 0);
  });
});
