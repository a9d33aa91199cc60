import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { AuditEntry } from '../../src/audit/audit.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { makeScheduler } from '../../src/scheduler/daemon.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const actor = `cli:${os.userInfo().username}`;

/** A target `app` over a seeded database, and `broken` over a database that does not exist. */
async function setup(extra = ''): Promise<{ ws: Workspace; db: string }> {
  const db = await suite.server.createDatabase('audit');
  await seedShop(suite.server, db);
  const ws = suite.workspace();
  ws.writeConfig([
    'storages:',
    `  local: { type: local, path: ${ws.storage} }`,
    'targets:',
    '  app:',
    `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`,
    '    storage: local',
    '  broken:',
    `    postgres: { url: "${suite.server.urlFor('no_such_db')}", databases: [no_such_db] }`,
    '    storage: local',
    extra,
  ].join('\n') + '\n');
  return { ws, db };
}

async function audit(ws: Workspace, args: string[] = []): Promise<AuditEntry[]> {
  const r = await ws.run(['audit', '--json', '--limit', '1000', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.json<AuditEntry[]>().reverse();
}

const brief = (rows: AuditEntry[]) => rows.map((r) => [r.actor, r.action, r.object, r.outcome]);

describe('audit rows from the CLI and the daemon', () => {
  test('backup, protect, a refused and a done delete, restore and a failed backup each leave one row; the chain verifies', async () => {
    const { ws, db } = await setup();
    const backup = await ws.run(['backup', 'app', '--json']);
    assert.equal(backup.code, 0, backup.stderr);
    const id = backup.json<{ id: string }>().id;
    assert.equal((await ws.run(['protect', id.slice(0, -3), '--days', '3'])).code, 0, 'by a prefix');
    const protectedDelete = await ws.cli(['delete', id, '--yes']);
    assert.equal(protectedDelete.code, 2);
    const unconfirmed = await ws.run(['unprotect', id]);
    assert.equal(unconfirmed.code, 0);
    assert.equal((await ws.run(['delete', id])).code, 2, 'not confirmed: no terminal, no --yes');

    const second = (await ws.run(['backup', 'app', '--json'])).json<{ id: string }>().id;
    const copy = `${db}_copy`;
    const toUrl = suite.server.urlFor(copy);
    assert.equal((await ws.run(['restore', second, '--dry-run'])).code, 0, 'a dry run: not recorded');
    const restore = await ws.run(['restore', second, '--to', toUrl, '--yes']);
    assert.equal(restore.code, 0, restore.stderr);
    assert.equal((await ws.run(['delete', id, '--yes'])).code, 0);
    const failed = await ws.run(['backup', 'broken']);
    assert.equal(failed.code, 1);

    const rows = await audit(ws);
    assert.deepEqual(brief(rows), [
      [actor, 'backup.start', 'app', 'ok'],
      [actor, 'backup.protect', id, 'ok'],
      [actor, 'backup.delete', id, 'refused'],
      [actor, 'backup.unprotect', id, 'ok'],
      [actor, 'backup.delete', id, 'refused'],
      [actor, 'backup.start', 'app', 'ok'],
      [actor, 'restore.run', second, 'ok'],
      [actor, 'backup.delete', id, 'ok'],
      [actor, 'backup.start', 'broken', 'failed'],
    ]);
    assert.equal((rows[0]!.detail!.backup as { id: string }).id, id);
    assert.match((rows[1]!.detail as { until: string }).until, /^\d{4}-/);
    assert.deepEqual(rows[2]!.detail, { error: { code: 'E_CONFLICT', message: `backup ${id} is protected until ${(rows[1]!.detail as { until: string }).until}` } });
    assert.equal((rows[8]!.detail!.error as { code: string }).code, 'E_PG_DATABASE');

    // The restore: what was asked (the --to URL without its password) and the plan it ran.
    const r = rows[6]!.detail as { request: { to: string; backup: string }; plan: { backup: string; databases: string[]; replacesData: boolean } };
    assert.equal(r.request.to, toUrl.replace(/:[^:@/]+@/, ':[redacted]@'));
    assert.equal(r.plan.backup, second);
    assert.equal(r.plan.databases.length, 1);
    assert.match(r.plan.databases[0]!, new RegExp(`^create ${copy} on postgres://\\S+ from ${db}$`));
    const bytes = ['catalog.sqlite', 'catalog.sqlite-wal'].map((f) => path.join(ws.home, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(suite.server.password.length > 4 && !bytes.includes(suite.server.password), 'the database password is not in the catalog');

    const verify = await ws.run(['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /^chain intact, 9 rows/);

    const table = await ws.run(['audit', '--action', 'backup.delete', '--actor', actor]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID +AT +ACTOR +ACTION +OBJECT +OUTCOME +DETAIL\n/);
    assert.equal(table.stdout.trim().split('\n').length, 4, 'a header and the three deletes');
    assert.match(table.stdout, new RegExp(`8 +\\S+ \\S+ +${actor} +backup\\.delete +${id} +ok`));
    assert.match(table.stdout, new RegExp(`3 +\\S+ \\S+ +${actor} +backup\\.delete +${id} +REFUSED +\\{"error":\\{"code":"E_CONFLICT"`));
    const bad = await ws.run(['audit', '--since', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /since "yesterday": give an ISO time/);
  });

  test('the daemon records its scheduled backups, verifications and prunes as `daemon`, and applies the log\'s retention', async () => {
    const { ws } = await setup('daemon: { catchUp: none }\naudit: { retentionDays: 30 }');
    const schedule = '    schedule: { cron: "0 * * * *", timezone: UTC }\n    verification: { every: 1, quickAfterEachBackup: false }\n';
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace('    storage: local\n  broken:', `    storage: local\n${schedule}    retention: { keepLast: 5 }\n  broken:`));
    for (let i = 0; i < 2; i++) assert.equal((await ws.run(['backup', 'app'])).code, 0, 'rows written now, by the CLI');
    // The hourly retention has one backup to delete.
    ws.writeConfig(readFileSync(ws.config, 'utf8').replace('keepLast: 5', 'keepLast: 1'));
    const catalog = Catalog.open(ws.home);
    // Sixty days on: the CLI's rows are past the 30 days the log keeps.
    let t = Date.now() + 60 * 86_400_000;
    t -= t % 3_600_000;
    const clock = { now: () => new Date(t) };
    const scheduler = makeScheduler(loadConfig(ws.config), catalog, { clock });
    try {
      for (let h = 0; h < 3; h++) {
        t += 3_600_000 + 60_000;
        await scheduler.tick();
        await scheduler.settle();
      }
    } finally {
      await scheduler.stop(1000);
      catalog.close();
    }
    const rows = await audit(ws);
    assert.deepEqual([rows[0]!.id, rows[0]!.action, rows[0]!.actor, rows[0]!.detail!.rows], [3, 'audit.prune', 'daemon', 2], 'the CLI\'s rows 1-2 went');
    assert.ok(rows.every((r) => r.actor === 'daemon'), JSON.stringify(brief(rows)));
    const prune = rows.find((r) => r.action === 'prune.run');
    assert.equal((prune?.detail?.deleted as string[] | undefined)?.length, 1, JSON.stringify(brief(rows)));
    const backups = rows.filter((r) => r.action === 'backup.start');
    assert.ok(backups.length >= 2);
    assert.deepEqual([backups[0]!.object, backups[0]!.outcome, backups[0]!.detail!.trigger], ['app', 'ok', 'schedule']);
    assert.equal((backups[1]!.detail!.pruned as string[]).length, 1, 'the backup\'s own retention');
    const verified = rows.filter((r) => r.action === 'verify.run');
    assert.ok(verified.length >= 1, JSON.stringify(brief(rows)));
    // Retention (keepLast: 1) may delete a backup before its turn comes: that verification fails, and says why.
    for (const v of verified) {
      assert.match(v.object!, /^app-\d{8}T\d{6}Z(-\d+)?$/);
      assert.equal(v.outcome, v.detail!.verified === 'full passed' ? 'ok' : 'failed');
      if (v.outcome === 'failed') assert.ok(Array.isArray(v.detail!.failedChecks));
    }
    const verify = await ws.run(['audit', 'verify']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /continues rows removed by retention up to 2/);
  });
});
