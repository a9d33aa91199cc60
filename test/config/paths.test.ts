import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workspace } from '../support/workspace.ts';

const ws = workspace();
after(() => ws.remove());
// The CLI's modules loaded before any run is timed: 'refused at once' times the command, not
// the first in-process run's load of ~400 modules (over 20 s at a load of 18 on two cores).
before(async () => {
  await import('../../src/cli/main.ts');
});
const key = path.join(ws.dir, 'age-key.txt');
writeFileSync(key, 'AGE-SECRET-KEY-1QQQQ\n', { mode: 0o600 });
const recipient = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

/** A files-only target, so no database is needed; `extra` lines go under the target. */
function config(extra = '', top = ''): string {
  return `${top}storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { config: [${ws.dir}/app.env] }\n    storage: local\n${extra}`;
}

/**
 * `config check` and an ordinary command both refuse, exit 2, with the message. In process
 * (ws.run: the same main() and exit code, without a Node start each); `spawned` runs both as
 * processes of their own.
 */
async function refused(yaml: string, error: RegExp, env: NodeJS.ProcessEnv = {}, spawned = false): Promise<void> {
  ws.writeConfig(yaml);
  for (const args of [['config', 'check'], ['list']]) {
    const started = Date.now();
    const r = await (spawned ? ws.cli : ws.run)(args, { env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, error, args.join(' '));
    assert.ok(Date.now() - started < 20_000, 'refused at once');
  }
}

describe('config-time errors (exit 2 from config check and every command)', () => {
  test('a missing age identity file', () =>
    refused(config(`    encryption: { recipients: [${recipient}], identityFile: ${ws.dir}/missing-key.txt }\n`), /lifeboat\.yaml:7:\d+: targets\.app\.encryption\.identityFile: the age identity file .*missing-key\.txt cannot be read: no such file/, {}, true));

  test('an identity "file" that is a directory, and LIFEBOAT_AGE_IDENTITY_FILE pointing nowhere', async () => {
    await refused(config(`    encryption: { recipients: [${recipient}], identityFile: ${ws.storage} }\n`), /identityFile: the age identity file .* cannot be read: not a regular file/);
    await refused(config(), /LIFEBOAT_AGE_IDENTITY_FILE: the age identity file \/nonexistent\/key\.txt cannot be read: no such file/, { LIFEBOAT_AGE_IDENTITY_FILE: '/nonexistent/key.txt' });
  });

  test('an identity file the user cannot read', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async () => {
    const locked = path.join(ws.dir, 'locked-key.txt');
    writeFileSync(locked, 'AGE-SECRET-KEY-1QQQQ\n', { mode: 0o000 });
    await refused(config(`    encryption: { recipients: [${recipient}], identityFile: ${locked} }\n`), /cannot be read: permission denied/);
    chmodSync(locked, 0o600);
  });

  test('a missing SSH private key or known_hosts file of an sftp storage', async () => {
    const sftp = (k: string) => config('', '').replace('storages:\n', `storages:\n  box: { type: sftp, host: backup.example.com, username: u, path: /srv, ${k} }\n`);
    await refused(sftp(`privateKey: ${ws.dir}/id_missing`), /storages\.box\.privateKey: the SSH private key .*id_missing cannot be read: no such file/);
    await refused(sftp(`privateKey: ${key}, knownHosts: ./no_known_hosts`), /storages\.box\.knownHosts: the known_hosts file .*\/no_known_hosts cannot be read: no such file/);
  });

  test('a home, temp dir, storage or file set under /proc, /sys or /dev, also through a symlink', async () => {
    await refused(config(), /LIFEBOAT_HOME: \/proc\/lifeboat is under \/proc, a kernel file system: the home cannot be there/, { LIFEBOAT_HOME: '/proc/lifeboat' });
    await refused(config('', 'home: /proc/self/lifeboat\n'), /lifeboat\.yaml:1:\d+: home: .* is under \/proc/, { LIFEBOAT_HOME: undefined });
    await refused(config('', 'tempDir: /sys/kernel\n'), /tempDir: \/sys\/kernel is under \/sys/);
    await refused(config().replace(ws.storage, '/dev/backups'), /storages\.local\.path: \/dev\/backups is under \/dev, a kernel file system: a storage cannot be there/);
    await refused(config().replace(`${ws.dir}/app.env`, '/dev/sda'), /targets\.app\.files\.config\.0: \/dev\/sda is under \/dev/);
    await refused(config().replace(`[${ws.dir}/app.env]`, '{ paths: [/etc/hostname, /sys/class] }'), /lifeboat\.yaml:5:\d+: targets\.app\.files\.config\.paths\.1: \/sys\/class is under \/sys/);
    await refused(config().replace(`[${ws.dir}/app.env]`, '{ paths: [/etc/hostname, /sys/class] }'), /lifeboat\.yaml:5:\d+: targets\.app\.files\.config\.paths\.1: \/sys\/class is under \/sys/);
    const link = path.join(ws.dir, 'looks-normal');
    symlinkSync('/proc', link);
    await refused(config(), /LIFEBOAT_HOME: .*looks-normal\/lifeboat is under \/proc/, { LIFEBOAT_HOME: path.join(link, 'lifeboat') });
  });

  test('/dev/shm is an ordinary tmpfs: allowed as a temp directory', async () => {
    ws.writeConfig(config('', 'tempDir: /dev/shm\n'));
    const r = await ws.run(['config', 'check']);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('lifeboat config check', () => {
  test('relative file-set and key paths are read beside the config file, and it says so', async () => {
    // The config sits in sub/ while the command runs in ws.dir: relative paths follow the file.
    const sub = path.join(ws.dir, 'sub');
    mkdirSync(path.join(sub, 'conf'), { recursive: true });
    writeFileSync(path.join(sub, 'conf', '.env'), 'A=1\n');
    writeFileSync(path.join(sub, 'age-key.txt'), 'AGE-SECRET-KEY-1QQQQ\n', { mode: 0o600 });
    const file = path.join(sub, 'lifeboat.yaml');
    writeFileSync(file, config(`    encryption: { recipients: [${recipient}], identityFile: ./age-key.txt }\n`).replace(`${ws.dir}/app.env`, './conf/.env'));
    const r = await ws.run(['config', 'check', '--json', '--config', file]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<{ ok: boolean; notes: string[] }>();
    assert.equal(out.ok, true);
    assert.deepEqual(out.notes.map((n) => n.replace(/^.*?: (targets)/, '$1')), [
      `targets.app.files.config.0: "./conf/.env" is relative: read as ${sub}/conf/.env (relative paths are resolved against the config file's directory)`,
      `targets.app.encryption.identityFile: "./age-key.txt" is relative: read as ${sub}/age-key.txt (relative paths are resolved against the config file's directory)`,
    ]);
    const text = await ws.run(['config', 'check', '--config', file]);
    assert.match(text.stdout, /^note: .*sub\/lifeboat\.yaml:\d+:\d+: targets\.app\.files\.config\.0: "\.\/conf\/\.env" is relative/m);
    assert.match(text.stdout, /lifeboat\.yaml: ok \(1 storage\(s\), 1 target\(s\), 0 notification channel\(s\)/);
  });

  test('every unset variable is an error for the check, though other commands wait for a reader', async () => {
    ws.writeConfig(config().replace('storages:\n', 'storages:\n  s3: { type: s3, bucket: acme, secretAccessKey: "${S3_SECRET}", accessKeyId: "${S3_KEY}" }\n'));
    const r = await ws.cli(['config', 'check']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /storages\.s3\.secretAccessKey: environment variable S3_SECRET is not set\n.*storages\.s3\.accessKeyId: environment variable S3_KEY is not set/);
    assert.equal((await ws.run(['list'])).code, 0);
  });

  test('a malformed file: exit 2 with file, line and key', async () => {
    ws.writeConfig(config('    retension: {}\n'));
    const r = await ws.cli(['config', 'check']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /lifeboat\.yaml:7:\d+: targets\.app\.retension: unknown key/);
  });
});
