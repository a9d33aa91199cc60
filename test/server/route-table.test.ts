// The route table is the whole API: every route the server answers is in the OpenAPI document
// with its access rule, and a route declared without one does not start.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import { createApp } from '../../src/server/app.ts';
import { defineRoute, json, type Access, type Api, type RouteEntry } from '../../src/server/api.ts';
import type { ServerContext } from '../../src/server/context.ts';

test('every route the app serves is in the document with its access, and the other way round', () => {
  // Routes are registered without touching the context; requests would.
  const { app, routes } = createApp({} as ServerContext);
  const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '0' } });
  const documented = new Set(Object.entries(doc.paths ?? {}).flatMap(([p, ops]) => Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`)));
  const served = new Set(app.routes.filter((r) => r.method !== 'ALL' && (r.path.startsWith('/api/v1/') || ['/healthz', '/readyz', '/metrics'].includes(r.path))).map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`));
  assert.deepEqual([...served].filter((r) => !documented.has(r)), [], 'served but not documented');
  assert.deepEqual([...documented].filter((r) => !served.has(r)), [], 'documented but not served');
  assert.equal(routes.length, documented.size, 'the route table has one entry per documented route');
  for (const r of routes) assert.ok(r.access, `${r.method} ${r.path} has an access rule`);
});

test('a route declared without an access rule refuses to start', () => {
  const api: Api = new OpenAPIHono();
  const table: RouteEntry[] = [];
  assert.throws(
    () => defineRoute(api, table, { method: 'get', path: '/api/v1/forgotten', access: undefined as unknown as Access, responses: { 200: json(z.object({})) } }, (c) => c.json({}, 200)),
    /has no access rule/,
  );
  assert.equal(table.length, 0);
});
