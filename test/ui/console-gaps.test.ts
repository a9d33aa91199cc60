// The console's answers before acting, in a real browser against a real `lifeboat serve` and
// PostgreSQL: retention's preview follows the rules as they are typed (and nothing is saved);
// the first-run wizard shows the app and databases it found at the database step, before any
// backup; "Restore to n8n" is disabled with the reason while the target's n8n is down; the
// restore history shows one page, then the next; a backup's Prisma migrations are compared with
// the code deployed now. State is asserted in the API.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { Catalog } from '../../src/catalog/catalog.ts';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { seedN8n } from '../support/n8n.ts';
import { startFakeN8n } from '../support/n8n-api.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

describe('the console answers before the user acts', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let page: Page;
  let session: { cookie: string; csrf: string };
  let shop: string;
  let flows: string;
  let deadUrl: string;
  let webBackup: string;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await call(serve.url, method, path, { session, body });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
    return r.json<T>();
  };

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('gapshop');
    flows = await suite.server.createDatabase('gapflows');
    const web = await suite.server.createDatabase('gapweb');
    await Promise.all([seedShop(suite.server, shop), seedN8n(suite.server, flows)]);
    // A Prisma app with two migrations applied; the code deployed beside lifeboat.yaml has one.
    await suite.server.query(web, `create table "_prisma_migrations" (id varchar(36) primary key, checksum varchar(64) not null, finished_at timestamptz, migration_name varchar(255) not null,
      logs text, rolled_back_at timestamptz, started_at timestamptz not null default now(), applied_steps_count integer not null default 0);
      insert into "_prisma_migrations" values ('1', 'x', now(), '20260101000000_init', null, null, now(), 1), ('2', 'y', now(), '20260201000000_posts', null, null, now(), 1)`);
    mkdirSync(path.join(ws.dir, 'prisma', 'migrations', '20260101000000_init'), { recursive: true });
    writeFileSync(path.join(ws.dir, 'prisma', 'migrations', '20260101000000_init', 'migration.sql'), 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY);\n');
    // An n8n that was there and is gone: its port answers nothing.
    const dead = await startFakeN8n('k');
    await dead.stop();
    deadUrl = dead.url;
    const env = { LIFEBOAT_TEST_N8N_KEY: 'n8n-test-encryption-key' };
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n` +
        `  flows:\n    postgres: { url: "${suite.server.urlFor(flows)}", databases: [${flows}] }\n    storage: local\n    profile: n8n\n` +
        `    n8n: { encryptionKeyEnv: LIFEBOAT_TEST_N8N_KEY, url: "${deadUrl}", apiKey: some-key }\n` +
        `  web:\n    postgres: { url: "${suite.server.urlFor(web)}", databases: [${web}] }\n    storage: local\n    profile: auto\n`,
    );
    const [, webMade] = await Promise.all([ws.run(['backup', 'flows'], { env }).then((r) => assert.equal(r.code, 0, r.stderr)), ws.run(['backup', 'web', '--json'], { env }), addUser(ws, 'alice', 'admin', PASSWORD)]);
    assert.equal(webMade.code, 0, webMade.stderr);
    webBackup = webMade.json<{ id: string }>().id;
    [serve, browser] = await serveAndBrowser(startServe(ws, { env }));
    session = await signIn(serve.url, 'alice', PASSWORD);
    // A target created over the API (its retention is edited in the UI), with three backups.
    await api('POST', '/api/v1/targets', { name: 'side', config: { postgres: { url: suite.server.urlFor(shop), databases: [shop] }, storage: 'local', retention: { keepLast: 3 } } });
    for (let i = 0; i < 3; i++) assert.equal((await ws.run(['backup', 'side'])).code, 0);
    const context = await newContext(browser, serve.url);
    context.setDefaultTimeout(10_000);
    page = await context.newPage();
    await signInUi(page, 'alice', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('retention: typing keepLast changes the preview before saving; nothing is saved', async () => {
    await page.goto('/retention?target=side');
    const summary = page.locator('[data-field="summary"]');
    await summary.getByText('Keeps 3, would delete 0 of 3 backups', { exact: false }).waitFor();
    await page.getByLabel('Last', { exact: true }).fill('1');
    await page.locator('[data-field="summary"][data-draft="true"]').getByText('Keeps 1, would delete 2 of 3 backups', { exact: false }).waitFor();
    await page.getByRole('heading', { name: 'What the rules as typed would do now' }).waitFor();
    assert.equal(await page.locator('tr[data-result="would-delete"]').count(), 2);
    await captureScreen(page, 'retention-draft');
    // A value the rules do not take: the server's message, beside the form.
    await page.getByLabel('Within').fill('soon');
    await page.getByRole('alert').filter({ hasText: 'retention.keepWithin' }).waitFor();
    await page.getByLabel('Within').fill('');
    await page.getByLabel('Last', { exact: true }).fill('2');
    await page.locator('[data-field="summary"][data-draft="true"]').getByText('Keeps 2, would delete 1 of 3', { exact: false }).waitFor();
    // Nothing was saved: the target still keeps 3, and no deletion was announced.
    const side = await api<{ config: { retention: Record<string, unknown> } }>('GET', '/api/v1/targets/side');
    assert.equal(side.config.retention.keepLast, 3);
    assert.equal((await api<{ items: unknown[] }>('GET', '/api/v1/backups?target=side&pendingDeletion=true')).items.length, 0);
    // Undo: back to the saved rules' preview.
    await page.getByRole('button', { name: 'Undo changes' }).click();
    await page.locator('[data-field="summary"]:not([data-draft])').getByText('Keeps 3, would delete 0 of 3', { exact: false }).waitFor();
  });

  test('the wizard shows the detected app and the databases at the database step, before any backup', async () => {
    await page.goto('/welcome');
    await page.getByRole('heading', { name: 'Where should backups go?' }).waitFor();
    await page.getByLabel('Configured storages').selectOption('local');
    await page.getByRole('status', { name: 'test of storage local' }).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('heading', { name: 'Which database?' }).waitFor();
    await page.getByLabel('Target name').fill('wizflows');
    await page.getByLabel('Connection URL').fill(suite.server.urlFor(flows));
    await page.getByLabel('Databases to back up').fill(flows);
    await page.getByRole('button', { name: 'Create and test connection' }).click();
    const found = page.getByRole('region', { name: 'what Lifeboat found' });
    await found.waitFor({ timeout: 20_000 });
    assert.equal(await found.locator('[data-field="profile"]').innerText(), 'n8n');
    const dbs = found.getByRole('list', { name: 'databases found' });
    assert.match(await dbs.innerText(), new RegExp(`${flows}: \\d+ tables, .+, n8n`));
    assert.equal((await api<{ items: unknown[] }>('GET', '/api/v1/backups?target=wizflows')).items.length, 0, 'found before any backup');
    await captureScreen(page, 'wizard-detected');
  });

  test('"Restore to n8n" is disabled with the reason while the target\'s n8n is down', async () => {
    const [backup] = (await api<{ items: { id: string }[] }>('GET', '/api/v1/backups?target=flows')).items;
    await page.goto(`/backups/${backup!.id}?tab=workflows`);
    await page.getByRole('table', { name: 'Workflows' }).waitFor();
    await page.getByText(`n8n at ${deadUrl} is not reachable (ECONNREFUSED)`).waitFor();
    const push = page.getByRole('button', { name: 'Restore to n8n (Invoice sync)' });
    assert.equal(await push.isDisabled(), true);
    assert.match((await push.getAttribute('title')) ?? '', /not reachable.*start n8n, or check n8n\.url/);
    // The API agrees: configured, not reachable.
    const answer = await api<{ configured: boolean; reachable: boolean }>('GET', '/api/v1/targets/flows/n8n');
    assert.deepEqual([answer.configured, answer.reachable], [true, false]);
  });

  test('the restore history shows 25, then the rest', async () => {
    const catalog = Catalog.open(ws.home);
    try {
      for (let i = 0; i < 30; i++) {
        const id = `hist${String(i).padStart(3, '0')}`;
        catalog.startRestore({ id, backupId: 'side-x', requestedBy: 'alice', plan: { tables: [{ action: 'replace', table: `public.t${i}` }] } });
        catalog.finishRestore(id, { status: 'succeeded', report: {} });
      }
    } finally {
      catalog.close();
    }
    await page.goto('/restores');
    const rows = page.locator('tr[data-restore]');
    await page.getByText('25 restores shown').waitFor();
    assert.equal(await rows.count(), 25);
    assert.equal(await rows.first().getAttribute('data-restore'), 'hist029');
    await captureScreen(page, 'restores');
    // On a phone each restore is a card: nothing scrolls sideways, and its status is on screen.
    await page.setViewportSize({ width: 390, height: 844 });
    const wrap = await page.locator('.table-wrap').evaluate((e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
    assert.ok(wrap.scroll <= wrap.client, `the restores table scrolls sideways at 390 px (${wrap.scroll} > ${wrap.client})`);
    const status = await rows.first().getByText('succeeded').boundingBox();
    assert.ok(status && status.x + status.width <= 390, 'the status is on screen at 390 px');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('button', { name: 'Show 25 more' }).click();
    await page.getByText('30 restores shown (all)').waitFor();
    assert.equal(await rows.count(), 30);
    assert.equal(await rows.last().getAttribute('data-restore'), 'hist000');
    assert.equal(await page.getByRole('button', { name: 'Show 25 more' }).count(), 0);
  });

  test('the Migrations tab compares the backup with the code deployed now', async () => {
    await page.goto(`/backups/${webBackup}?tab=migrations`);
    await page.getByRole('table', { name: 'Migrations' }).getByText('20260201000000_posts').waitFor();
    const checks = page.getByRole('list', { name: 'Compatibility checks' });
    await checks.locator('.check-bad').filter({ hasText: 'the backup is newer than the code: 20260201000000_posts not in' }).waitFor();
    await page.getByText('A restore of this backup is refused until the matching code is deployed, unless forced.').waitFor();
    const answer = await api<{ checks: { name: string; ok: boolean }[] }>('GET', `/api/v1/backups/${webBackup}/compatibility`);
    assert.deepEqual(answer.checks.find((c) => c.name === 'prisma migrations')?.ok, false);
    assert.equal(await checks.locator('.check-bad').count(), answer.checks.filter((c) => !c.ok).length);
  });
});
