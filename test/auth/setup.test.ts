import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { claimSetup, setupPending, setupToken } from '../../src/auth/setup.ts';
import { login } from '../../src/auth/throttle.ts';
import { removeUser, setRole } from '../../src/auth/users.ts';
import { addUser, catalogBytes, PASSWORD, tempCatalog } from './fixture.ts';

const code = (c: string, re?: RegExp) => (e: Error & { code: string }) => e.code === c && (!re || re.test(e.message));

describe('first-start setup', () => {
  test('a one-time token, stored hashed, creates the first admin once', async () => {
    const catalog = tempCatalog();
    assert.equal(setupPending(catalog), true);
    const token = setupToken(catalog)!;
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(catalogBytes(catalog).includes(token), false, 'the token is not in the catalog in clear');
    await assert.rejects(claimSetup(catalog, 'x'.repeat(43), 'alice', PASSWORD), code('E_UNAUTHENTICATED', /wrong or was used/));
    await assert.rejects(claimSetup(catalog, token, 'alice', 'short'), code('E_USAGE', /too short/));
    assert.equal(catalog.listUsers().length, 0, 'failed claims create nobody');

    const admin = await claimSetup(catalog, token, 'Alice', PASSWORD);
    assert.equal(admin.name, 'alice');
    assert.equal(admin.role, 'admin');
    assert.equal((await login(catalog, 'alice', PASSWORD, null)).ok, true);
    assert.equal(setupPending(catalog), false);
    await assert.rejects(claimSetup(catalog, token, 'mallory', PASSWORD), code('E_CONFLICT', /setup is done/));
    assert.equal(setupToken(catalog), undefined, 'no new token once an admin exists');
    assert.deepEqual(catalog.listUsers().map((u) => u.name), ['alice']);
  });

  test('a newer token replaces the older; two racing claims make one admin', async () => {
    const catalog = tempCatalog();
    const first = setupToken(catalog)!;
    const second = setupToken(catalog)!;
    assert.notEqual(first, second);
    await assert.rejects(claimSetup(catalog, first, 'alice', PASSWORD), code('E_UNAUTHENTICATED'));
    const results = await Promise.allSettled([claimSetup(catalog, second, 'alice', PASSWORD), claimSetup(catalog, second, 'mallory', PASSWORD)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    assert.equal(catalog.listUsers().length, 1);
  });

  test('an admin made from the shell ends setup: an earlier link stays dead', async () => {
    const catalog = tempCatalog();
    const token = setupToken(catalog)!;
    await addUser(catalog, 'root', 'admin');
    await assert.rejects(claimSetup(catalog, token, 'mallory', PASSWORD), code('E_CONFLICT'));
    await addUser(catalog, 'bob', 'viewer');
    setRole(catalog, 'bob', 'admin');
    removeUser(catalog, 'root');
    assert.equal(setupPending(catalog), false);
  });
});
