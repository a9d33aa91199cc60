import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isSealed, secretBox, SECRET_KEY_FILE } from '../../src/config/secret-box.ts';
import { LifeboatError } from '../../src/errors.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-secret-box-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshHome = () => path.join(dir, `home-${n++}`);

function configError(pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof LifeboatError, String(err));
    assert.equal(err.code, 'E_CONFIG');
    assert.equal(err.exitCode, 2);
    assert.match(err.message + '\n' + (err.hint ?? ''), pattern);
    return true;
  };
}

describe('secret box', () => {
  test('without LIFEBOAT_SECRET_KEY, the first seal creates <home>/secret.key (0600, in a 0700 home) and later boxes reuse it', () => {
    const home = freshHome();
    assert.throws(() => secretBox(home, { create: false }, {}), configError(/no key: LIFEBOAT_SECRET_KEY is not set and .*secret\.key does not exist/));
    const box = secretBox(home, { create: true }, {});
    const file = path.join(home, SECRET_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(home).mode & 0o777, 0o700);
    const sealed = box.seal('hunter2-sealed', 'storage s3 secretAccessKey');
    assert.ok(isSealed(sealed), sealed);
    assert.match(sealed, new RegExp(`^v1:${box.keyId}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$`));
    assert.doesNotMatch(sealed, /hunter2/);
    const before = readFileSync(file, 'utf8');
    const again = secretBox(home, { create: true }, {});
    assert.equal(readFileSync(file, 'utf8'), before, 'never overwritten');
    assert.equal(again.open(sealed, 'storage s3 secretAccessKey'), 'hunter2-sealed');
    assert.notEqual(box.seal('same', 'x'), box.seal('same', 'x'), 'a fresh nonce each time');
  });

  test('a value moved to another place, or altered, does not open', () => {
    const box = secretBox(freshHome(), { create: true }, {});
    const sealed = box.seal('pw', 'target app postgres.url');
    assert.throws(() => box.open(sealed, 'channel ops secret'), configError(/channel ops secret in the catalog is damaged or was moved/));
    const parts = sealed.split(':');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    parts[3] = body.toString('base64url');
    assert.throws(() => box.open(parts.join(':'), 'target app postgres.url'), configError(/damaged/));
  });

  test('LIFEBOAT_SECRET_KEY as hex, base64 or a passphrase; no key file then; a wrong key is named as such', () => {
    const key = randomBytes(32);
    const home = freshHome();
    const hex = secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: key.toString('hex') });
    const b64 = secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: key.toString('base64') });
    const b64url = secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: key.toString('base64url') });
    assert.equal(hex.keyId, b64.keyId);
    assert.equal(hex.keyId, b64url.keyId);
    assert.equal(hex.source, 'LIFEBOAT_SECRET_KEY');
    assert.equal(b64.open(hex.seal('s3cret', 'c'), 'c'), 's3cret');
    assert.throws(() => statSync(path.join(home, SECRET_KEY_FILE)), /ENOENT/, 'the variable replaces the key file');

    const pass = secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: 'correct horse battery staple' });
    assert.notEqual(pass.keyId, hex.keyId);
    assert.equal(secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: 'correct horse battery staple' }).keyId, pass.keyId, 'the same passphrase gives the same key');
    const keyFile = path.join(dir, 'key.txt');
    writeFileSync(keyFile, key.toString('hex') + '\n');
    assert.equal(secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY_FILE: keyFile }).keyId, hex.keyId);

    assert.throws(() => pass.open(hex.seal('x', 'c'), 'c'), configError(/encrypted with another key \(key id [0-9a-f]{8}\); the key from LIFEBOAT_SECRET_KEY has id [0-9a-f]{8}\nset LIFEBOAT_SECRET_KEY to the key they were stored with/));
    assert.throws(() => secretBox(home, { create: true }, { LIFEBOAT_SECRET_KEY: 'short' }), configError(/LIFEBOAT_SECRET_KEY is too short: a passphrase needs at least 16 characters\nuse 32 random bytes/));
  });

  test('a damaged key file is said, never replaced', () => {
    const home = freshHome();
    secretBox(home, { create: true }, {});
    const file = path.join(home, SECRET_KEY_FILE);
    writeFileSync(file, 'garbage\n');
    assert.throws(() => secretBox(home, { create: true }, {}), configError(/secret\.key is damaged/));
    assert.equal(readFileSync(file, 'utf8'), 'garbage\n');
  });
});
