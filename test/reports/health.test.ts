import assert from 'node:assert/strict';
import { describe, test, before } from 'node:test';
import { fillCatalog, type GeneratedBackup } from '../../bench/api-data.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { runPrune } from '../../src/jobs/prune.ts';
import { searchContents } from '../../src/reports/contents.ts';
import { targetHealth } from '../../src/reports/health.ts';
import { renderMetrics } from '../../src/reports/metrics.ts';
import { retentionPreview } from '../../src/reports/retention.ts';
import { nextFireTimes } from '../../src/reports/schedule-preview.ts';
import { daemonStatus } from '../../src/reports/status.ts';
import { storageList } from '../../src/reports/storage.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

interface Listed { id: string; target: string; status: string; size: number; startedAt: string; finishedAt: string; verificationStatus: string; summary: { durationMs: number } }

/**
 * One installation: `app` backed up for real by the CLI against the test server (three backups,
 * keepLast 2, one quick verification), and `gen-a`, `gen-b` filled with generated rows.
 */
let ws: Workspace;
let loaded: LoadedConfig;
let real: Listed[];
let generated: GeneratedBackup[];
let verified: string;
const DAY = 86_400_000;

async function seed(): Promise<void> {
  const db = await suite.server.createDatabase('health');
  await suite.server.query(db, 'create table items (id int primary key, name text); insert into items select g, md5(g::text) from generate_series(1, 250) g; create table notes (x int)');
  ws = suite.workspace();
  const pg = `postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`;
  ws.writeConfig([
    'storages:',
    `  local: { type: local, path: ${ws.storage}, quota: 10GB }`,
    'targets:',
    '  app:',
    `    ${pg}`,
    '    storage: local',
    '    schedule: { cron: "daily at 02:00", timezone: Europe/Amsterdam }',
    '    retention: { keepLast: 2 }',
    '  gen-a:',
    `    ${pg}`,
    '    storage: local',
    '    retention: { keepLast: 3, keepDaily: 5 }',
    '  gen-b:',
    `    ${pg}`,
    '    storage: local',
    '    retention: { keepLast: 4, maxAgeDays: 20 }',
    '',
  ].join('\n'));
  for (let i = 0; i < 3; i++) {
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
  }
  real = (await ws.run(['list', 'app', '--all', '--json'])).json<Listed[]>();
  // The older of the two kept: the newest verification is then not of the newest backup.
  verified = real[1]!.id;
  const v = await ws.run(['verify', verified, '--quick', '--json']);
  assert.equal(v.code, 0, v.stderr);
  assert.equal((await ws.run(['storage', 'test', 'local'])).code, 0);
  loaded = loadConfig(ws.config);
  const catalog = Catalog.open(ws.home);
  try {
    generated = fillCatalog(catalog, { backups: 160, targetNames: ['gen-a', 'gen-b'], end: new Date(Date.now() - 3_600_000), stepMs: 8 * 3_600_000 });
  } finally {
    catalog.close();
  }
}

