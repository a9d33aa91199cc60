// The restore wizard's other paths and the Jobs screen's cancel, in a real browser against a real
// `lifeboat serve` and PostgreSQL: one file picked in the tree and restored to a directory (the
// file on disk); a plan refused by a check that --force overrides, explained, then forced and
// run (the database as the backup has it); a plan that changed between reading and running (a
// new table) refused by the job, and planned again; a backup held up by a lock, cancelled from
// the Jobs screen (cancelled in the API). State is asserted on disk, in PostgreSQL and the API.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

describe('restore paths and job cancel in the browser', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let session: { cookie: string; csrf: string };
  let shop: string;
  let backupId: string;
  let conf: string;

  const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const r = await call(serve.url, method, p, { session, body });
    assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${r.text}`);
    return r.json<T>();
  };
  const exists = async (table: string) => (await suite.server.query<{ t: string | null }>(shop, `select to_regclass('${table}') as t`))[0]!.t !== null;
  const count = async (table: string) => Number((await suite.server.query<{ n: string }>(shop, `select count(*) as n from ${table}`))[0]!.n);

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('pathshop');
    await seedShop(suite.server, shop);
    conf = path.join(ws.dir, 'conf');
    mkdirSync(path.join(conf, 'nginx'), { recursive: true });
    writeFileSync(path.join(conf, 'app.env'), 'MODE=production\n');
    writeFileSync(path.join(conf, 'nginx', 'site.conf'), 'server { listen 8443; }\n');
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n` +
        `  app:\n    postgres: { url: "${suite.server.urlFor(shop)}", databases: [${shop}] }\n    storage: local\n    files:\n      conf: [${conf}]\n`,
    );
    const [made] = await Promise.all([ws.run(['backup', 'app', '--json']), addUser(ws, 'alice', 'admin', PASSWORD)]);
    assert.equal(made.code, 0, made.stderr);
    [serve, browser] = await serveAndBrowser(startServe(ws));
    session = await signIn(serve.url, 'alice', PASSWORD);
    backupId = (await api<{ items: { id: string }[] }>('GET', '/api/v1/backups?target=app')).items[0]!.id;
    const context = await newContext(browser, serve.url);
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await signInUi(page, 'alice', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('one file picked in the tree is restored to a directory', async () => {
    const out = path.join(ws.dir, 'restored-here');
    await page.goto(`/backups/${backupId}/restore`);
    await page.getByRole('radio', { name: /Files/ }).check();
    // Down the tree to the one file: set conf, then each directory of its original path.
    await page.getByRole('button', { name: 'Open set conf' }).click();
    for (const part of path.join(conf, 'nginx').split('/').filter(Boolean)) await page.getByRole('button', { name: `Open ${part}/`, exact: true }).click();
    await page.getByLabel('site.conf').check();
    await page.getByText('Files (1 chosen)').waitFor();
    await page.getByLabel('To a directory').check();
    await page.getByLabel('Directory', { exact: true }).fill(out);
    await page.getByRole('button', { name: 'Make the plan' }).click();
    await page.getByText('1 file(s)').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByRole('list', { name: 'Checks' }).locator('.check-bad').count(), 0);
    await captureScreen(page, 'restore-files-plan');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('heading', { name: 'Restored' }).waitFor({ timeout: 60_000 });
    assert.equal(readFileSync(path.join(out, conf, 'nginx', 'site.conf'), 'utf8'), 'server { listen 8443; }\n');
    assert.throws(() => readFileSync(path.join(out, conf, 'app.env')), /ENOENT/, 'only the file picked');
  });

  test('a check that --force overrides is explained, then forced: the database comes back as backed up', async () => {
    await suite.server.query(shop, 'create table public.added_later (id int); delete from sales.orders where id > 10');
    await page.goto(`/backups/${backupId}/restore`);
    await page.getByRole('radio', { name: /One database/ }).check();
    await page.getByRole('button', { name: 'Make the plan' }).click();
    const checks = page.getByRole('list', { name: 'Checks' });
    await checks.waitFor({ timeout: 30_000 });
    const forcible = checks.locator('.check-warn').filter({ hasText: 'public.added_later exists only in the live database (it will be gone)' });
    await forcible.getByText('(can be forced)').waitFor();
    const refused = page.getByRole('alert').filter({ hasText: 'Refused' });
    await refused.waitFor();
    // The engine's hint names the CLI's flag; the page names its own box.
    assert.match(await refused.innerText(), /To restore anyway, tick “Restore despite …” under Force below/);
    assert.doesNotMatch(await refused.innerText(), /--force/);
    assert.equal(await page.getByRole('button', { name: 'Replace and restore' }).count(), 0, 'no run before force');
    const force = page.getByRole('group', { name: 'Force' });
    await force.getByText('the application reading this database may not expect it').waitFor();
    await captureScreen(page, 'restore-force');
    await force.getByLabel(/Restore despite/).check();
    await page.getByLabel(/Type RESTORE to confirm/).fill('RESTORE');
    await page.getByRole('button', { name: 'Replace and restore' }).click();
    await page.getByRole('heading', { name: 'Restored' }).waitFor({ timeout: 60_000 });
    assert.equal(await exists('public.added_later'), false);
    assert.equal(await count('sales.orders'), 5000);
  });

  test('a plan that changed before it ran is refused by the job and planned again', async () => {
    await page.goto(`/backups/${backupId}/restore`);
    await page.getByRole('radio', { name: /One database/ }).check();
    await page.getByRole('button', { name: 'Make the plan' }).click();
    await page.getByLabel(/Type RESTORE to confirm/).fill('RESTORE');
    assert.equal(await page.getByRole('list', { name: 'Checks' }).locator('.check-warn, .check-bad').count(), 0);
    // The target changes between reading the plan and running it.
    await suite.server.query(shop, 'create table public.made_meanwhile (id int)');
    await page.getByRole('button', { name: 'Replace and restore' }).click();
    await page.getByRole('heading', { name: 'The plan changed: nothing was restored' }).waitFor({ timeout: 60_000 });
    // The job made the plan again before writing: the new table fails the check the read plan passed.
    await page.getByRole('alert').filter({ hasText: 'restore refused: schema of' }).filter({ hasText: 'public.made_meanwhile exists only in the live database' }).waitFor();
    assert.equal(await exists('public.made_meanwhile'), true, 'the refused run changed nothing');
    await page.getByRole('button', { name: 'Plan again' }).click();
    await page.getByRole('list', { name: 'Checks' }).locator('.check-warn').filter({ hasText: 'public.made_meanwhile exists only in the live database' }).waitFor({ timeout: 30_000 });
    const restores = (await api<{ items: { status: string }[] }>('GET', '/api/v1/restores')).items;
    assert.deepEqual(restores.map((r) => r.status).slice(0, 2), ['succeeded', 'succeeded'], 'the refused run recorded no restore');
  });

  test('a running backup is cancelled from the Jobs screen', async () => {
    // A backup that cannot finish: its dump waits for a lock this session holds.
    const holder = new pg.Client({ connectionString: suite.server.urlFor(shop) });
    await holder.connect();
    try {
      await holder.query('begin; lock table sales.orders in access exclusive mode');
      const { jobId } = await api<{ jobId: string }>('POST', '/api/v1/targets/app/backups');
      await page.goto('/jobs');
      const row = page.locator(`tr[data-job="${jobId}"]`);
      await row.getByText('running', { exact: true }).first().waitFor();
      await row.getByRole('link').click();
      await page.getByRole('button', { name: 'Cancel job' }).click();
      const dialog = page.getByRole('dialog', { name: /Cancel the backup/ });
      await dialog.getByText(jobId).waitFor();
      await dialog.getByRole('button', { name: 'Cancel the job' }).click();
      const deadline = Date.now() + 30_000;
      let state = 'running';
      while (state === 'running' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        state = (await api<{ state: string }>('GET', `/api/v1/jobs/${jobId}`)).state;
      }
      assert.equal(state, 'cancelled');
      await page.locator('[data-state="cancelled"], .badge').filter({ hasText: 'cancelled' }).first().waitFor();
      const backups = (await api<{ items: { status: string }[] }>('GET', '/api/v1/backups?target=app')).items;
      assert.ok(!backups.some((b) => b.status === 'running'), 'no backup left running');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });
});
