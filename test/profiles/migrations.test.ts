import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

const SQL: Record<string, string> = {
  '20260101000000_init': 'CREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "email" TEXT NOT NULL);\n',
  '20260201000000_posts': 'CREATE TABLE "Post" ("id" SERIAL PRIMARY KEY, "title" TEXT NOT NULL);\n',
  '20260301000000_tags': 'CREATE TABLE "Tag" ("id" SERIAL PRIMARY KEY);\n',
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** A Prisma app's database (as `prisma migrate deploy` leaves it) and a target on it. */
async function prismaApp(applied: string[], options: { failed?: string } = {}): Promise<{ ws: Workspace; db: string }> {
  const db = await suite.server.createDatabase('prisma');
  await suite.server.query(db, `create table "_prisma_migrations" (id varchar(36) primary key, checksum varchar(64) not null, finished_at timestamptz, migration_name varchar(255) not null,
    logs text, rolled_back_at timestamptz, started_at timestamptz not null default now(), applied_steps_count integer not null default 0)`);
  for (const [i, name] of applied.entries()) {
    await suite.server.query(db, `insert into "_prisma_migrations" values ('${i}', '${sha(SQL[name]!)}', now() + interval '${i} seconds', '${name}', null, null, now() + interval '${i} seconds', 1)`);
    await suite.server.query(db, SQL[name]!);
  }
  if (options.failed) await suite.server.query(db, `insert into "_prisma_migrations" values ('f', 'x', null, '${options.failed}', 'boom', null, now() + interval '1 hour', 0)`);
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  web:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: auto\n`);
  return { ws, db };
}

/** The deployed code's prisma/migrations beside lifeboat.yaml. */
function code(ws: Workspace, names: string[], edit: Record<string, string> = {}): void {
  const dir = path.join(ws.dir, 'prisma', 'migrations');
  rmSync(dir, { recursive: true, force: true });
  for (const n of names) {
    mkdirSync(path.join(dir, n), { recursive: true });
    writeFileSync(path.join(dir, n, 'migration.sql'), edit[n] ?? SQL[n]!);
  }
}

describe('prisma profile', () => {
  test('auto-detected; applied migrations in the manifest; a failed one is a backup warning', async () => {
    const { ws } = await prismaApp(['20260101000000_init', '20260201000000_posts'], { failed: '20260301000000_tags' });
    const r = await ws.cli(['backup', 'web', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /prisma: migration 20260301000000_tags started at .* and never finished: it failed/);
    const m = (await ws.run(['show', r.json<{ id: string }>().id, '--json'])).json<{ manifest: Manifest }>().manifest;
    assert.equal(m.app.profile, 'prisma');
    assert.deepEqual(m.app.migrations?.map((x) => x.name), ['20260101000000_init', '20260201000000_posts']);
  });

  test('restore checks the backup against the code: equal, older (pending), newer (blocked unless --force), edited (warned)', async () => {
    const { ws, db } = await prismaApp(['20260101000000_init', '20260201000000_posts']);
    const id = (await ws.run(['backup', 'web', '--json'])).json<{ id: string }>().id;
    const plan = async () => (await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--dry-run'])).stdout;

    code(ws, ['20260101000000_init', '20260201000000_posts']);
    assert.match(await plan(), /pass {2}prisma migrations: compatible: the same 2 migration\(s\)/);
    code(ws, Object.keys(SQL));
    assert.match(await plan(), /pass {2}prisma migrations: compatible; 1 pending migration\(s\) to apply after the restore \(prisma migrate deploy\): 20260301000000_tags/);
    code(ws, ['20260101000000_init'], {});
    assert.match(await plan(), /WARN {2}prisma migrations: the backup is newer than the code: 20260201000000_posts not in /);
    const blocked = await ws.cli(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--yes']);
    assert.equal(blocked.code, 3);
    assert.match(blocked.stderr, /restore refused: prisma migrations: the backup is newer than the code.*\nhint: pass --force to restore anyway/);
    const forced = await ws.cli(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--yes', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    code(ws, ['20260101000000_init', '20260201000000_posts'], { '20260201000000_posts': SQL['20260201000000_posts']!.replace('"title"', '"headline"') });
    assert.match(await plan(), /pass {2}prisma migration files: warning: edited since they were applied \(checksum differs\): 20260201000000_posts/);
    code(ws, ['20260101000000_init', '20260201000000_posts'], { '20260201000000_posts': SQL['20260201000000_posts']!.replace('\n', '\r\n') });
    assert.doesNotMatch(await plan(), /edited since/, 'CRLF line endings are the same file');
  });
});

describe('django profile', () => {
  test('migration state in the manifest; restore checks the project\'s migrations, ignoring apps it does not hold', async () => {
    const db = await suite.server.createDatabase('django');
    await suite.server.query(db, `create table django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
      insert into django_migrations (app, name, applied) values ('contenttypes', '0001_initial', now()), ('auth', '0001_initial', now()), ('shop', '0001_initial', now()), ('shop', '0002_order_total', now());`);
    const ws = suite.workspace();
    mkdirSync(path.join(ws.dir, 'media', 'uploads'), { recursive: true });
    writeFileSync(path.join(ws.dir, 'media', 'uploads', 'logo.png'), 'png');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  site:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: django\n    django: { projectRoot: ./project, mediaRoot: ./media, migrateCommand: "python manage.py migrate" }\n`);
    const r = await ws.cli(['backup', 'site', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.json<{ id: string }>().id;
    const m = (await ws.run(['show', id, '--json'])).json<{ manifest: Manifest }>().manifest;
    assert.deepEqual(m.app.migrations?.map((x) => x.name), ['contenttypes.0001_initial', 'auth.0001_initial', 'shop.0001_initial', 'shop.0002_order_total']);
    assert.ok(m.files.some((f) => f.set === 'media' && f.path === path.join(ws.dir, 'media', 'uploads', 'logo.png')), 'MEDIA_ROOT is backed up as the file set media');

    const migrations = path.join(ws.dir, 'project', 'shop', 'migrations');
    mkdirSync(migrations, { recursive: true });
    for (const f of ['__init__.py', '0001_initial.py', '0002_order_total.py', '0003_order_status.py']) writeFileSync(path.join(migrations, f), '# migration\n');
    const plan = async () => (await ws.run(['restore', id, '--to', suite.server.urlFor(`${db}_copy`), '--dry-run'])).stdout;
    assert.match(await plan(), /pass {2}django migrations: compatible; 1 migration\(s\) of the code are not applied in the backup \(shop\.0003_order_status\); then run: python manage\.py migrate/);
    rmSync(path.join(migrations, '0002_order_total.py'));
    rmSync(path.join(migrations, '0003_order_status.py'));
    assert.match(await plan(), /WARN {2}django migrations: the backup is newer than the code: 1 applied migration\(s\) the code does not have \(shop\.0002_order_total\)/);
  });
});
