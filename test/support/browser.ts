// A real browser for the web UI's tests: Debian's Chromium driven by playwright-core (its own
// browser download cannot work offline). Screens are captured at 1280 and 390 px, light and
// dark, into test/ui/out (gitignored), and axe-core checks each for serious or critical issues.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ServeProcess } from './api.ts';

/** The Chromium to drive: CHROMIUM_PATH, or Debian's package. */
export function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean) as string[];
  return candidates.find((c) => existsSync(c));
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium is not installed: apt-get install chromium (or set CHROMIUM_PATH)');
  return chromium.launch({
    executablePath,
    // The network is closed here: without these, Chromium's own background connections fail, many at a time.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/**
 * The server a test file starts, and the browser, started at once. If either fails to start the
 * other is stopped: left running, its child process would keep the test file's process alive
 * after its tests, and the whole run would wait on it.
 */
export async function serveAndBrowser(serving: Promise<ServeProcess>): Promise<[ServeProcess, Browser]> {
  const [serve, browser] = await Promise.allSettled([serving, launchBrowser()]);
  if (serve.status === 'fulfilled' && browser.status === 'fulfilled') return [serve.value, browser.value];
  if (serve.status === 'fulfilled') await serve.value.stop();
  if (browser.status === 'fulfilled') await browser.value.close();
  throw serve.status === 'rejected' ? serve.reason : (browser as PromiseRejectedResult).reason;
}

/** A fresh browser profile (no cookies) on the server, at desktop width, the system theme light. */
export async function newContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport: { width: 1280, height: 900 }, colorScheme: 'light', acceptDownloads: true, timezoneId: 'Europe/Berlin' });
}

/** Signs in through the login page, as a user would. */
export async function signInUi(page: Page, name: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

const outDir = fileURLToPath(new URL('../ui/out/', import.meta.url));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * Captures the page as it is at 1280 and 390 px, light and dark, and asserts that axe-core finds
 * no serious or critical violation in any of the four. Leaves the page at 1280 px, light.
 */
export async function captureScreen(page: Page, name: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const found: string[] = [];
  for (const width of [1280, 390]) {
    for (const scheme of ['light', 'dark'] as const) {
      await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: `${outDir}${name}-${width}-${scheme}.png`, fullPage: true });
      // Evaluated over the DevTools protocol: the page's Content-Security-Policy (no eval, no
      // inline scripts) does not apply to it.
      if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
      const violations = await page.evaluate(async () => {
        const w = window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: AxeViolation[] }> } };
        const r = await w.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })) }));
      });
      for (const v of violations as AxeViolation[]) {
        if (v.impact === 'serious' || v.impact === 'critical') found.push(`${width}px ${scheme}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(found, [], `axe-core found serious or critical violations on ${name}`);
}
