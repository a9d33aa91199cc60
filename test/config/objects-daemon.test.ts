import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createObject, effectiveConfig, removeObject } from '../../src/config/objects.ts';
import { runDaemon } from '../../src/scheduler/daemon.ts';
import { workspace } from '../support/workspace.ts';

const ws = workspace();
after(() => ws.remove());

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await sleep(25);
  assert.ok(ok(), `timed out waiting for ${what}`);
}

test('a running daemon picks up targets created and removed over the API (in another process) at its next tick', async () => {
  ws.writeConfig(`
storages:
  nas: { type: local, path: ./storage }
targets: {}
daemon: { catchUp: none }
`);
  const env = { ...process.env, LIFEBOAT_HOME: ws.home };
  const daemonCatalog = Catalog.open(ws.home);
  const loaded = effectiveConfig(loadConfig(ws.config, env), daemonCatalog);
  const stop = new AbortController();
  const running = runDaemon(loaded, daemonCatalog, stop.signal, { tickMs: 20, graceMs: 1000 });
  // The API's process: its own config and catalog handle.
  const apiCatalog = Catalog.open(ws.home);
  const api = effectiveConfig(loadConfig(ws.config, env), apiCatalog);
  try {
    createObject(api, apiCatalog, 'target', 'late', { files: { cfg: [ws.config] }, storage: 'nas', schedule: 'daily at 03:00' }, 'admin');
    await until('the daemon to see the new target', () => loaded.config.targets.late !== undefined);
    await until('its schedule to be seeded', () => daemonCatalog.listSchedules().some((s) => s.target === 'late' && s.spec === 'daily at 03:00'));
    removeObject(api, apiCatalog, 'target', 'late');
    await until('the daemon to drop it', () => loaded.config.targets.late === undefined);
    await until('its schedule to go', () => !daemonCatalog.listSchedules().some((s) => s.target === 'late'));
  } finally {
    stop.abort();
    await running;
    apiCatalog.close();
    daemonCatalog.close();
  }
});
