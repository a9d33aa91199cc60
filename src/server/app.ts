import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { LifeboatError } from '../errors.ts';
import { VERSION } from '../version.ts';
import type { Api, RouteEntry, ServerEnv } from './api.ts';
import type { ServerContext } from './context.ts';
import { identify } from './principal.ts';
import { problemResponse } from './problem.ts';
import { checkResponses } from './response-check.ts';
import { IMPORT_PATH } from './routes/imports.ts';
import { registerRoutes } from './routes/index.ts';
import { registerWeb } from './web.ts';

/** JSON bodies past this are refused with 413 (an import streams its body and has its own rule). */
export const BODY_LIMIT = 1024 * 1024;

export interface App {
  app: Api;
  /** Every route with its access rule: the authorization matrix test is generated from it. */
  routes: RouteEntry[];
}

/**
 * The HTTP face: /api/v1 (routes/), the OpenAPI document and its docs page, health and metrics.
 * Routes are thin: they validate, authorize, call the same functions the CLI calls, shape the answer.
 */
export function createApp(server: ServerContext, options: { checkResponses?: boolean; web?: boolean } = {}): App {
  const routes: RouteEntry[] = [];
  const app: Api = new OpenAPIHono<ServerEnv>({
    // A body, query or path that does not validate: 400 naming each wrong field and what it expected.
    defaultHook: (result, c) => {
      if (result.success) return;
      const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
      return problemResponse(c, new LifeboatError('E_USAGE', `invalid request: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`), { errors });
    },
  });
  app.onError((err, c) => {
    const status = (err as { status?: number }).status;
    // Hono's own errors (malformed JSON) carry a status; ours are LifeboatErrors.
    if (status === 400 && !(err instanceof LifeboatError)) return problemResponse(c, new LifeboatError('E_USAGE', `malformed request body: ${err.message}`, { hint: 'send JSON with Content-Type: application/json' }));
    if (!(err instanceof LifeboatError)) server.log('error', `${c.req.method} ${c.req.path}: ${err.stack ?? err.message}`);
    return problemResponse(c, err);
  });
  app.notFound((c) => problemResponse(c, new LifeboatError('E_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`, { hint: 'the API is described at /api/openapi.json' })));

  app.use('*', async (c, next) => {
    c.set('server', server);
    await next();
  });
  const limit = bodyLimit({
    maxSize: BODY_LIMIT,
    onError: (c) => problemResponse(c, new LifeboatError('E_TOO_LARGE', `the request body is over ${BODY_LIMIT / 1024} KiB`)),
  });
  // An import's body is a bundle, streamed to disk: only JSON bodies are limited. A GET or HEAD
  // has no body to limit, and asking would build the full Request object for every listing
  // (4% of a listing request's CPU, bench/README.md).
  app.use('/api/v1/*', (c, next) => (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.path === IMPORT_PATH ? next() : limit(c, next)));
  app.use('/api/v1/*', identify);
  app.use('/metrics', identify);
  if (options.checkResponses) app.use('*', checkResponses(routes));

  registerRoutes(app, routes);

  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Lifeboat API', version: VERSION, description: 'Backup, verification and recovery for PostgreSQL-backed self-hosted apps. Long operations answer 202 with a job; its progress streams as server-sent events from /api/v1/jobs/{id}/events.' },
    servers: [{ url: '/' }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'token', { type: 'http', scheme: 'bearer', description: 'An API token, lb_...: `lifeboat token create`' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'lifeboat_session' });

  // The docs page and its assets are served from the installed package: servers are often offline.
  const ui = path.dirname(fileURLToPath(import.meta.resolve('swagger-ui-dist/package.json')));
  const assets: Record<string, string> = { 'swagger-ui.css': 'text/css', 'swagger-ui-bundle.js': 'text/javascript', 'swagger-ui-standalone-preset.js': 'text/javascript', 'favicon-32x32.png': 'image/png' };
  app.get('/api/docs', (c) => c.html(DOCS_PAGE));
  app.get('/api/docs/:asset', (c) => {
    const type = assets[c.req.param('asset')];
    if (!type) return problemResponse(c, new LifeboatError('E_NOT_FOUND', `no asset ${c.req.param('asset')}`));
    return c.body(readFileSync(path.join(ui, c.req.param('asset'))), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
  });
  app.get('/api/docs-init.js', (c) => c.body(DOCS_INIT, 200, { 'content-type': 'text/javascript' }));
  if (options.web !== false) registerWeb(app);
  return { app, routes };
}

const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifeboat API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"><link rel="icon" href="/api/docs/favicon-32x32.png"></head>
<body><div id="docs"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs-init.js"></script></body></html>`;

// Separate from the page so a Content-Security-Policy without inline scripts allows it.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#docs', deepLinking: true, withCredentials: true });`;
