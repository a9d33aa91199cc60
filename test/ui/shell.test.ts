// The web UI's frame in a real browser against a real `lifeboat serve`: first run with the setup
// link, login and logout, a session ended elsewhere sending the page back to login with a
// message; the served files (CSP without inline scripts, hashed assets cached for a year, the
// JavaScript budget).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { WEB_DIR } from '../../src/server/web.ts';
import { call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { captureScreen, newContext, serveAndBrowser, signInUi } from '../support/browser.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

describe('the web UI: first run, sign-in and what is served', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let browser: Browser;
  const password = 'correct horse battery';

  before(async () => {
    ws = suite.workspace();
    const db = await suite.server.createDatabase('uishell');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    [serve, browser] = await serveAndBrowser(startServe(ws));
  });
  after(async () => {
    await browser?.close();
    await serve?.stop();
  });

  test('the setup link creates the first admin, who is then signed in; the link works only once', async () => {
    const token = await serve.setupToken();
    assert.ok(token, 'serve printed a setup link');
    const context = await newContext(browser, serve.url);
    const page = await context.newPage();
    await page.goto('/setup');
    await page.getByRole('heading', { name: 'Welcome to Lifeboat' }).waitFor();
    // Without the token in the link, the page says where to get it and cannot submit.
    await page.getByText('needs the setup link').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create admin and sign in' }).isDisabled(), true);

    await page.goto(`/setup#token=${token}`);
    await captureScreen(page, 'setup');
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password (at least 12 characters)').fill(password);
    await page.getByLabel('Password again').fill(password + 'x');
    await page.getByText('The two passwords differ.').waitFor();
    await page.getByLabel('Password again').fill(password);
    await page.getByRole('button', { name: 'Create admin and sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The token left the address bar, and the server has its admin.
    assert.equal(new URL(page.url()).hash, '');
    const users = await call(serve.url, 'GET', '/api/v1/users', { session: await signIn(serve.url, 'alice', password) });
    assert.deepEqual(users.json<{ items: { name: string; role: string }[] }>().items.map((u) => [u.name, u.role]), [['alice', 'admin']]);
    assert.equal((await call(serve.url, 'GET', '/api/v1/setup')).json<{ pending: boolean }>().pending, false);
    await context.close();
  });

  test('login with a wrong password shows the server\'s message; a right one signs in; sign out returns to login', async () => {
    const context = await newContext(browser, serve.url);
    const page = await context.newPage();
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in to Lifeboat' }).waitFor();
    await captureScreen(page, 'login');
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /user name or password/i);

    await signInUi(page, 'alice', password);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    // The cookie is gone for the server too: the session answers 401.
    const cookies = await context.cookies();
    const r = await call(serve.url, 'GET', '/api/v1/session', { headers: { cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } });
    assert.equal(r.status, 401);
    await context.close();
  });

  test('a session ended elsewhere sends the page back to login with a message', async () => {
    const context = await newContext(browser, serve.url);
    const page = await context.newPage();
    await signInUi(page, 'alice', password);
    // "Sign out everywhere" from another browser ends this page's session too.
    const other = await signIn(serve.url, 'alice', password);
    assert.equal((await call(serve.url, 'POST', '/api/v1/sessions/signout-all', { session: other })).status, 200);
    // Coming back to the tab, the page finds out and says why it shows the login.
    await page.evaluate(() => window.dispatchEvent(new Event('visibilitychange')));
    await page.getByRole('heading', { name: 'Sign in to Lifeboat' }).waitFor();
    await page.getByText('Your session ended').waitFor();
    await context.close();
  });

  test('pages carry a Content-Security-Policy without inline scripts; hashed assets are cached for a year; paths of the UI get the page, unknown API paths a problem', async () => {
    const page = await fetch(`${serve.url}/backups/some-id`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(page.headers.get('cache-control'), 'no-cache');
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the page');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'nothing loads from elsewhere');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'the page loads a hashed script');
    const asset = await fetch(serve.url + script, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const missing = await fetch(`${serve.url}/assets/index-00000000.js`);
    assert.equal(missing.status, 404);
    const api = await fetch(`${serve.url}/api/v1/no-such-thing`);
    assert.equal(api.status, 404);
    assert.match(api.headers.get('content-type') ?? '', /problem\+json/);
  });

  test('the initial JavaScript is within its budget (250 KB gzipped)', () => {
    const html = readFileSync(`${WEB_DIR}/index.html`, 'utf8');
    const scripts = [...html.matchAll(/<(?:script|link rel="modulepreload")[^>]*(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
    assert.ok(scripts.length > 0);
    const bytes = scripts.reduce((sum, s) => sum + gzipSync(readFileSync(`${WEB_DIR}/${s}`), { level: 9 }).length, 0);
    assert.ok(bytes <= 250 * 1024, `initial JavaScript is ${Math.round(bytes / 1024)} KB gzipped`);
  });
});