/** The figures targetHealth must give for a generated target, computed from what was generated. */
function expectedFor(target: string, now: Date) {
  const mine = generated.filter((b) => b.target === target);
  const newest = (xs: GeneratedBackup[]) => [...xs].sort((a, b) => (a.startedAt === b.startedAt ? (a.id < b.id ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1))[0];
  const held = mine.filter((b) => b.status !== 'deleted');
  const recent = mine.filter((b) => Date.parse(b.startedAt) >= now.getTime() - 30 * DAY);
  const succeeded = recent.filter((b) => b.storedStatus === 'ok').length;
  const failed = recent.filter((b) => b.storedStatus === 'failed').length;
  return {
    lastBackup: newest(held)!.id,
    lastSuccess: newest(mine.filter((b) => b.storedStatus === 'ok'))!.id,
    backups: held.length,
    totalBytes: held.filter((b) => b.storedStatus === 'ok').reduce((n, b) => n + b.size!, 0),
    protected: held.filter((b) => b.protection && (b.protection.until === null || Date.parse(b.protection.until) > now.getTime())).length,
    successRate: { days: 30, succeeded, failed, finished: succeeded + failed, rate: succeeded / (succeeded + failed) },
  };
}

function withCatalog<T>(fn: (c: Catalog) => T): T {
  const c = Catalog.open(ws.home);
  try {
    return fn(c);
  } finally {
    c.close();
  }
}

describe('reports on a seeded catalog', () => {
  before(seed);

  test('targetHealth: real backups, a schedule and a verification for app; the generated targets\' figures', () => {
    const now = new Date();
    const health = withCatalog((c) => targetHealth(loaded, c, now));
    assert.deepEqual(health.map((h) => h.target), ['app', 'gen-a', 'gen-b']);
    const app = health[0]!;
    const kept = real.filter((b) => b.status !== 'deleted');
    assert.equal(real.length, 3);
    assert.equal(kept.length, 2, 'keepLast 2 deleted the first');
    assert.deepEqual(app.lastBackup, { id: real[0]!.id, status: 'ok', startedAt: real[0]!.startedAt, finishedAt: real[0]!.finishedAt });
    assert.equal(app.lastSuccess!.id, real[0]!.id);
    assert.equal(app.nextRun, nextFireTimes('daily at 02:00', 'Europe/Amsterdam', 1, now).times[0]);
    assert.equal(app.lastVerification!.backupId, verified);
    assert.equal(app.lastVerification!.level, 'quick');
    assert.equal(app.lastVerification!.ok, true);
    assert.deepEqual(app.successRate, { days: 30, succeeded: 3, failed: 0, finished: 3, rate: 1 }, 'the deleted backup succeeded too');
    assert.equal(app.backups, 2);
    assert.equal(app.totalBytes, kept.reduce((n, b) => n + b.size, 0));
    assert.equal(app.protected, 0);

    for (const h of health.slice(1)) {
      const e = expectedFor(h.target, now);
      assert.equal(h.lastBackup!.id, e.lastBackup, h.target);
      assert.equal(h.lastSuccess!.id, e.lastSuccess, h.target);
      assert.equal(h.nextRun, null, 'no schedule');
      assert.equal(h.backups, e.backups, h.target);
      assert.equal(h.totalBytes, e.totalBytes, h.target);
      assert.equal(h.protected, e.protected, h.target);
      assert.deepEqual(h.successRate, e.successRate, h.target);
      assert.ok(e.successRate.failed > 0 && e.protected > 0, 'the generated data exercises failures and protections');
    }
  });

  test('protecting a backup shows at once', async () => {
    assert.equal((await ws.cli(['protect', real[0]!.id])).code, 0);
    assert.equal(withCatalog((c) => targetHealth(loaded, c))[0]!.protected, 1);
    assert.equal((await ws.cli(['unprotect', real[0]!.id])).code, 0);
  });

  test('metrics: every line in the exposition format, carrying the seeded values', async () => {
    const catalog = Catalog.open(ws.home);
    try {
      catalog.createJob({ id: 'metrics-verify', kind: 'verify', target: 'gen-a', trigger: 'manual' });
      const { eventId } = catalog.recordDirectEvent({ kind: 'test', severity: 'info', message: 'hello' }, 'ops', 1);
      const delivery = catalog.dueDeliveries(new Date(), { eventId })[0]!;
      catalog.recordDeliveryAttempt(delivery.id, { at: new Date(), ok: false, error: 'refused' });
      const { contentType, body } = await renderMetrics(loaded, catalog, new Date());
      assert.match(contentType, /^text\/plain; version=0\.0\.4/);
      const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?)|NaN|[+-]Inf)$/;
      const values = new Map<string, number>();
      for (const line of body.split('\n')) {
        if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
        const m = sample.exec(line);
        assert.ok(m, `not a sample line: ${line}`);
        values.set(line.slice(0, line.lastIndexOf(' ')), Number(m[5]));
      }
      const get = (key: string) => {
        assert.ok(values.has(key), `${key} is missing from\n${body}`);
        return values.get(key);
      };
      const last = real[0]!;
      assert.equal(get('lifeboat_last_success_timestamp_seconds{target="app"}'), Date.parse(last.finishedAt) / 1000);
      assert.equal(get('lifeboat_last_backup_size_bytes{target="app"}'), last.size);
      assert.equal(get('lifeboat_last_backup_duration_seconds{target="app"}'), last.summary.durationMs / 1000);
      assert.equal(get('lifeboat_backups{target="app",status="ok"}'), 2);
      assert.equal(get('lifeboat_backups{target="app",status="deleted"}'), 1);
      for (const status of ['ok', 'degraded', 'failed', 'deleted'] as const) {
        const n = generated.filter((b) => b.target === 'gen-a' && b.status === status).length;
        if (n) assert.equal(get(`lifeboat_backups{target="gen-a",status="${status}"}`), n);
      }
      assert.equal(get('lifeboat_verification_ok{target="app"}'), 1);
      assert.ok(get('lifeboat_last_verification_timestamp_seconds{target="app"}')! * 1000 > Date.parse(last.finishedAt), 'verified after the last backup');
      assert.equal(get('lifeboat_storage_quota_bytes{storage="local"}'), 10e9);
      assert.ok(get('lifeboat_storage_used_bytes{storage="local"}')! > 0, 'measured by `storage test`');
      assert.ok(get('lifeboat_storage_free_bytes{storage="local"}')! <= 10e9);
      assert.equal(get('lifeboat_jobs_running{kind="verify"}'), 1);
      assert.equal(get('lifeboat_notification_deliveries_failed_total{channel="ops"}'), 1);
      assert.ok(get('lifeboat_catalog_wal_bytes')! >= 0);
      assert.doesNotMatch(body, /process_|nodejs_/, 'no default process metrics');
      catalog.finishJob('metrics-verify', 'succeeded');
    } finally {
      catalog.close();
    }
  });

  test('retention preview equals `lifeboat prune --dry-run --json`, and the job-run dry run', async () => {
    const cli = await ws.cli(['prune', '--dry-run', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = cli.json<unknown[]>();
    const catalog = Catalog.open(ws.home);
    try {
      const preview = await retentionPreview(loaded, catalog);
      assert.deepEqual(preview.map((t) => [t.target, t.policy]), [
        ['app', { keepLast: 2, minKeep: 1 }], ['gen-a', { keepLast: 3, keepDaily: 5, minKeep: 1 }], ['gen-b', { keepLast: 4, maxAgeDays: 20, minKeep: 1 }],
      ]);
      const flat = JSON.parse(JSON.stringify(preview.flatMap((t) => t.decisions))) as unknown[];
      assert.deepEqual(flat, printed);
      assert.deepEqual(flat, JSON.parse(JSON.stringify(await runPrune(loaded, catalog, { dryRun: true }))), 'the same as the prune job decides');
      const genB = preview[2]!.decisions;
      assert.ok(genB.some((d) => d.result === 'would-delete' && d.reasons.includes('older than 20 days')));
      assert.ok(genB.some((d) => d.result === 'kept' && d.reasons.includes('last 4')));
      assert.equal(genB.length, generated.filter((b) => b.target === 'gen-b' && b.status !== 'deleted').length);
      const one = await retentionPreview(loaded, catalog, { target: 'app' });
      assert.deepEqual(one.map((t) => t.decisions.map((d) => [d.id, d.result])), [[[real[0]!.id, 'kept'], [real[1]!.id, 'kept']]]);
      await assert.rejects(retentionPreview(loaded, catalog, { target: 'nope' }), /no target named "nope"/);
    } finally {
      catalog.close();
    }
    assert.equal(withCatalog((c) => c.listBackups('gen-b').length), generated.filter((b) => b.target === 'gen-b' && b.status !== 'deleted').length, 'nothing changed');
  });

  test('daemonStatus is what `lifeboat status --json` prints; storageList adds quota and the catalog\'s view', async () => {
    const cli = await ws.cli(['status', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = cli.json<{ targets: unknown; daemon: unknown; schedules: { target: string }[] }>();
    const status = withCatalog((c) => daemonStatus(loaded, c));
    assert.deepEqual(printed.targets, JSON.parse(JSON.stringify(status.targets)));
    assert.deepEqual(printed.daemon, status.daemon);
    assert.deepEqual(printed.schedules.map((s) => s.target), ['app']);
    assert.equal(status.targets.find((t) => t.target === 'gen-b')!.last!.id, expectedFor('gen-b', new Date()).lastBackup);

    const storages = withCatalog((c) => storageList(loaded, c));
    assert.equal(storages.length, 1);
    const local = storages[0]!;
    assert.equal(local.quotaBytes, 10e9);
    assert.ok(local.usedBytes! > 0 && local.checkedAt !== null);
    const onLocal = [...real.filter((b) => b.status !== 'deleted'), ...generated.filter((b) => b.storedStatus === 'ok' && b.status !== 'deleted')];
    assert.deepEqual(local.catalog, { backups: onLocal.length, bytes: onLocal.reduce((n, b) => n + (b.size ?? 0), 0) });
  });

  test('contents search: a real backup\'s tables with row counts, files and app items by name, paged', () => {
    const catalog = Catalog.open(ws.home);
    try {
      const all = searchContents(catalog, real[0]!.id, { limit: 200 });
      const items = all.items.find((e) => e.kind === 'table' && e.table === 'items');
      assert.deepEqual(items && items.kind === 'table' ? [items.name, items.rows, items.columns] : null, ['public.items', 250, 2]);
      assert.equal(all.counts.table, 2);
      assert.equal(all.counts.database, 1);
      const found = searchContents(catalog, real[0]!.id, { q: 'NOT' });
      assert.deepEqual(found.items.map((e) => e.name), ['public.notes']);
      assert.equal(found.total, 1);

      const n8n = generated.find((b) => b.target === 'gen-b' && b.storedStatus === 'ok')!.id;
      const creds = searchContents(catalog, n8n, { kind: 'credential' });
      assert.deepEqual(creds.items, [
        { kind: 'credential', name: 'Slack token', id: 'cr1', database: 'app', type: 'slackApi', updatedAt: null },
        { kind: 'credential', name: 'SMTP account', id: 'cr2', database: 'app', type: 'smtp', updatedAt: null },
      ], 'names and types only');
      const tagged = searchContents(catalog, n8n, { q: 'ops', kind: 'workflow' });
      assert.deepEqual(tagged.items.map((e) => e.name), ['Nightly sync']);
      const pages: string[] = [];
      let cursor: string | undefined;
      do {
        const page = searchContents(catalog, n8n, { limit: 3, cursor });
        pages.push(...page.items.map((e) => `${e.kind}:${e.name}`));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.deepEqual(pages, searchContents(catalog, n8n, { limit: 200 }).items.map((e) => `${e.kind}:${e.name}`));
      assert.ok(pages.some((p) => p.startsWith('workflow:')) && pages.some((p) => p.startsWith('file:')));
      const cursorOfOther = searchContents(catalog, n8n, { limit: 1 }).nextCursor!;
      assert.throws(() => searchContents(catalog, n8n, { limit: 1, q: 'slack', cursor: cursorOfOther }), /^LifeboatError: cursor /);
      const failed = generated.find((b) => b.storedStatus === 'failed')!;
      assert.throws(() => searchContents(catalog, failed.id), /has no contents: it failed \(pg_dump: error: connection to server lost\)/);
      assert.throws(() => searchContents(catalog, 'zzz'), /no backup matches "zzz"/);
    } finally {
      catalog.close();
    }
  });
});
