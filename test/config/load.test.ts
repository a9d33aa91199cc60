import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { LifeboatError } from '../../src/errors.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'lifeboat.yaml');

const valid = `
storages:
  nas: { type: local, path: ./backups }
targets:
  app:
    postgres: { url: "\${DB_URL}", databases: [app] }
    files:
      config: [./.env]
      media: { paths: [/srv/media], exclude: ["**/cache/**"] }
    storage: nas
`;

function fails(text: string, env: NodeJS.ProcessEnv, pattern: RegExp): void {
  assert.throws(() => parseConfig(text, file, env), (err: unknown) => {
    assert.ok(err instanceof LifeboatError, String(err));
    assert.equal(err.code, 'E_CONFIG');
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('loading lifeboat.yaml', () => {
  test('a valid file: env interpolated, paths resolved beside the file, shorthands expanded', () => {
    const { config, home } = parseConfig(valid, file, { DB_URL: 'postgres://u:p@h/app' });
    assert.equal(config.targets.app!.postgres!.url, 'postgres://u:p@h/app');
    assert.deepEqual(config.storages.nas, { type: 'local', path: path.join(dir, 'backups'), retry: { attempts: 4, delayMs: 500 } });
    assert.deepEqual(config.targets.app!.storage, { primary: 'nas', replicas: [] });
    assert.deepEqual(config.targets.app!.files.config!.paths, [path.join(dir, '.env')], 'a relative file-set path is read beside the file');
    assert.deepEqual(config.targets.app!.files.media!.exclude, ['**/cache/**']);
    assert.equal(config.targets.app!.compression.algorithm, 'zstd');
    assert.equal(config.targets.app!.onUnreadable, 'fail');
    assert.equal(home, path.join(dir, '.lifeboat'));
  });

  test('LIFEBOAT_HOME overrides the catalog directory', () => {
    const { home } = parseConfig(valid, file, { DB_URL: 'x', LIFEBOAT_HOME: '/var/lib/lifeboat' });
    assert.equal(home, '/var/lib/lifeboat');
  });

  test('VAR_FILE stands in for an unset VAR, and ${VAR:-default} for a missing one', () => {
    const secret = path.join(dir, 'db-url');
    writeFileSync(secret, 'postgres://from-file/app\n');
    assert.equal(parseConfig(valid, file, { DB_URL_FILE: secret }).config.targets.app!.postgres!.url, 'postgres://from-file/app');
    const withDefault = valid.replace('${DB_URL}', '${DB_URL:-postgres://fallback/app}');
    assert.equal(parseConfig(withDefault, file, {}).config.targets.app!.postgres!.url, 'postgres://fallback/app');
  });

  const bad: { what: string; text: string; env?: NodeJS.ProcessEnv; error: RegExp }[] = [
    { what: 'malformed YAML names line and column', text: 'storages:\n  nas: { type: local\ntargets: {}\n', error: /lifeboat\.yaml:\d+:\d+: malformed YAML/ },
    { what: 'an unknown key names its path and line', text: valid.replace('storage: nas', 'storage: nas\n    retension: {}'), error: /lifeboat\.yaml:11:\d+: targets\.app\.retension: unknown key "retension"/ },
    { what: 'a missing env var where a name is needed', text: valid.replace('storage: nas', 'storage: "${STORE}"'), error: /lifeboat\.yaml:\d+:\d+: targets\.app\.storage: environment variable STORE is not set/ },
    { what: 'a missing env var in a storage path', text: valid.replace('./backups', '"${BACKUP_DIR}"'), error: /storages\.nas\.path: environment variable BACKUP_DIR is not set/ },
    { what: 'a wrong type says what was expected and what came', text: valid.replace('databases: [app]', 'databases: 5'), error: /targets\.app\.postgres\.databases: .*got number 5/ },
    { what: 'a storage that does not exist', text: valid.replace('storage: nas', 'storage: s3'), error: /targets\.app\.storage\.primary: no storage named "s3"; configured storages: nas/ },
    { what: 'a wrong age recipient', text: valid.replace('storage: nas', 'storage: nas\n    encryption: { recipients: [age1notakey] }'), error: /encryption\.recipients\.0: not an age recipient: "age1notakey"/ },
    { what: 'a bad compression algorithm', text: valid.replace('storage: nas', 'storage: nas\n    compression: { algorithm: lz4 }'), error: /compression\.algorithm: .*"zstd".*got "lz4"/ },
    { what: 'a target with nothing to back up', text: 'storages:\n  nas: { type: local, path: /b }\ntargets:\n  app: { storage: nas }\n', error: /targets\.app: a target needs postgres, files, or both/ },
    { what: 'a bad target name', text: valid.replace('  app:', '  "my app":'), error: /targets\.my app: .*letters, digits/ },
  ];
  for (const c of bad) {
    test(`refused: ${c.what}`, () => fails(c.text, c.env ?? { DB_URL: 'postgres://u:p@h/app' }, c.error));
  }

  test('a secret in an error message is never shown whole', () => {
    const text = valid.replace('databases: [app]', 'databases: [app], unknownKey: 1');
    assert.throws(() => parseConfig(text, file, { DB_URL: 'postgres://u:supersecret@h/app' }), (err: Error) => !err.message.includes('supersecret'));
  });
});
