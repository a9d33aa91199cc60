import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();

async function djangoDatabase(): Promise<string> {
  const db = await suite.server.createDatabase('django');
  await suite.server.query(db, `create table django_migrations (id bigserial primary key, app varchar(255) not null, name varchar(255) not null, applied timestamptz not null);
    insert into django_migrations (app, name, applied) values
      ('contenttypes', '0001_initial', '2026-01-01T10:00:00Z'), ('auth', '0001_initial', '2026-01-01T10:00:01Z'),
      ('shop', '0001_initial', '2026-01-02T09:00:00Z'), ('shop', '0002_order_total', '2026-02-03T08:30:00Z');`);
  return db;
}

describe('django profile, detected by profile: auto', () => {
  test('without projectRoot and mediaRoot, the backup says what it could not do (log and manifest), naming a manage.py it found', async () => {
    const db = await djangoDatabase();
    const ws = suite.workspace();
    mkdirSync(path.join(ws.dir, 'site'));
    writeFileSync(path.join(ws.dir, 'site', 'manage.py'), '#!/usr/bin/env python\n');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  site:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: auto\n`);
    const r = await ws.cli(['backup', 'site']);
    assert.equal(r.code, 0, r.stderr);
    const site = path.join(ws.dir, 'site');
    assert.ok(r.stderr.includes(`warn: django: uploaded media files are not backed up: no django.mediaRoot (MEDIA_ROOT) and no file set named media in the target; set one (manage.py found in ${site})`), r.stderr);
    assert.ok(r.stderr.includes(`warn: django: a restore cannot check this backup's migrations against the deployed code: set django.projectRoot to the directory of manage.py (manage.py found in ${site})`), r.stderr);
    assert.match(r.stdout, /2 warning\(s\)/);
    const id = /backup (\S+):/.exec(r.stdout)![1]!;
    const m = (await ws.run(['show', id, '--json'])).json<{ manifest: Manifest }>().manifest;
    assert.equal(m.app.profile, 'django');
    assert.equal(m.warnings.filter((w) => w.startsWith('django: ')).length, 2);
  });

  test('with both set, no warning; contents shows the migration state per app', async () => {
    const db = await djangoDatabase();
    const ws = suite.workspace();
    mkdirSync(path.join(ws.dir, 'media'));
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  site:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: auto\n    django: { projectRoot: ., mediaRoot: ./media }\n`);
    const r = await ws.cli(['backup', 'site', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /django:/);
    const c = await ws.run(['contents', r.json<{ id: string }>().id]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /migrations \(django\): 4 applied\n {2}APP +APPLIED +LATEST +AT\n/);
    assert.match(c.stdout, /\n {2}contenttypes +1 +0001_initial +2026-01-01 10:00:00\n/);
    assert.match(c.stdout, /\n {2}shop +2 +0002_order_total +2026-02-03 08:30:00/);
  });
});
