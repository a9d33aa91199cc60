// The operator's screens in a real browser against a real `lifeboat serve` and PostgreSQL:
// dashboard (health, back up now with live progress), jobs and a job's log, schedules (cron
// typed in, next five fire times, pause and resume), retention's preview keeping a protected
// backup, retention edited for a target created over the API, events marked read, and what a
// viewer does not see. Each assertion reads the API's state, not the page's toasts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

interface Health {
  lastBackup: { id: string; status: string } | null;
}
interface Target {
  name: string;
  source: string;
  config: Record<string, unknown>;
  health?: Health | null;
}
interface Schedule {
  id: number;
  target: string;
  spec: string;
  timezone: string;
  paused: boolean;
  source: string;
}

describe('the operator screens: dashboard, jobs, schedules, retention, events', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let admin: { cookie: string; csrf: string };
  let dbUrl: string;
  const password = 'correct horse battery';
  let firstBackup: string;
  let jobId: string;

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await call(serve.url, method, path, { session: admin, body });
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
    return r.json<T>();
  };
  const targets = async () => (await api<{ items: Target[] }>('GET', '/api/v1/targets')).items;

  before(async () => {
    ws = suite.workspace();
    const db = await suite.server.createDatabase('uiops');
    await seedShop(suite.server, db);
    dbUrl = suite.server.urlFor(db);
    // Keep one backup; a deletion is announced two days ahead, so the older one stays, pending.
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${dbUrl}", databases: [${db}] }\n    storage: local\n` +
        `    retention: { keepLast: 1, notifyBeforeDeleteHours: 48 }\n    verification: { every: 3 }\n`,
    );
    const backup = await ws.run(['backup', 'app', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    await addUser(ws, 'alice', 'admin', password);
    await addUser(ws, 'victor', 'viewer', password);
    [serve, browser] = await serveAndBrowser(startServe(ws));
    admin = await signIn(serve.url, 'alice', password);
    firstBackup = (await targets()).find((t) => t.name === 'app')!.health!.lastBackup!.id;
    context = await newContext(browser, serve.url);
    page = await context.newPage();
    await signInUi(page, 'alice', password);
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('the dashboard shows each target\'s last backup as the API has it; "back up now" shows its progress to the end', async () => {
    const card = page.getByRole('article', { name: 'app' });
    await card.getByRole('link', { name: firstBackup }).waitFor();
    assert.match(await card.innerText(), /Success, 30 days\s+100% \(1 of 1\)/);
    await captureScreen(page, 'dashboard');

    await card.getByRole('button', { name: 'Back up app now' }).click();
    const progress = card.locator('.job-progress');
    await progress.waitFor();
    jobId = (await progress.getAttribute('data-job'))!;
    await card.locator('.job-progress[data-state="succeeded"]').waitFor({ timeout: 60_000 });
    assert.equal(await card.getByRole('progressbar').evaluate((p) => (p as HTMLProgressElement).value), 1);
    const job = await api<{ state: string; outcome: { result: { backupId: string } } }>('GET', `/api/v1/jobs/${jobId}`);
    assert.equal(job.state, 'succeeded');
    // The card follows: its last backup is now the new one, as the API says.
    const last = (await targets()).find((t) => t.name === 'app')!.health!.lastBackup!;
    assert.equal(last.id, job.outcome.result.backupId);
    assert.notEqual(last.id, firstBackup);
    await card.getByRole('link', { name: last.id, exact: true }).waitFor();
  });

  test('the backup appears in Jobs; its detail shows the whole log', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    const row = page.locator(`tr[data-job="${jobId}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /backup\s+app\s+api\s+succeeded/);
    await page.getByLabel('Kind').selectOption('restore');
    await page.getByText('No job matches these filters.').waitFor();
    await page.getByLabel('Kind').selectOption('');
    await row.waitFor();
    await captureScreen(page, 'jobs');
    await row.getByRole('link').click();
    await page.getByRole('heading', { name: 'Job: backup of app' }).waitFor();
    const log = page.getByRole('list', { name: 'job log' });
    await log.waitFor();
    const apiLog = (await api<{ log: { message: string }[] }>('GET', `/api/v1/jobs/${jobId}`)).log;
    assert.ok(apiLog.length > 0);
    assert.equal(await log.getByRole('listitem').count(), apiLog.length);
    assert.match(await log.innerText(), new RegExp(apiLog.at(-1)!.message.slice(0, 30).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await captureScreen(page, 'job-detail');
  });

  test('a schedule with a cron typed in previews its next five runs in its zone; saved, paused and resumed as the API agrees', async () => {
    await page.goto('/schedules');
    await page.getByRole('button', { name: 'New schedule' }).click();
    const dialog = page.getByRole('dialog', { name: 'New schedule' });
    await dialog.getByLabel('When (a preset or a cron expression)').fill('30 1 * * 1-5');
    await dialog.getByLabel('Time zone').fill('America/New_York');
    const times = dialog.getByRole('list', { name: 'next fire times' }).getByRole('listitem');
    await dialog.getByText('Runs as 30 1 * * 1-5 in America/New_York').waitFor();
    assert.equal(await times.count(), 5);
    const expected = await api<{ next: string[] }>('GET', '/api/v1/schedules/preview?spec=30%201%20*%20*%201-5&timezone=America/New_York');
    const shown = await times.locator('time').evaluateAll((ts) => ts.map((t) => t.getAttribute('datetime')));
    assert.deepEqual(shown, expected.next.map((t) => new Date(t).toISOString()));
    // Shown in the schedule's zone (01:30 there), not the browser's (Europe/Berlin: 07:30).
    for (const t of await times.allInnerTexts()) assert.match(t, /1:30/);
    await captureScreen(page, 'schedule-form');
    await dialog.getByRole('button', { name: 'Add schedule' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const made = (await api<{ items: Schedule[] }>('GET', '/api/v1/schedules')).items.find((s) => s.source === 'api')!;
    assert.deepEqual([made.target, made.spec, made.timezone, made.paused], ['app', '30 1 * * 1-5', 'America/New_York', false]);

    const schedule = async () => (await api<{ items: Schedule[] }>('GET', '/api/v1/schedules')).items.find((s) => s.id === made.id)!;
    await page.getByRole('button', { name: `Pause: schedule ${made.id} of app` }).click();
    await page.getByRole('button', { name: `Resume: schedule ${made.id} of app` }).waitFor();
    assert.equal((await schedule()).paused, true);
    await captureScreen(page, 'schedules');
    await page.getByRole('button', { name: `Resume: schedule ${made.id} of app` }).click();
    await page.getByRole('button', { name: `Pause: schedule ${made.id} of app` }).waitFor();
    assert.equal((await schedule()).paused, false);
  });

  test('retention\'s preview keeps a backup protected over the API, saying "protected"; a file target\'s rules are read-only', async () => {
    await page.goto('/retention');
    // keepLast: 1 wants the older backup gone.
    await page.locator(`tr[data-backup="${firstBackup}"][data-result="would-delete"]`).waitFor();
    await page.getByText('targets.app.retention').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save retention' }).count(), 0);
    assert.equal(await page.getByLabel('Last', { exact: true }).inputValue(), '1');

    await api('POST', `/api/v1/backups/${firstBackup}/protect`, {});
    await page.reload();
    const kept = page.locator(`tr[data-backup="${firstBackup}"][data-result="kept"]`);
    await kept.waitFor();
    assert.match(await kept.locator('td.reasons').innerText(), /protected/);
    const preview = await api<{ items: { decisions: { id: string; result: string; reasons: string[] }[] }[] }>('GET', '/api/v1/retention?target=app');
    const d = preview.items[0]!.decisions.find((x) => x.id === firstBackup)!;
    assert.equal(d.result, 'kept');
    assert.ok(d.reasons.some((r) => r.startsWith('protected')));
    await captureScreen(page, 'retention');
  });

  test('the retention and verification of a target created over the API are edited here', async () => {
    await api('POST', '/api/v1/targets', { name: 'side', config: { postgres: { url: dbUrl }, storage: 'local' } });
    await page.goto('/retention?target=side');
    await page.getByRole('heading', { name: 'Retention of side' }).waitFor();
    await page.getByLabel('Daily', { exact: true }).fill('7');
    await page.getByLabel('Max total size').fill('50GB');
    await page.getByRole('button', { name: 'Save retention' }).click();
    await page.getByText('Saved.').waitFor();
    let side = (await targets()).find((t) => t.name === 'side')!;
    assert.deepEqual({ ...(side.config.retention as object) }, { keepDaily: 7, maxTotalSize: '50GB', minKeep: 1 });

    // A bad value is the API's message, and nothing changes.
    await page.getByLabel('Within').fill('soon');
    await page.getByRole('button', { name: 'Save retention' }).click();
    // The form's own alert (the preview beside it says the same about the rules as typed).
    await page.getByRole('form', { name: 'Retention settings' }).getByRole('alert').filter({ hasText: 'keepWithin' }).waitFor();
    side = (await targets()).find((t) => t.name === 'side')!;
    assert.equal((side.config.retention as Record<string, unknown>).keepWithin, undefined);

    await page.goto('/verification?target=side');
    await page.getByLabel('Every N backups').fill('5');
    await page.getByRole('button', { name: 'Add a check' }).click();
    await page.getByLabel('Name').fill('customers');
    await page.getByLabel('SQL').fill('select count(*) > 0 from customers');
    await page.getByLabel('Expected').fill('true');
    await page.getByRole('button', { name: 'Save verification policy' }).click();
    await page.getByText('Saved.').waitFor();
    side = (await targets()).find((t) => t.name === 'side')!;
    assert.deepEqual(side.config.verification, { every: 5, checks: [{ name: 'customers', sql: 'select count(*) > 0 from customers', expect: true }] });

    await page.goto('/verification?target=app');
    await page.getByText('targets.app.verification').waitFor();
    assert.equal(await page.getByLabel('Every N backups').inputValue(), '3');
    await captureScreen(page, 'verification');
  });

  test('events: marking all read brings the unread count to what the API says', async () => {
    const before = await api<{ unread: number }>('GET', '/api/v1/events/unread');
    assert.ok(before.unread > 0, 'the announced deletion raised an event');
    await page.goto('/events');
    await page.getByText(`${before.unread} unread event`).waitFor();
    await page.getByRole('link', { name: `Alerts ${before.unread} unread` }).waitFor();
    await captureScreen(page, 'events');
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await page.getByText('Nothing unread.').waitFor();
    assert.equal((await api<{ unread: number }>('GET', '/api/v1/events/unread')).unread, 0);
    await page.getByRole('link', { name: 'Alerts (none unread)' }).waitFor();
  });

  test('a viewer sees no back-up, run, pause or edit controls', async () => {
    const viewer = await newContext(browser, serve.url);
    const p = await viewer.newPage();
    await signInUi(p, 'victor', password);
    const card = p.getByRole('article', { name: 'app' });
    await card.getByRole('link', { name: /^app-/ }).waitFor();
    assert.equal(await p.getByRole('button', { name: /Back up/ }).count(), 0);
    await p.goto('/schedules');
    await p.locator('tr[data-schedule]').first().waitFor();
    assert.equal(await p.getByRole('button', { name: /Pause|Resume|Run now|Edit|Remove|New schedule/ }).count(), 0);
    await p.goto(`/jobs/${jobId}`);
    await p.getByRole('list', { name: 'job log' }).waitFor();
    assert.equal(await p.getByRole('button', { name: 'Cancel job' }).count(), 0);
    await p.goto('/retention');
    await p.getByRole('table', { name: 'Retention decisions for app' }).waitFor();
    assert.equal(await p.getByRole('button', { name: /Save/ }).count(), 0);
    await viewer.close();
  });
});
