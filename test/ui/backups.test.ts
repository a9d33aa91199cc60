// The Backups screens in a real browser against a real `lifeboat serve` and PostgreSQL: back up
// now and follow it to the end; the pending-deletion banner and cancel; protect and unprotect;
// a backup's contents (a table's columns, n8n workflows downloaded as JSON); the restore wizard
// beside the live table and in place (typed RESTORE), checked in PostgreSQL; what a viewer and
// an operator see. State is asserted in the API and in PostgreSQL.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { seedN8n } from '../support/n8n.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

interface Row {
  id: string;
  target: string;
  status: string;
  protected: boolean;
  deletion: { status: string };
}

describe('the Backups screens', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let session: { cookie: string; csrf: string };
  let shop: string;
  let appBackup: string;
  let flowsOld: string;
  let flowsNew: string;

  const list = async (query: string) => (await call(serve.url, 'GET', `/api/v1/backups?${query}`, { session })).json<{ items: Row[] }>().items;
  const count = async (table: string) => Number((await suite.server.query<{ n: string }>(shop, `select count(*) as n from ${table}`))[0]!.n);

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('uishop');
    const flows = await suite.server.createDatabase('uiflows');
    await Promise.all([seedShop(suite.server, shop), seedN8n(suite.server, flows)]);
    const conf = path.join(ws.dir, 'conf');
    mkdirSync(path.join(conf, 'nginx'), { recursive: true });
    writeFileSync(path.join(conf, 'app.env'), 'MODE=production\n');
    writeFileSync(path.join(conf, 'nginx', 'site.conf'), 'server { listen 80; }\n');
    const n8n = JSON.stringify({ encryptionKeyEnv: 'LIFEBOAT_TEST_N8N_KEY' });
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n` +
        `  app:\n    postgres: { url: "${suite.server.urlFor(shop)}", databases: [${shop}] }\n    storage: local\n    files:\n      conf: [${conf}]\n` +
        `  flows:\n    postgres: { url: "${suite.server.urlFor(flows)}", databases: [${flows}] }\n    storage: local\n    profile: n8n\n    n8n: ${n8n}\n` +
        `    retention: { keepLast: 1, notifyBeforeDeleteHours: 18 }\n`,
    );
    const env = { LIFEBOAT_TEST_N8N_KEY: 'n8n-test-encryption-key' };
    // Two backups of flows: retention after the second announces the first's deletion.
    const backups = async () => {
      for (let i = 0; i < 2; i++) {
        const r = await ws.run(['backup', 'flows'], { env });
        assert.equal(r.code, 0, r.stderr);
      }
    };
    await Promise.all([backups(), addUser(ws, 'alice', 'admin', PASSWORD), addUser(ws, 'olivia', 'operator', PASSWORD), addUser(ws, 'victor', 'viewer', PASSWORD)]);
    [serve, browser] = await serveAndBrowser(startServe(ws, { env }));
    session = await signIn(serve.url, 'alice', PASSWORD);
    const rows = await list('target=flows&sort=startedAt&order=asc');
    [flowsOld, flowsNew] = rows.map((r) => r.id) as [string, string];
    assert.equal(rows[0]!.deletion.status, 'pending', 'retention announced the older backup');
    admin = await newContext(browser, serve.url);
    // A step that fails fails fast, not after 30 s: the screens answer in well under a second.
    admin.setDefaultTimeout(10_000);
    page = await admin.newPage();
    await signInUi(page, 'alice', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('back up now: the progress bar reaches the end and the new backup is listed', async () => {
    await page.getByRole('link', { name: 'Backups', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Backups' }).waitFor();
    await page.getByText('Storage:').waitFor();
    await page.getByRole('button', { name: 'Back up now' }).click();
    const dialog = page.getByRole('dialog', { name: 'Back up now' });
    await dialog.getByLabel('Target').selectOption('app');
    await dialog.getByRole('button', { name: 'Start backup' }).click();
    const progress = dialog.locator('.job-progress[data-state="succeeded"]');
    await progress.waitFor({ timeout: 60_000 });
    assert.equal(await dialog.getByRole('progressbar').evaluate((p) => (p as HTMLProgressElement).value), 1);
    const [made] = await list('target=app');
    assert.equal(made?.status, 'ok');
    appBackup = made.id;
    await dialog.getByRole('link', { name: appBackup }).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).first().click();
    await page.locator(`tr[data-backup="${appBackup}"]`).waitFor();
    await captureScreen(page, 'backups-list');
  });

  test('the pending-deletion banner names the backups and cancels their deletion', async () => {
    const banner = page.getByRole('region', { name: 'Pending deletion' });
    await banner.getByText('1 backup pending deletion').waitFor();
    await banner.getByRole('button', { name: 'Cancel deletion' }).click();
    const dialog = page.getByRole('dialog', { name: 'Keep 1 backup' });
    await dialog.getByText(flowsOld).waitFor();
    await dialog.getByRole('button', { name: 'Cancel deletion of 1' }).click();
    await banner.waitFor({ state: 'detached' });
    const b = (await call(serve.url, 'GET', `/api/v1/backups/${flowsOld}`, { session })).json<{ backup: { deletionStatus: string; protected: boolean } }>().backup;
    assert.deepEqual([b.deletionStatus, b.protected], ['none', true]);
  });

  test('protect and unprotect from the row; a protected backup is not offered for deletion', async () => {
    const row = page.locator(`tr[data-backup="${appBackup}"]`);
    await row.getByRole('button', { name: `Protect ${appBackup}` }).click();
    await row.getByRole('button', { name: `Unprotect ${appBackup}` }).waitFor();
    assert.equal((await list('target=app'))[0]!.protected, true);
    await row.getByRole('button', { name: `Delete ${appBackup}` }).click();
    const notice = page.getByRole('dialog', { name: `Backup ${appBackup} is protected` });
    await notice.getByText('Unprotect it first').waitFor();
    await notice.getByRole('button', { name: 'Close' }).first().click();
    await row.getByRole('button', { name: `Unprotect ${appBackup}` }).click();
    await row.getByRole('button', { name: `Protect ${appBackup}` }).waitFor();
    assert.equal((await list('target=app'))[0]!.protected, false);
  });

  test('filters live in the address: protected ones only, then cleared', async () => {
    await page.getByLabel('Protected').selectOption('true');
    await page.waitForURL(/protected=true/);
    await page.locator(`tr[data-backup="${flowsOld}"]`).waitFor();
    assert.equal(await page.locator(`tr[data-backup="${appBackup}"]`).count(), 0);
    await page.reload();
    assert.equal(await page.getByLabel('Protected').inputValue(), 'true');
    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.locator(`tr[data-backup="${appBackup}"]`).waitFor();
  });

  test('the contents: search a table and read its columns and types', async () => {
    await page.getByRole('link', { name: `Contents of ${appBackup}` }).click();
    await page.getByRole('heading', { name: `Backup ${appBackup}` }).waitFor();
    await page.getByLabel('Search tables').fill('orders');
    await page.getByText('1 table match “orders”').waitFor();
    await page.locator('summary', { hasText: 'show the columns of sales.orders' }).click();
    const columns = page.getByRole('table', { name: 'Columns of sales.orders' });
    const customer = columns.getByRole('row', { name: /customer_id/ });
    assert.match(await customer.innerText(), /integer/);
    await captureScreen(page, 'backup-detail-databases');
    await page.getByRole('tab', { name: /Files/ }).click();
    await page.getByText('set conf').waitFor();
    // The check after the backup is its first verification report; the job's log is kept too.
    await page.getByRole('tab', { name: 'Verification' }).click();
    const report = page.getByRole('table', { name: 'Checks of the quick verification' });
    await report.waitFor();
    assert.ok((await report.locator('.check-ok').count()) > 0);
    assert.equal(await report.locator('.check-bad').count(), 0);
    await page.getByRole('tab', { name: 'Job log' }).click();
    await page.getByRole('list', { name: 'job log' }).waitFor();
    await page.getByRole('tab', { name: /Copies/ }).click();
    await page.getByRole('table', { name: 'Copies' }).getByText('local').waitFor();
  });

  test('n8n workflows: one downloads as its JSON; restore to n8n says why it is unavailable', async () => {
    await page.goto(`/backups/${flowsNew}?tab=workflows`);
    await page.getByRole('table', { name: 'Workflows' }).waitFor();
    await page.getByLabel('Search workflows').fill('invoice');
    await page.getByText('1 of 3').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download JSON of Invoice sync' }).click()]);
    const json = JSON.parse(readFileSync(await download.path(), 'utf8')) as { id: string; name: string; active: boolean; nodes: { type: string }[] };
    assert.equal(json.name, 'Invoice sync');
    assert.equal(json.id, 'wF1nvoiceSync001');
    assert.equal(json.active, false);
    assert.deepEqual(json.nodes.map((n) => n.type), ['n8n-nodes-base.webhook', 'n8n-nodes-base.stripe']);
    const push = page.getByRole('button', { name: 'Restore to n8n (Invoice sync)' });
    assert.equal(await push.isDisabled(), true);
    await page.getByText('no running n8n is configured for target flows').waitFor();
    await page.getByText(/_backup_\d{8}/).first().waitFor();
    await page.getByRole('tab', { name: 'Credentials' }).click();
    await page.getByRole('table', { name: 'Credentials' }).getByText('Stripe live').waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), /SECRET/);
    await captureScreen(page, 'backup-detail-credentials');
  });

  test('restore one table beside the live one through the wizard', async () => {
    await page.goto(`/backups/${appBackup}`);
    await page.getByRole('link', { name: 'Restore…' }).click();
    await page.getByRole('heading', { name: `Restore from ${appBackup}` }).waitFor();
    await page.getByLabel(/One or more tables/).check();
    await page.getByLabel('public.customers').check();
    await page.getByLabel(/Beside, as/).check();
    await page.getByLabel('New table name (same schema)').fill('customers_restored');
    await page.getByRole('button', { name: 'Make the plan' }).click();
    const checks = page.getByRole('list', { name: 'Checks' });
    await checks.waitFor({ timeout: 30_000 });
    assert.equal(await checks.locator('.check-bad').count(), 0, await checks.innerText());
    await page.getByText('Restore beside the live table').waitFor();
    await captureScreen(page, 'restore-plan');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('heading', { name: 'Restored' }).waitFor({ timeout: 60_000 });
    assert.equal(await count('public.customers_restored'), 1000);
    assert.equal(await count('public.customers'), 1000);
  });

  test('replace a table in place: the plan asks for RESTORE; the rows come back; the safety backup is linked', async () => {
    await suite.server.query(shop, 'delete from sales.orders where id > 100');
    await page.goto(`/backups/${appBackup}/restore`);
    await page.getByLabel(/One or more tables/).check();
    await page.getByLabel('Find a table').fill('orders');
    await page.getByLabel('sales.orders').check();
    await page.getByRole('button', { name: 'Make the plan' }).click();
    await page.getByText('This replaces existing data.').first().waitFor({ timeout: 30_000 });
    const run = page.getByRole('button', { name: 'Replace and restore' });
    assert.equal(await run.isDisabled(), true, 'not before RESTORE is typed');
    await page.getByLabel(/Type RESTORE to confirm/).fill('RESTORE');
    await run.click();
    await page.getByRole('heading', { name: 'Restored' }).waitFor({ timeout: 60_000 });
    assert.equal(await count('sales.orders'), 5000);
    const restores = (await call(serve.url, 'GET', '/api/v1/restores', { session })).json<{ items: { status: string; safetyBackupId: string | null }[] }>().items;
    assert.deepEqual(restores.map((r) => r.status), ['succeeded', 'succeeded']);
    const safety = restores[0]!.safetyBackupId;
    assert.ok(safety, 'replacing rows took a safety backup');
    await page.getByRole('link', { name: safety }).click();
    await page.getByRole('heading', { name: `Backup ${safety}` }).waitFor();
  });

  test('a viewer sees no restore, delete, download or protect control; an operator sees restore', async () => {
    // Signed in over the API (the login page has its own tests), in one browser profile.
    const other = await newContext(browser, serve.url);
    other.setDefaultTimeout(10_000);
    const as = async (name: string) => {
      const [cookieName, value] = (await signIn(serve.url, name, PASSWORD)).cookie.split('=') as [string, string];
      await other.clearCookies();
      await other.addCookies([{ name: cookieName, value, url: serve.url }]);
    };
    const v = await other.newPage();
    await as('victor');
    await v.goto('/backups');
    await v.locator(`tr[data-backup="${appBackup}"]`).waitFor();
    for (const name of ['Back up now', /^Delete /, /^Protect /, /^Unprotect /, /^Verify /, 'Cancel deletion']) assert.equal(await v.getByRole('button', { name }).count(), 0, `viewer sees ${String(name)}`);
    assert.equal(await v.getByRole('link', { name: /^Download / }).count(), 0);
    await v.goto(`/backups/${appBackup}`);
    await v.getByRole('heading', { name: `Backup ${appBackup}` }).waitFor();
    assert.equal(await v.getByRole('link', { name: 'Restore…' }).count(), 0);
    await v.goto(`/backups/${appBackup}/restore`);
    await v.getByText('Your role may not restore.').waitFor();

    await as('olivia');
    await v.goto(`/backups/${appBackup}`);
    await v.getByRole('link', { name: 'Restore…' }).waitFor();
    await v.getByRole('link', { name: `Download ${appBackup}` }).waitFor();
    // Deleting is an admin's: the operator is not offered it, and the API agrees.
    assert.equal(await v.getByRole('button', { name: `Delete ${appBackup}` }).count(), 0);
    const op = await signIn(serve.url, 'olivia', PASSWORD);
    assert.equal((await call(serve.url, 'DELETE', `/api/v1/backups/${appBackup}`, { session: op })).status, 403);
    await other.close();
  });
});
