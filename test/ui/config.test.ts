// The config and admin screens in a real browser against a real `lifeboat serve` and PostgreSQL:
// the first-run wizard (storage, target, schedule, first backup), a channel tested against a
// local receiver, an API token shown once and revoked, users of each role seeing what their
// role allows (and the API agreeing), the audit log and its chain. Assertions read the API and
// PostgreSQL, not the page's messages alone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { startReceiver } from '../support/receiver.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

/** A database URL as the API shows it: the password (if any) as ***. */
function redacted(raw: string): string {
  const url = new URL(raw);
  if (url.password) url.password = '***';
  return url.toString();
}

describe('the web UI: wizard, targets, storages, notifications, admin', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let admin: { cookie: string; csrf: string };
  let context: BrowserContext;
  let page: Page;
  let db: string;

  before(async () => {
    ws = suite.workspace();
    db = await suite.server.createDatabase('uiconfig');
    await seedShop(suite.server, db);
    receiver = await startReceiver();
    // One storage and one channel from the file: read-only in the UI.
    ws.writeConfig(`storages:\n  filestore: { type: local, path: ${ws.storage} }\ntargets: {}\nnotifications:\n  filehook: { type: webhook, url: "${receiver.url}/file", on: [backup_failed] }\n`);
    [serve, browser] = await serveAndBrowser(startServe(ws));
    const setup = await call(serve.url, 'POST', '/api/v1/setup', { body: { token: await serve.setupToken(), name: 'admin', password: PASSWORD } });
    assert.equal(setup.status, 201, setup.text);
    admin = await signIn(serve.url, 'admin', PASSWORD);
    context = await newContext(browser, serve.url);
    page = await context.newPage();
    await signInUi(page, 'admin', PASSWORD);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
    await receiver?.stop();
  });

  const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const r = await call(serve.url, method, p, { session: admin, body });
    assert.ok(r.status < 300, `${method} ${p}: ${r.status} ${r.text}`);
    return r.json<T>();
  };

  test('the wizard creates a storage and a target, adds a schedule and retention, and runs the first backup to success', async () => {
    await page.goto('/welcome');
    await page.getByRole('heading', { name: 'Where should backups go?' }).waitFor();
    await page.getByLabel('Storage', { exact: true }).selectOption('new');
    const storagePath = path.join(ws.dir, 'wizard-backups');
    await page.getByLabel('Storage name').fill('wizstore');
    await page.getByLabel('Path').fill(storagePath);
    await page.getByRole('button', { name: 'Create and test storage' }).click();
    const storageTest = page.getByRole('status', { name: 'test of storage wizstore' });
    await storageTest.waitFor();
    assert.equal(await storageTest.getAttribute('data-ok'), 'true');
    assert.match(await storageTest.innerText(), /free space: \d/);
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByRole('heading', { name: 'Which database?' }).waitFor();
    await page.getByLabel('Target name').fill('shop');
    await page.getByLabel('Connection URL').fill(suite.server.urlFor(db));
    await page.getByLabel('Databases to back up').fill(db);
    await page.getByRole('button', { name: 'Create and test connection' }).click();
    const targetTest = page.getByRole('status', { name: 'test of target shop' });
    await targetTest.waitFor();
    assert.equal(await targetTest.getAttribute('data-ok'), 'true', await targetTest.innerText());
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByLabel('When to back up', { exact: true }).selectOption('daily at 02:00');
    await page.getByText('Next runs:').waitFor();
    await page.getByLabel('How long to keep backups', { exact: true }).selectOption('small');
    await page.getByRole('button', { name: 'Save schedule and retention' }).click();
    await page.getByText('Saved:').waitFor();
    await page.getByRole('button', { name: 'Next' }).click();

    await page.getByRole('button', { name: 'Back up shop now' }).click();
    const progress = page.locator('.job-progress:not([data-state="running"])');
    await progress.waitFor({ timeout: 60_000 });
    assert.equal(await progress.getAttribute('data-state'), 'succeeded', await progress.innerText());
    const done = page.getByRole('status', { name: 'first backup' });
    await done.waitFor();
    assert.match(await done.innerText(), new RegExp(`Databases found\\s+${db} \\(3 tables\\)`));
    await captureScreen(page, 'config-wizard');

    // The API holds what the wizard made: the objects (created here, the URL sealed), the
    // schedule, the retention, and a backup that succeeded into the new storage.
    const storage = await api<{ source: string; config: { type: string; path: string } }>('GET', '/api/v1/storages/wizstore');
    assert.deepEqual([storage.source, storage.config.type, storage.config.path], ['api', 'local', storagePath]);
    const target = await api<{ source: string; config: { postgres: { url: string; databases: string[] }; storage: unknown; retention: Record<string, number> } }>('GET', '/api/v1/targets/shop');
    assert.equal(target.source, 'api');
    assert.equal(target.config.postgres.url, redacted(suite.server.urlFor(db)));
    assert.deepEqual(target.config.postgres.databases, [db]);
    assert.equal(target.config.retention.keepLast, 7);
    const schedules = await api<{ items: { target: string; spec: string }[] }>('GET', '/api/v1/schedules');
    assert.deepEqual(schedules.items.filter((s) => s.target === 'shop').map((s) => s.spec), ['daily at 02:00']);
    const backups = await api<{ items: { id: string; status: string; locations: { storage: string; status: string }[] }[] }>('GET', '/api/v1/backups?target=shop');
    assert.equal(backups.items.length, 1);
    assert.equal(backups.items[0]!.status, 'ok');
    assert.deepEqual(backups.items[0]!.locations.map((l) => [l.storage, l.status]), [['wizstore', 'ok']]);
    // ...and its manifest counted the rows PostgreSQL has.
    const { manifest } = await api<{ manifest: { postgres: { databases: { name: string; tables: { schema: string; name: string; rows: number }[] }[] } } }>('GET', `/api/v1/backups/${backups.items[0]!.id}`);
    const orders = manifest.postgres.databases[0]!.tables.find((t) => t.schema === 'sales' && t.name === 'orders');
    const [live] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from sales.orders');
    assert.equal(orders?.rows, Number(live!.n));
    assert.ok(existsSync(storagePath));
  });

  test('targets and storages: the file\'s are read-only with a note, those created here editable; a used storage cannot be removed', async () => {
    await page.goto('/storages');
    const fileCard = page.getByRole('article', { name: 'filestore' });
    await fileCard.getByText('Defined in lifeboat.yaml').waitFor();
    assert.equal(await fileCard.getByRole('button', { name: 'Edit storage filestore' }).count(), 0);
    const wizCard = page.getByRole('article', { name: 'wizstore' });
    await wizCard.getByText(/Backups\s*1/).waitFor();
    await captureScreen(page, 'config-storages');
    // Removing a storage a target uses: the server's reason is shown, and nothing is removed.
    await wizCard.getByRole('button', { name: 'Remove storage wizstore' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove storage wizstore?' });
    await dialog.getByRole('button', { name: 'Remove storage wizstore' }).click();
    await dialog.getByRole('alert').getByText('is used by target(s) shop').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await call(serve.url, 'GET', '/api/v1/storages/wizstore', { session: admin })).status, 200);

    await page.goto('/targets');
    await page.getByRole('link', { name: 'shop' }).click();
    await page.getByRole('heading', { name: 'Target shop' }).waitFor();
    await page.getByText(/Last backup\s*shop-/).waitFor();
    await captureScreen(page, 'config-target');
    // Edit: the stored connection is kept (not shown, not sent), globals switched on.
    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit target shop' });
    await edit.getByRole('button', { name: 'Replace connection url' }).waitFor();
    await edit.getByLabel('Include roles and tablespaces (globals)').check();
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.waitFor({ state: 'hidden' });
    const changed = await api<{ config: { postgres: { globals: boolean; url: string } } }>('GET', '/api/v1/targets/shop');
    assert.deepEqual([changed.config.postgres.globals, changed.config.postgres.url], [true, redacted(suite.server.urlFor(db))]);
    const test = await call(serve.url, 'POST', '/api/v1/targets/shop/test', { session: admin });
    assert.equal(test.json<{ ok: boolean }>().ok, true, 'the kept connection still works');
  });

  test('a channel made here, tested against a local receiver: the page shows the outcome and the receiver got it', async () => {
    await page.goto('/channels');
    await page.getByRole('article', { name: 'filehook' }).getByText('Defined in lifeboat.yaml').waitFor();
    await page.getByRole('button', { name: 'Add channel' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a channel' });
    await dialog.getByLabel('Channel name').fill('ops');
    await dialog.getByLabel('URL', { exact: true }).fill(`${receiver.url}/ops`);
    await dialog.getByLabel('Signing secret').fill('a signing secret of some length');
    await dialog.getByLabel('backup succeeded').check();
    // Every event the engine raises is offered, the drill's included (the list is the engine's own).
    await dialog.getByLabel('drill failed').waitFor();
    await dialog.getByRole('button', { name: 'Create channel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const card = page.getByRole('article', { name: 'ops' });
    const before = receiver.requests.length;
    await card.getByRole('button', { name: 'Test channel ops' }).click();
    const outcome = card.getByRole('status', { name: 'test of channel ops' });
    await outcome.waitFor();
    assert.equal(await outcome.getAttribute('data-ok'), 'true');
    assert.match(await outcome.innerText(), /delivered: HTTP 200/);
    const got = receiver.requests.slice(before).filter((r) => r.url === '/ops');
    assert.equal(got.length, 1);
    assert.equal(JSON.parse(got[0]!.body).event, 'test');
    assert.match(String(got[0]!.headers['x-lifeboat-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
    // Routing as configured: backup_succeeded goes to ops only; the secret reads "set".
    await page.getByRole('row', { name: /^backup succeeded ops$/ }).waitFor();
    const ch = await api<{ config: { secret: string; on: string[] } }>('GET', '/api/v1/channels/ops');
    assert.deepEqual([ch.config.secret, ch.config.on], ['set', ['backup_succeeded']]);
    await captureScreen(page, 'config-channels');
  });

  test('an API token is shown once, works with Bearer, and stops working when revoked', async () => {
    await page.goto('/admin/tokens');
    // Keyboard only: Enter opens the dialog and submits its form.
    await page.getByRole('button', { name: 'Create token' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create an API token' });
    await dialog.getByLabel('Token name').fill('ci');
    await page.keyboard.press('Enter');
    const shown = page.getByLabel('the new token');
    await shown.waitFor();
    const token = (await shown.innerText()).trim();
    assert.match(token, /^lb_/);
    assert.equal((await call(serve.url, 'GET', '/api/v1/targets', { token })).status, 200);
    await captureScreen(page, 'config-tokens');
    // Once: after a reload the page lists the token but no longer has it.
    await page.reload();
    await page.getByRole('cell', { name: 'ci', exact: true }).waitFor();
    assert.equal(await page.getByText(token).count(), 0);
    // The confirmation names the token and takes the focus: Escape leaves it, Enter revokes.
    await page.getByRole('button', { name: 'Revoke token ci' }).focus();
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('dialog', { name: 'Revoke token ci?' });
    await confirm.getByText('The token ci of admin (read) stops working').waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Revoke token ci', 'focus returns to what opened it');
    assert.equal((await call(serve.url, 'GET', '/api/v1/targets', { token })).status, 200);
    await page.keyboard.press('Enter');
    const revoke = confirm.getByRole('button', { name: 'Revoke ci' });
    await revoke.waitFor();
    // Focus stays inside the dialog; Tab reaches the confirmation.
    for (let i = 0; i < 4 && !(await revoke.evaluate((b) => b === document.activeElement)); i++) {
      assert.equal(await confirm.evaluate((d) => d.contains(document.activeElement)), true);
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Revoke token ci' }).waitFor({ state: 'detached' });
    assert.equal((await call(serve.url, 'GET', '/api/v1/targets', { token })).status, 401);
  });

  test('users made in Admin see what their role allows, and the API agrees', async () => {
    await page.goto('/admin/users');
    for (const [name, role] of [['vera', 'viewer'], ['otto', 'operator']] as const) {
      await page.getByRole('button', { name: 'Add user' }).click();
      const dialog = page.getByRole('dialog', { name: 'Add a user' });
      await dialog.getByLabel('User name').fill(name);
      await dialog.getByLabel('Role').selectOption(role);
      await dialog.getByLabel('Password (at least 12 characters)').fill(PASSWORD);
      await dialog.getByRole('button', { name: 'Create user' }).click();
      await dialog.waitFor({ state: 'hidden' });
    }
    // The last admin cannot be demoted: the server's message is shown and nothing changes.
    await page.getByLabel('Role of admin').selectOption('viewer');
    await page.getByRole('alert').getByText(/last admin/).waitFor();
    await captureScreen(page, 'config-users');
    const users = await api<{ items: { name: string; role: string }[] }>('GET', '/api/v1/users');
    assert.deepEqual(users.items.map((u) => [u.name, u.role]).sort(), [['admin', 'admin'], ['otto', 'operator'], ['vera', 'viewer']]);

    for (const name of ['vera', 'otto']) {
      const ctx = await newContext(browser, serve.url);
      const p = await ctx.newPage();
      await signInUi(p, name, PASSWORD);
      const nav = p.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Notifications' }).waitFor();
      assert.equal(await nav.getByRole('heading', { name: 'Admin' }).count(), 0, `${name} sees no Admin group`);
      await p.goto('/channels');
      await p.getByRole('article', { name: 'ops' }).waitFor();
      assert.equal(await p.getByRole('button', { name: 'Add channel' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Edit channel ops' }).count(), 0);
      const testButtons = await p.getByRole('button', { name: 'Test channel ops' }).count();
      await p.goto('/targets');
      await p.getByRole('link', { name: 'shop' }).waitFor();
      assert.equal(await p.getByRole('button', { name: 'Add target' }).count(), 0);
      await p.goto('/storages');
      await p.getByRole('article', { name: 'wizstore' }).waitFor();
      assert.equal(await p.getByRole('button', { name: 'Add storage' }).count(), 0);
      assert.equal(await p.getByRole('button', { name: 'Remove storage wizstore' }).count(), 0);
      // The browser's own session (no second password check: argon2 is slow on a busy machine).
      const cookie = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const csrf = (await call(serve.url, 'GET', '/api/v1/session', { headers: { cookie } })).json<{ csrfToken: string }>().csrfToken;
      const session = { cookie, csrf };
      const channelTest = await call(serve.url, 'POST', '/api/v1/channels/ops/test', { session });
      const createTarget = await call(serve.url, 'POST', '/api/v1/targets', { session, body: { name: 'x', config: { storage: 'filestore' } } });
      assert.equal(createTarget.status, 403, 'neither may create a target');
      if (name === 'vera') {
        assert.equal(testButtons, 0, 'a viewer has no Test button');
        await p.goto('/welcome');
        await p.getByText('Only an admin can add storages and targets.').waitFor();
        assert.equal(await p.getByRole('button', { name: 'Create and test storage' }).count(), 0);
        assert.equal(channelTest.status, 403);
      } else {
        assert.equal(testButtons, 1, 'an operator can test channels');
        assert.equal(channelTest.status, 200);
        await p.goto('/channels');
        await p.getByRole('button', { name: 'Test channel ops' }).click();
        await p.getByRole('status', { name: 'test of channel ops' }).waitFor();
      }
      // Both reach their own tokens and sessions from the Account page.
      await p.getByRole('link', { name: new RegExp(`^${name}`) }).click();
      await p.getByRole('heading', { name: 'Your account' }).waitFor();
      if (name === 'vera') await captureScreen(p, 'config-account');
      await ctx.close();
    }
  });

  test('sessions: one\'s own listed; the audit log shows the token\'s creation and its chain verifies', async () => {
    await page.goto('/admin/sessions');
    await page.getByText('this browser').waitFor();
    await captureScreen(page, 'config-sessions');

    await page.goto('/admin/audit');
    await page.getByLabel('Action').fill('token.');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('row', { name: /admin token\.create ci ok/ }).waitFor();
    await page.getByRole('row', { name: /admin token\.revoke/ }).waitFor();
    await page.getByRole('button', { name: 'Verify chain' }).click();
    const result = page.getByRole('status').filter({ hasText: 'chain' });
    await result.waitFor();
    assert.match(await result.innerText(), /The chain is intact: \d+ entries/);
    await captureScreen(page, 'config-audit');
    const verify = await api<{ ok: boolean }>('GET', '/api/v1/audit/verify');
    assert.equal(verify.ok, true);
  });
});
