// What the web UI asks before the user acts, over HTTP against a real serve and PostgreSQL: the
// retention a form holds but has not saved (previewed, nothing saved), a target's test naming
// the app and databases before any backup, whether the target's n8n would take a workflow now,
// the restore history a page at a time, and a backup's migrations against the deployed code.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { addUser, call, signIn, startServe, type ServeProcess } from '../support/api.ts';
import { seedN8n } from '../support/n8n.ts';
import { startFakeN8n } from '../support/n8n-api.ts';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
const PASSWORD = 'correct horse battery';

const MIGRATIONS: Record<string, string> = {
  '20260101000000_init': 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY);\n',
  '20260201000000_posts': 'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY);\n',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

interface Decision { id: string; result: string; reasons: string[] }
interface Preview { target: string; policy: Record<string, unknown> | null; decisions: Decision[] }

describe('answers the console asks before acting', () => {
  let ws: Workspace;
  let serve: ServeProcess;
  let n8n: Awaited<ReturnType<typeof startFakeN8n>>;
  let deadUrl: string;
  let shop: string;
  let flows: string;
  let webBackup: string;
  let shopBackup: string;
  let session: { cookie: string; csrf: string };
  let viewer: { cookie: string; csrf: string };
  const api = (method: string, path: string, body?: unknown, as = session) => call(serve.url, method, path, { session: as, body });

  before(async () => {
    ws = suite.workspace();
    shop = await suite.server.createDatabase('answershop');
    flows = await suite.server.createDatabase('answerflows');
    const web = await suite.server.createDatabase('answerweb');
    await Promise.all([seedShop(suite.server, shop), seedN8n(suite.server, flows)]);
    // A Prisma app as `prisma migrate deploy` leaves it, and its code beside lifeboat.yaml.
    await suite.server.query(web, `create table "_prisma_migrations" (id varchar(36) primary key, checksum varchar(64) not null, finished_at timestamptz, migration_name varchar(255) not null,
      logs text, rolled_back_at timestamptz, started_at timestamptz not null default now(), applied_steps_count integer not null default 0)`);
    for (const [i, [name, sql]] of Object.entries(MIGRATIONS).entries()) {
      await suite.server.query(web, `insert into "_prisma_migrations" values ('${i}', '${sha(sql)}', now(), '${name}', null, null, now(), 1); ${sql}`);
    }
    n8n = await startFakeN8n('the-right-key');
    // A port nothing listens on any more: an n8n that is down.
    const dead = await startFakeN8n('k');
    await dead.stop();
    deadUrl = dead.url;
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n` +
        `  app:\n    postgres: { url: "${suite.server.urlFor(shop)}", databases: [${shop}] }\n    storage: local\n    retention: { keepLast: 3 }\n` +
        // Named generic on purpose: the test says n8n is there and what to set.
        `  flows:\n    postgres: { url: "${suite.server.urlFor(flows)}" }\n    storage: local\n    n8n: { url: "${n8n.url}", apiKey: the-right-key }\n` +
        `  badkey:\n    postgres: { url: "${suite.server.urlFor(flows)}", databases: [${flows}] }\n    storage: local\n    n8n: { url: "${n8n.url}", apiKey: a-wrong-key }\n` +
        `  web:\n    postgres: { url: "${suite.server.urlFor(web)}", databases: [${web}] }\n    storage: local\n    profile: auto\n` +
        `  gone:\n    postgres: { url: "${suite.server.urlFor(flows)}", databases: [${flows}] }\n    storage: local\n    n8n: { url: "${deadUrl}", apiKey: k }\n`,
    );
    for (let i = 0; i < 3; i++) assert.equal((await ws.run(['backup', 'app'])).code, 0);
    const made = await ws.run(['backup', 'web', '--json']);
    assert.equal(made.code, 0, made.stderr);
    webBackup = made.json<{ id: string }>().id;
    shopBackup = (await ws.run(['list', 'app', '--json'])).json<{ id: string }[]>()[0]!.id;
    await addUser(ws, 'alice', 'admin', PASSWORD);
    await addUser(ws, 'victor', 'viewer', PASSWORD);
    serve = await startServe(ws);
    session = await signIn(serve.url, 'alice', PASSWORD);
    viewer = await signIn(serve.url, 'victor', PASSWORD);
  });
  after(async () => {
    await serve?.stop();
    await n8n?.stop();
  });

  test('POST /retention/preview decides for rules not saved, with the saved preview\'s code; nothing changes', async () => {
    const saved = (await api('GET', '/api/v1/retention?target=app')).json<{ items: Preview[] }>().items[0]!;
    assert.deepEqual(saved.decisions.map((d) => d.result), ['kept', 'kept', 'kept']);
    const r = await api('POST', '/api/v1/retention/preview', { target: 'app', policy: { keepLast: 1 } }, viewer);
    assert.equal(r.status, 200, r.text);
    const draft = r.json<Preview>();
    assert.deepEqual(draft.policy, { keepLast: 1, minKeep: 1 });
    assert.deepEqual(draft.decisions.map((d) => d.result), ['kept', 'would-delete', 'would-delete']);
    assert.deepEqual(draft.decisions.map((d) => d.id), saved.decisions.map((d) => d.id));
    // No rules at all: everything kept.
    assert.deepEqual((await api('POST', '/api/v1/retention/preview', { target: 'app', policy: null })).json<Preview>().decisions.map((d) => d.result), ['kept', 'kept', 'kept']);
    // Nothing was saved or announced.
    const after = (await api('GET', '/api/v1/retention?target=app')).json<{ items: Preview[] }>().items[0]!;
    assert.deepEqual(after.policy, { keepLast: 3, minKeep: 1 });
    const pending = (await api('GET', '/api/v1/backups?target=app&pendingDeletion=true')).json<{ items: unknown[] }>().items;
    assert.equal(pending.length, 0);
  });

  test('a draft is validated as lifeboat.yaml is; an unknown target is 404', async () => {
    const bad = await api('POST', '/api/v1/retention/preview', { target: 'app', policy: { keepWithin: 'soon', keepLast: -1 } });
    assert.equal(bad.status, 400);
    const p = bad.json<{ code: string; detail: string }>();
    assert.equal(p.code, 'E_CONFIG');
    assert.match(p.detail, /retention\.keepWithin: a duration such as 36h/);
    assert.match(p.detail, /retention\.keepLast/);
    const unknown = await api('POST', '/api/v1/retention/preview', { target: 'nope', policy: {} });
    assert.equal(unknown.status, 404);
    assert.match(unknown.json<{ detail: string }>().detail, /no target named "nope"/);
  });

  test('a target\'s test names the app and the databases a backup would take, before any backup', async () => {
    const r = await api('POST', '/api/v1/targets/flows/test');
    assert.equal(r.status, 200, r.text);
    const report = r.json<{ ok: boolean; checks: { name: string; ok: boolean; detail: string; hint?: string }[]; detected: { configured: string; databases: { name: string; profile: string; tables: number }[]; more: number } }>();
    assert.equal(report.ok, true, JSON.stringify(report.checks));
    assert.equal(report.detected.configured, 'generic');
    const found = report.detected.databases.find((d) => d.name === flows);
    assert.equal(found?.profile, 'n8n');
    assert.ok(found.tables >= 8, `${found.tables} tables`);
    assert.equal(report.detected.databases.find((d) => d.name === shop)?.profile, 'generic');
    const check = report.checks.find((c) => c.name === 'app profile')!;
    assert.match(check.detail, /n8n found .* but the target's profile is generic/);
    assert.match(check.hint ?? '', /set profile: n8n \(or auto\)/);
    assert.equal((await api('GET', '/api/v1/backups?target=flows')).json<{ items: unknown[] }>().items.length, 0, 'no backup was made');
  });

  test('GET /targets/{name}/n8n: reachable with the key, refused key, unreachable, not configured', async () => {
    const ask = async (name: string) => (await api('GET', `/api/v1/targets/${name}/n8n`)).json<{ configured: boolean; reachable: boolean; detail: string; hint?: string }>();
    assert.deepEqual(await ask('flows'), { configured: true, reachable: true, detail: `n8n at ${n8n.url} is up` });
    const refused = await ask('badkey');
    assert.deepEqual([refused.reachable, refused.detail], [false, `n8n at ${n8n.url} rejected the API key (HTTP 401)`]);
    const gone = await ask('gone');
    assert.equal(gone.reachable, false);
    assert.equal(gone.detail, `n8n at ${deadUrl} is not reachable (ECONNREFUSED)`);
    const none = await ask('app');
    assert.deepEqual([none.configured, none.reachable, none.detail], [false, false, 'no running n8n is configured for target app']);
    assert.equal((await api('GET', '/api/v1/targets/nope/n8n')).status, 404);
    assert.equal((await api('GET', '/api/v1/targets/flows/n8n', undefined, viewer)).status, 403, 'a viewer cannot restore workflows, so is not told');
  });

  test('GET /restores pages by keyset cursor: every restore once, newest first', async () => {
    const catalog = Catalog.open(ws.home);
    try {
      // Two per millisecond at least: the id breaks ties in start time.
      for (let i = 0; i < 31; i++) {
        const id = `r${String(i).padStart(3, '0')}`;
        catalog.startRestore({ id, backupId: 'app-x', requestedBy: 'alice', plan: { n: i } });
        catalog.finishRestore(id, { status: 'succeeded', report: {} });
      }
    } finally {
      catalog.close();
    }
    const seen: { id: string; startedAt: string }[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await api('GET', `/api/v1/restores?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200, r.text);
      const page = r.json<{ items: { id: string; startedAt: string }[]; nextCursor: string | null }>();
      seen.push(...page.items);
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 4);
    assert.equal(seen.length, 31);
    assert.equal(new Set(seen.map((s) => s.id)).size, 31);
    const sorted = [...seen].sort((a, b) => (a.startedAt === b.startedAt ? b.id.localeCompare(a.id) : b.startedAt.localeCompare(a.startedAt)));
    assert.deepEqual(seen.map((s) => s.id), sorted.map((s) => s.id));
    assert.equal(seen[0]!.id, 'r030');
    const bad = await api('GET', '/api/v1/restores?cursor=nonsense');
    assert.equal(bad.status, 400);
    assert.match(bad.json<{ detail: string }>().detail, /cursor "nonsense" is not one this listing gave/);
  });

  test('GET /backups/{id}/compatibility: the migrations against the deployed code, as a restore plan checks them', async () => {
    const dir = path.join(ws.dir, 'prisma', 'migrations');
    const deploy = (names: string[]) => {
      rmSync(dir, { recursive: true, force: true });
      for (const n of names) {
        mkdirSync(path.join(dir, n), { recursive: true });
        writeFileSync(path.join(dir, n, 'migration.sql'), MIGRATIONS[n]!);
      }
    };
    type Compat = { profile: string; checked: boolean; reason?: string; checks: { name: string; ok: boolean; detail: string }[] };
    const ask = async (id: string) => {
      const r = await api('GET', `/api/v1/backups/${id}/compatibility`, undefined, viewer);
      assert.equal(r.status, 200, r.text);
      return r.json<Compat>();
    };
    let c = await ask(webBackup);
    assert.deepEqual([c.profile, c.checked], ['prisma', false]);
    assert.equal(c.reason, `no migrations found in ${dir}: set prisma.migrationsDir of target web to the deployed code's prisma/migrations`);
    deploy(Object.keys(MIGRATIONS));
    c = await ask(webBackup);
    assert.deepEqual(c.checks, [{ name: 'prisma migrations', ok: true, detail: 'compatible: the same 2 migration(s)' }]);
    // Code older than the backup: what a restore would refuse without --force.
    deploy(['20260101000000_init']);
    c = await ask(webBackup);
    assert.equal(c.checks[0]!.ok, false);
    assert.match(c.checks[0]!.detail, /the backup is newer than the code: 20260201000000_posts not in/);
    assert.deepEqual(await ask(shopBackup), { backupId: shopBackup, profile: 'generic', checked: false, reason: 'the generic profile knows no migrations to compare', checks: [] });
    assert.equal((await api('GET', '/api/v1/backups/no-such-backup/compatibility')).status, 404);
  });
});
