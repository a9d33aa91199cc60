import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { AuditEntry } from '../../src/audit/audit.ts';
import { workspace } from '../support/workspace.ts';

const actor = `cli:${os.userInfo().username}`;
const ws = workspace();
after(() => ws.remove());
// Nothing here reaches the database: these commands work on the catalog, the home and storage.
ws.writeConfig([
  'storages:',
  `  local: { type: local, path: ${ws.storage} }`,
  'targets:',
  '  app:',
  '    postgres: { url: "postgres://app:S3cr3t-db-pw@127.0.0.1:1/app", databases: [app] }',
  '    storage: local',
  'notifications:',
  '  ops: { type: webhook, url: "http://127.0.0.1:1/hook", secret: "S3cr3t-hook" }',
  '',
].join('\n'));

async function rows(): Promise<AuditEntry[]> {
  const r = await ws.run(['audit', '--json', '--limit', '1000']);
  assert.equal(r.code, 0, r.stderr);
  return r.json<AuditEntry[]>().reverse();
}

async function ok(args: string[], code = 0): Promise<string> {
  const r = await ws.run(args);
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('audit rows of the other changing commands', () => {
  test('schedules, keys, storage and channel tests, rebuild, replicate, import; reads and dry runs leave none', async () => {
    const added = JSON.parse(await ok(['schedule', 'add', 'app', 'daily at 02:00', '--timezone', 'UTC', '--json'])) as { id: number };
    const id = String(added.id);
    await ok(['schedule', 'edit', id, 'hourly']);
    await ok(['schedule', 'pause', id]);
    await ok(['schedule', 'resume', id]);
    await ok(['schedule', 'remove', id]);
    await ok(['schedule', 'remove', '99'], 2);
    const exported = await ok(['key', 'export']);
    const keyId = /# key id: (\S+)/.exec(exported)![1]!;
    const keyFile = path.join(ws.dir, 'key.txt');
    writeFileSync(keyFile, exported);
    await ok(['key', 'import', keyFile]);
    await ok(['storage', 'test', 'local']);
    await ok(['notify', 'test', 'ops'], 1);
    await ok(['catalog', 'rebuild']);
    await ok(['replicate', '--pending']);
    await ok(['import', path.join(ws.dir, 'missing.tar.zst')], 1);
    // Reads and dry runs change nothing.
    for (const args of [['list'], ['status'], ['schedule', 'list'], ['key', 'show'], ['prune', '--dry-run'], ['storage', 'list'], ['audit'], ['audit', 'verify']]) await ok(args);

    const all = await rows();
    assert.deepEqual(all.map((r) => [r.action, r.object, r.outcome]), [
      ['schedule.add', id, 'ok'],
      ['schedule.edit', id, 'ok'],
      ['schedule.pause', id, 'ok'],
      ['schedule.resume', id, 'ok'],
      ['schedule.remove', id, 'ok'],
      ['schedule.remove', '99', 'refused'],
      ['key.export', keyId, 'ok'],
      ['key.import', keyId, 'ok'],
      ['storage.test', 'local', 'ok'],
      ['channel.test', 'ops', 'failed'],
      ['catalog.rebuild', null, 'ok'],
      ['replicate.run', null, 'ok'],
      ['backup.import', path.join(ws.dir, 'missing.tar.zst'), 'failed'],
    ]);
    assert.ok(all.every((r) => r.actor === actor));
    assert.deepEqual(all[0]!.detail, { schedule: 'daily at 02:00', target: 'app' });
    assert.deepEqual(all[1]!.detail, { to: { schedule: 'hourly' } });
    assert.deepEqual(all[4]!.detail, { was: { schedule: 'hourly', target: 'app', timezone: 'UTC' } });
    assert.deepEqual(all[7]!.detail, { outcome: 'known' });
    assert.equal(all[9]!.detail!.error, 'cannot connect (bad port)');

    // The exported key, the database password and the webhook secret are nowhere in the catalog.
    const secret = /^LIFEBOAT-KEY-1:(\S+)$/m.exec(exported)![1]!;
    const bytes = ['catalog.sqlite', 'catalog.sqlite-wal'].map((f) => path.join(ws.home, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(bytes.includes('schedule.add'));
    for (const s of [secret, 'S3cr3t-db-pw', 'S3cr3t-hook']) assert.ok(!bytes.includes(s), `${s} is in the catalog`);
  });
});
