import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workspace } from '../support/workspace.ts';

const ws = workspace();
const mode = (p: string) => (statSync(p).mode & 0o777).toString(8).padStart(3, '0');
let umask = 0;
// A careless umask (group- and world-readable files) must not reach bundles or the catalog.
// The CLI runs in this process (ws.run): the umask is the process's, as a spawned CLI inherits it.
before(() => {
  umask = process.umask(0o002);
});
after(() => {
  process.umask(umask);
  ws.remove();
});

describe('modes of what Lifeboat writes', () => {
  test('bundles, sidecars, their folders, the home and the catalog are owner-only', async () => {
    writeFileSync(path.join(ws.dir, 'app.env'), 'SECRET=1\n');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage}/nested }\ntargets:\n  app:\n    files: { config: [${ws.dir}/app.env] }\n    storage: local\n`);
    const r = await ws.run(['backup', 'app']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(mode(ws.home), '700');
    for (const f of readdirSync(ws.home).filter((f) => f.startsWith('catalog.sqlite'))) assert.equal(mode(path.join(ws.home, f)), '600', f);
    assert.equal(mode(path.join(ws.storage, 'nested')), '700');
    assert.equal(mode(path.join(ws.storage, 'nested', 'app')), '700');
    const files = readdirSync(path.join(ws.storage, 'nested', 'app'));
    assert.equal(files.length, 2, 'the bundle and its sidecar manifest');
    for (const f of files) assert.equal(mode(path.join(ws.storage, 'nested', 'app', f)), '600', f);
  });

  test('a home or local storage other users can read gets one warning line each at start; a private one none', async () => {
    // ws.dir is 0700 (mkdtemp): nothing under it is reachable by others until it is opened up.
    chmodSync(ws.storage, 0o755);
    chmodSync(ws.home, 0o755);
    const hidden = await ws.run(['list']);
    assert.equal(hidden.code, 0, hidden.stderr);
    assert.doesNotMatch(hidden.stderr, /readable by other users/);

    chmodSync(ws.dir, 0o755);
    chmodSync(path.join(ws.storage, 'nested'), 0o755);
    const exposed = await ws.run(['list']);
    assert.equal(exposed.code, 0, exposed.stderr);
    const warnings = exposed.stderr.split('\n').filter((l) => l.startsWith('warn:'));
    assert.deepEqual(warnings, [
      `warn: the Lifeboat home ${ws.home} is readable by other users (mode 0755); it holds the catalog and keys: chmod 700 ${ws.home}`,
      `warn: storage "local": ${ws.storage}/nested is readable by other users (mode 0755); bundles hold database contents and secrets: chmod 700 ${ws.storage}/nested`,
    ]);

    chmodSync(ws.home, 0o700);
    chmodSync(path.join(ws.storage, 'nested'), 0o711);
    const closed = await ws.run(['list']);
    assert.doesNotMatch(closed.stderr, /warn:/);
    chmodSync(ws.dir, 0o700);
    assert.ok(existsSync(ws.home));
  });
});
