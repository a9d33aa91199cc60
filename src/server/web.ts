import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Context } from 'hono';
import type { Api } from './api.ts';

/** Where `npm run build:web` (run by `npm install`) puts the UI. */
export const WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** Whether `npm run build:web` has run: without it, / says how to build the UI. */
export function webBuilt(dir = WEB_DIR): boolean {
  return existsSync(path.join(dir, 'index.html'));
}

/**
 * The UI's pages may run only the scripts and styles served from here: no inline script, nothing
 * from elsewhere (servers are often offline, and a CDN is one more party to trust).
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json', '.map': 'application/json',
};

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  /** Vite puts a content hash in every name under assets/: they never change, so they are cached for a year. */
  immutable: boolean;
}

/** Reads the built UI into memory (a few hundred KB), each text file also gzipped once. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel))) {
      const file = path.join(rel, name);
      if (statSync(path.join(dir, file)).isDirectory()) walk(file);
      else {
        const body = readFileSync(path.join(dir, file));
        const type = TYPES[path.extname(name)] ?? 'application/octet-stream';
        const gzip = /^text\/|javascript|json|svg/.test(type) && body.length > 1024 ? gzipSync(body, { level: 9 }) : undefined;
        assets.set('/' + file.split(path.sep).join('/'), { body, gzip, type, immutable: file.startsWith('assets' + path.sep) });
      }
    }
  };
  walk('');
  return assets;
}

function send(c: Context, asset: Asset, status: 200 | 503 = 200): Response {
  const gz = asset.gzip && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const headers: Record<string, string> = {
    'content-type': asset.type,
    'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
  };
  if (asset.type.startsWith('text/html')) {
    headers['content-security-policy'] = CONTENT_SECURITY_POLICY;
    headers['referrer-policy'] = 'no-referrer';
    headers['x-frame-options'] = 'DENY';
  }
  if (gz) headers['content-encoding'] = 'gzip';
  return c.body(new Uint8Array(gz ? asset.gzip! : asset.body), status, headers);
}

const NOT_BUILT: Asset = {
  body: Buffer.from('<!doctype html><html lang="en"><meta charset="utf-8"><title>Lifeboat</title><h1>The web UI is not built</h1><p>Run <code>npm run build:web</code> in Lifeboat\'s directory (<code>npm install</code> does it), then reload. The API is up: <a href="/api/docs">/api/docs</a>.</p></html>'),
  gzip: undefined,
  type: 'text/html; charset=utf-8',
  immutable: false,
};

/**
 * Serves the web UI at /: its hashed assets, and index.html for every other path outside the
 * API (the UI routes in the browser). Registered after the API, so /api, /metrics and the
 * health routes answer as before, unknown ones with the API's own 404.
 */
export function registerWeb(app: Api, dir = WEB_DIR): void {
  const assets = webBuilt(dir) ? loadAssets(dir) : new Map<string, Asset>();
  const index = assets.get('/index.html');
  app.get('*', (c) => {
    const p = c.req.path;
    if (p.startsWith('/api/') || p === '/api' || p === '/metrics' || p === '/healthz' || p === '/readyz') return c.notFound();
    const asset = assets.get(p);
    if (asset) return send(c, asset);
    // A missing hashed file is an old page asking for what a new build replaced: 404, not the page.
    if (p.startsWith('/assets/')) return c.notFound();
    return index ? send(c, index) : send(c, NOT_BUILT, 503);
  });
}
