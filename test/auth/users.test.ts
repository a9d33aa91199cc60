import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changeOwnPassword, createUser, getUser, listUsers, removeUser, setDisabled, setRole } from '../../src/auth/users.ts';
import { createSession, resolveSession } from '../../src/auth/sessions.ts';
import { createToken, resolveToken } from '../../src/auth/tokens.ts';
import { login } from '../../src/auth/throttle.ts';
import { addUser, PASSWORD, tempCatalog } from './fixture.ts';

const code = (c: string, re?: RegExp) => (e: Error & { code: string }) => e.code === c && (!re || re.test(e.message));

describe('users', () => {
  test('names: a plain alphabet, stored in lower case, unique', async () => {
    const catalog = tempCatalog();
    const u = await createUser(catalog, { name: 'Alice.Smith@example', role: 'viewer', password: PASSWORD });
    assert.equal(u.name, 'alice.smith@example');
    assert.equal(getUser(catalog, 'ALICE.smith@example').id, u.id);
    await assert.rejects(createUser(catalog, { name: 'alice.smith@example', role: 'admin', password: PASSWORD }), code('E_CONFLICT', /exists already/));
    for (const bad of ['', '-x', 'a b', 'x'.repeat(65), 'al/ice', 'ålice', "o'neil"]) {
      await assert.rejects(createUser(catalog, { name: bad, role: 'viewer', password: PASSWORD }), code('E_USAGE', /not a valid user name/), bad);
    }
    await assert.rejects(createUser(catalog, { name: 'bob', role: 'viewer', password: 'short' }), code('E_USAGE', /too short/));
    assert.deepEqual(listUsers(catalog).map((x) => x.name), ['alice.smith@example']);
    assert.equal(JSON.stringify(listUsers(catalog)).includes('argon2'), false, 'records never carry the hash');
  });

  test('the last admin cannot be removed, demoted or disabled; with two, one can', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'alice', 'admin');
    await addUser(catalog, 'bob', 'operator');
    assert.throws(() => removeUser(catalog, 'alice'), code('E_CONFLICT', /cannot remove alice: the last admin/));
    assert.throws(() => setRole(catalog, 'alice', 'operator'), code('E_CONFLICT', /cannot demote alice/));
    assert.throws(() => setDisabled(catalog, 'alice', true), code('E_CONFLICT', /cannot disable alice/));
    assert.equal(getUser(catalog, 'alice').role, 'admin');
    setRole(catalog, 'bob', 'admin');
    setDisabled(catalog, 'bob', true);
    assert.throws(() => removeUser(catalog, 'alice'), code('E_CONFLICT'), 'a disabled admin does not count');
    setDisabled(catalog, 'bob', false);
    setRole(catalog, 'alice', 'viewer');
    assert.equal(catalog.countAdmins(), 1);
    removeUser(catalog, 'alice');
    assert.throws(() => getUser(catalog, 'alice'), code('E_NOT_FOUND'));
  });

  test('removing a user ends their sessions and revokes their tokens', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'root', 'admin');
    const bob = await addUser(catalog, 'bob', 'operator');
    const session = createSession(catalog, bob.id);
    const { token } = createToken(catalog, { ownerId: bob.id, name: 'ci', scopes: ['backup'] });
    removeUser(catalog, 'bob');
    assert.equal(resolveSession(catalog, session.id), undefined);
    assert.equal(resolveToken(catalog, token, null), undefined);
    // A new bob inherits nothing.
    await addUser(catalog, 'bob', 'operator');
    assert.equal(resolveToken(catalog, token, null), undefined);
    assert.equal(catalog.listTokens({ includeRevoked: true }).length, 0);
  });

  test('changing one\'s own password needs the current one and ends one\'s sessions', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'viewer');
    const session = createSession(catalog, alice.id);
    await assert.rejects(changeOwnPassword(catalog, alice.id, 'not the password at all', 'a new long passphrase'), code('E_FORBIDDEN', /current password is wrong/));
    assert.ok(resolveSession(catalog, session.id), 'nothing changed');
    await assert.rejects(changeOwnPassword(catalog, alice.id, PASSWORD, 'short'), code('E_USAGE', /too short/));
    await changeOwnPassword(catalog, alice.id, PASSWORD, 'a new long passphrase');
    assert.equal(resolveSession(catalog, session.id), undefined);
    assert.equal((await login(catalog, 'alice', 'a new long passphrase', null)).ok, true);
    assert.equal((await login(catalog, 'alice', PASSWORD, null)).ok, false);
  });
});
