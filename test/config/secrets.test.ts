import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { LifeboatError } from '../../src/errors.ts';
import { useTestServer } from '../support/suite.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'lifeboat.yaml');

const text = `
storages:
  nas: { type: local, path: /srv/backups }
  s3: { type: s3, bucket: acme, endpoint: "\${S3_ENDPOINT}", accessKeyId: "\${S3_KEY}", secretAccessKey: "\${S3_SECRET}" }
targets:
  app:
    postgres: { url: "postgres://app:\${DB_PASSWORD}@db:5432/app", databases: [app] }
    storage: { primary: nas, replicas: [s3] }
notifications:
  ops: { type: webhook, url: "https://hooks.example.com/x", secret: "\${HOOK_SECRET}" }
`;

function throwsUnset(read: () => unknown, pattern: RegExp): void {
  assert.throws(read, (err: unknown) => {
    assert.ok(err instanceof LifeboatError, String(err));
    assert.equal(err.code, 'E_CONFIG');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('secrets are resolved only when read', () => {
  test('an unset variable loads; reading its value fails naming the variable and the key', () => {
    const { config, unresolved } = parseConfig(text, file, { S3_KEY: 'AKIA', S3_ENDPOINT: 'https://s3.example.com' });
    const target = config.targets.app!;
    assert.deepEqual(target.postgres!.databases, ['app'], 'the rest of the target is there');
    const s3 = config.storages.s3!;
    assert.equal(s3.type === 's3' && s3.accessKeyId, 'AKIA');
    throwsUnset(() => target.postgres!.url, /lifeboat\.yaml:7:22: targets\.app\.postgres\.url: environment variable DB_PASSWORD is not set/);
    throwsUnset(() => s3.type === 's3' && s3.secretAccessKey, /storages\.s3\.secretAccessKey: environment variable S3_SECRET is not set/);
    throwsUnset(() => config.notifications!.ops!.type === 'webhook' && config.notifications!.ops!.secret, /HOOK_SECRET/);
    throwsUnset(() => ({ ...target.postgres }), /DB_PASSWORD/);
    assert.deepEqual(unresolved!.map((e) => e.message.replace(/^.*: environment variable (\w+) .*$/, '$1')), ['S3_SECRET', 'DB_PASSWORD', 'HOOK_SECRET']);
    // A record of the config (the catalog's copy of a target) does not need the secret.
    assert.match(JSON.stringify(target), /"url":"\(unresolved\)"/);
  });

  test('an unreadable VAR_FILE waits for its reader too, and says which file', () => {
    const { config } = parseConfig(text, file, { DB_PASSWORD_FILE: path.join(dir, 'nope'), S3_ENDPOINT: 'https://s3.example.com', S3_KEY: 'k', S3_SECRET: 's', HOOK_SECRET: 'h' });
    throwsUnset(() => config.targets.app!.postgres!.url, /targets\.app\.postgres\.url: cannot read DB_PASSWORD_FILE=.*nope: ENOENT/);
  });

  test('set variables are read at load as before', () => {
    const { config, unresolved } = parseConfig(text, file, { DB_PASSWORD: 'pw', S3_ENDPOINT: 'https://s3.example.com', S3_KEY: 'k', S3_SECRET: 's', HOOK_SECRET: 'h' });
    assert.equal(config.targets.app!.postgres!.url, 'postgres://app:pw@db:5432/app');
    assert.deepEqual(unresolved, []);
  });

  test('where the schema needs the value (a list entry, a storage name), an unset variable fails at load', () => {
    const env = { DB_PASSWORD: 'pw', S3_ENDPOINT: 'https://s3.example.com', S3_KEY: 'k', S3_SECRET: 's', HOOK_SECRET: 'h' };
    const cases: [string, RegExp][] = [
      [text.replace('databases: [app]', 'databases: ["${DB_NAME}"]'), /targets\.app\.postgres\.databases\.0: environment variable DB_NAME is not set/],
      [text.replace('primary: nas', 'primary: "${PRIMARY}"'), /targets\.app\.storage\.primary: environment variable PRIMARY is not set/],
    ];
    for (const [yaml, error] of cases) assert.throws(() => parseConfig(yaml, file, env), (err: Error) => error.test(err.message));
    // A URL the schema checks still waits for its reader: what stands in for it is a valid URL.
    const { config } = parseConfig(text.replace('https://hooks.example.com/x', '${HOOK_URL}'), file, env);
    throwsUnset(() => config.notifications!.ops!.type === 'webhook' && config.notifications!.ops!.url, /notifications\.ops\.url: environment variable HOOK_URL is not set/);
  });
});

describe('read-only commands without the database secret', () => {
  const suite = useTestServer();

  test('list, show, contents, verify --quick, restores, events, status work; backup and restore fail naming the variable', async () => {
    const db = await suite.server.createDatabase('secrets');
    await suite.server.query(db, 'create table t (x int); insert into t select generate_series(1, 10)');
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "\${APP_DATABASE_URL}", databases: [${db}] }\n    storage: local\n`);
    const made = await ws.cli(['backup', 'app', '--json'], { env: { APP_DATABASE_URL: suite.server.urlFor(db) } });
    assert.equal(made.code, 0, made.stderr);
    const id = made.json<{ id: string }>().id;

    const unset = { APP_DATABASE_URL: undefined };
    // The commands that work run in process (ws.run, the variable removed from this process's
    // environment while each runs); the refusals below are processes that never had it.
    for (const args of [['list'], ['show', id], ['contents', id], ['verify', id, '--quick'], ['restores'], ['events'], ['status']]) {
      const r = await ws.run(args, { env: unset });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /APP_DATABASE_URL/, args.join(' '));
    }
    assert.match((await ws.run(['contents', id], { env: unset })).stdout, /public\.t +10/);
    assert.match((await ws.run(['verify', id, '--quick'], { env: unset })).stdout, /quick verification of .* passed/);

    for (const args of [['backup', 'app'], ['restore', id, '--dry-run'], ['config', 'check']]) {
      const r = await ws.cli(args, { env: unset });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /lifeboat\.yaml:5:\d+: targets\.app\.postgres\.url: environment variable APP_DATABASE_URL is not set/, args.join(' '));
      assert.match(r.stderr, /hint: set APP_DATABASE_URL \(or APP_DATABASE_URL_FILE/);
    }
  });
});
