import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

async function setup(schedule: string, scale = 1): Promise<Workspace> {
  const db = await suite.server.createDatabase('daemon');
  await seedShop(suite.server, db, scale);
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    schedule: ${schedule}\n`);
  return ws;
}

/** Starts `lifeboat serve`, resolves once its log matches `pattern`, with the child and its log so far. */
function serve(ws: Workspace, args: string[], pattern: RegExp) {
  const child = ws.spawnCli(['serve', '--listen', '127.0.0.1:0', '--tick', '1', ...args]);
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const seen = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (pattern.test(log)) resolve();
    });
    void exited.then(() => reject(new Error(`serve exited before ${pattern}: ${log}`)));
  });
  return { child, seen, exited, log: () => log };
}

const files = (ws: Workspace) => (existsSync(path.join(ws.storage, 'app')) ? readdirSync(path.join(ws.storage, 'app')) : []);

describe('lifeboat serve, status and schedule', () => {
  test('schedule: list, add, edit, pause, resume, remove; bad input exits 2', async () => {
    const ws = await setup('"daily at 02:00"');
    // One real process per command kind is enough: the others run in process (ws.run), the same main().
    const list = await ws.cli(['schedule', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const [fromConfig] = list.json<{ id: number; spec: string; cron: string; configKey: string; next: string }[]>();
    assert.deepEqual([fromConfig!.spec, fromConfig!.cron, fromConfig!.configKey], ['daily at 02:00', '0 2 * * *', 'app#0']);

    const added = await ws.run(['schedule', 'add', 'app', 'weekly on sunday at 03:00', '--timezone', 'Europe/Amsterdam', '--json']);
    assert.equal(added.code, 0, added.stderr);
    const id = added.json<{ id: number; cron: string }>().id;
    assert.equal(added.json<{ cron: string }>().cron, '0 3 * * 0');
    assert.equal((await ws.run(['schedule', 'edit', String(id), 'hourly'])).code, 0);
    assert.equal((await ws.run(['schedule', 'pause', String(id)])).code, 0);
    assert.match((await ws.run(['schedule', 'list'])).stdout, new RegExp(`${id} +app +hourly +0 \\* \\* \\* \\* +Europe/Amsterdam +added +PAUSED`));
    assert.equal((await ws.run(['schedule', 'resume', String(id)])).code, 0);
    assert.equal((await ws.run(['schedule', 'remove', String(id)])).code, 0);

    const bad = await ws.run(['schedule', 'add', 'app', 'every tuesday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /schedule "every tuesday" is neither a cron expression nor a preset\nhint: use e\.g\./);
    const configured = await ws.run(['schedule', 'remove', String(fromConfig!.id)]);
    assert.equal(configured.code, 2);
    assert.match(configured.stderr, /comes from .*lifeboat\.yaml\nhint: remove it there, or `lifeboat schedule pause/);
  });

  test('serve runs the schedule; SIGTERM with no grace cancels the running backup cleanly: no half bundle, exit 0', async () => {
    const ws = await setup('"* * * * * *"', 20);
    const daemon = serve(ws, ['--grace', '0'], /\[app\] writing databases\//);
    await daemon.seen;
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0, daemon.log());
    assert.match(daemon.log(), /cancelling 1 running backup\(s\)/);
    assert.match(daemon.log(), /lifeboat daemon stopped/);
    assert.deepEqual(files(ws), [], 'the first backup was cancelled: no bundle, no temp file');
    const listed = (await ws.run(['list', '--json'])).json<{ status: string }[]>();
    assert.equal(listed[0]!.status, 'failed', 'the cancelled backup is recorded as failed');
    const status = await ws.run(['status']);
    assert.match(status.stdout, /daemon +not running/);
    assert.match(status.stdout, /app +\* \* \* \* \* \*/);
  });

  test('serve lets a running backup finish within the grace period on SIGTERM', async () => {
    const ws = await setup('"* * * * * *"', 5);
    const daemon = serve(ws, ['--grace', '120'], /\[app\] writing databases\//);
    await daemon.seen;
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0, daemon.log());
    assert.match(daemon.log(), /backup app-\S+ of app succeeded/);
    const listed = (await ws.run(['list', '--json'])).json<{ status: string }[]>();
    assert.equal(listed[0]!.status, 'ok');
    assert.ok(files(ws).every((f) => !f.startsWith('.')), files(ws).join(', '));
  });
});
