import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createSession, csrfMatches, endAllSessions, endSession, endSessionByHandle, listSessions, purgeSessions, resolveSession, sessionPolicy } from '../../src/auth/sessions.ts';
import { setDisabled, setPassword } from '../../src/auth/users.ts';
import { addUser, catalogBytes, tempCatalog } from './fixture.ts';

const T0 = new Date('2026-12-01T08:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const H = 3_600_000;

describe('sessions', () => {
  test('an opaque 32-byte id, stored only as its sha256; it resolves to its user', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'operator');
    const s = createSession(catalog, alice.id, { address: '192.0.2.7', userAgent: 'Firefox', now: T0 });
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(s.id, 'base64url').length, 32);
    assert.notEqual(createSession(catalog, alice.id, { now: T0 }).id, s.id);
    assert.equal(s.expiresAt.toISOString(), '2026-12-08T08:00:00.000Z', '7 days by default');
    const r = resolveSession(catalog, s.id, at(1000))!;
    assert.equal(r.user.name, 'alice');
    assert.deepEqual(r.principal, { kind: 'user', userId: alice.id, userName: 'alice', role: 'operator', actor: 'alice' });
    assert.equal(r.csrfToken, s.csrfToken);
    assert.equal(csrfMatches(r, s.csrfToken), true);
    assert.equal(csrfMatches(r, s.csrfToken.slice(1)), false);
    assert.equal(csrfMatches(r, undefined), false);
    assert.equal(resolveSession(catalog, s.id.slice(0, -1) + (s.id.endsWith('A') ? 'B' : 'A'), at(1000)), undefined, 'a near miss');
    assert.equal(resolveSession(catalog, 'garbage', at(1000)), undefined);
    const bytes = catalogBytes(catalog);
    assert.equal(bytes.includes(s.id), false, 'the id is not in the catalog file');
    assert.equal(bytes.includes(s.csrfToken), false, 'nor the CSRF token');
    assert.equal(bytes.includes(createHash('sha256').update(s.id).digest('hex')), true, 'its sha256 is');
  });

  test('idle expiry: 12 h without a request ends it, each request pushes the end further', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'viewer');
    const s = createSession(catalog, alice.id, { now: T0 });
    assert.ok(resolveSession(catalog, s.id, at(11 * H)), 'used after 11 h');
    assert.ok(resolveSession(catalog, s.id, at(22 * H)), '11 h after the last use: still alive');
    assert.equal(resolveSession(catalog, s.id, at(34 * H + 1000)), undefined, '12 h idle: gone');
    assert.equal(resolveSession(catalog, s.id, at(35 * H)), undefined);
    assert.equal(catalog.listUserSessions(alice.id).length, 0, 'the expired session was deleted');
  });

  test('absolute expiry ends a busy session; limits come from server.sessions', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'viewer');
    const { config } = parseConfig('storages: {}\ntargets: {}\nserver:\n  sessions: { idleHours: 1, absoluteDays: 0.5 }\n', 'lifeboat.yaml');
    assert.deepEqual(sessionPolicy(config), { idleHours: 1, absoluteDays: 0.5 });
    assert.deepEqual(sessionPolicy(parseConfig('storages: {}\ntargets: {}\n', 'lifeboat.yaml').config), { idleHours: 12, absoluteDays: 7 });
    assert.throws(() => parseConfig('storages: {}\ntargets: {}\nserver:\n  sessions: { idle: 1 }\n', 'lifeboat.yaml'), /idle/);
    const s = createSession(catalog, alice.id, { now: T0, policy: sessionPolicy(config) });
    for (let m = 30; m < 12 * 60; m += 30) assert.ok(resolveSession(catalog, s.id, at(m * 60_000)), `busy at ${m} min`);
    assert.equal(resolveSession(catalog, s.id, at(12 * H)), undefined, 'absolute limit reached while busy');
    const idle = createSession(catalog, alice.id, { now: T0, policy: sessionPolicy(config) });
    assert.equal(resolveSession(catalog, idle.id, at(H)), undefined, '1 h idle');
  });

  test('logout, ending one session by handle, and sign out everywhere take effect at once', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    const bob = await addUser(catalog, 'bob', 'viewer');
    const [a1, a2, a3] = [1, 2, 3].map((i) => createSession(catalog, alice.id, { address: `10.0.0.${i}`, userAgent: `browser ${i}`, now: T0 }));
    const b1 = createSession(catalog, bob.id, { now: T0 });
    endSession(catalog, a1!.id);
    assert.equal(resolveSession(catalog, a1!.id, at(1000)), undefined);
    assert.ok(resolveSession(catalog, a2!.id, at(1000)));
    assert.equal(endSessionByHandle(catalog, bob.id, a2!.handle), false, 'bob cannot end alice\'s session');
    assert.equal(endSessionByHandle(catalog, alice.id, a2!.handle), true);
    assert.equal(resolveSession(catalog, a2!.id, at(1000)), undefined);
    createSession(catalog, alice.id, { now: T0 });
    assert.equal(endAllSessions(catalog, alice.id), 2);
    assert.equal(resolveSession(catalog, a3!.id, at(1000)), undefined);
    assert.ok(resolveSession(catalog, b1.id, at(1000)), 'other users keep theirs');
  });

  test('the session list shows handle, times, address and browser: never an id or a hash', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    const s = createSession(catalog, alice.id, { address: '198.51.100.4', userAgent: 'Mozilla/5.0 ' + 'x'.repeat(400), now: T0 });
    resolveSession(catalog, s.id, at(5 * 60_000));
    const list = listSessions(catalog, alice.id, at(6 * 60_000));
    assert.equal(list.length, 1);
    assert.deepEqual(Object.keys(list[0]!).sort(), ['address', 'createdAt', 'expiresAt', 'handle', 'lastSeenAt', 'userAgent']);
    assert.equal(list[0]!.handle, s.handle);
    assert.equal(list[0]!.address, '198.51.100.4');
    assert.equal(list[0]!.userAgent!.length, 256);
    assert.equal(list[0]!.lastSeenAt, at(5 * 60_000).toISOString());
    assert.equal(list[0]!.expiresAt, at(5 * 60_000 + 12 * H).toISOString(), 'the idle end comes first');
    assert.doesNotMatch(JSON.stringify(list), new RegExp(s.id));
    assert.deepEqual(listSessions(catalog, alice.id, at(20 * H)), [], 'expired sessions are not listed');
  });

  test('a new password or disabling the user ends their sessions', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    await addUser(catalog, 'root', 'admin');
    const s = createSession(catalog, alice.id);
    await setPassword(catalog, 'alice', 'another long passphrase');
    assert.equal(resolveSession(catalog, s.id), undefined);
    const s2 = createSession(catalog, alice.id);
    setDisabled(catalog, 'alice', true);
    assert.equal(resolveSession(catalog, s2.id), undefined);
    setDisabled(catalog, 'alice', false);
    assert.equal(resolveSession(catalog, s2.id), undefined, 'enabling does not revive ended sessions');
  });

  test('purging drops idle and absolutely expired sessions, and only those', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'viewer');
    const idle = createSession(catalog, alice.id, { now: T0 });
    const busy = createSession(catalog, alice.id, { now: T0 });
    // Never idle long enough to end that way: only its absolute limit ends it.
    const old = createSession(catalog, alice.id, { now: at(-7 * 24 * H + 60_000), policy: { idleHours: 24 * 30, absoluteDays: 7 } });
    resolveSession(catalog, busy.id, at(11 * H));
    assert.ok(resolveSession(catalog, old.id, at(0)));
    assert.equal(purgeSessions(catalog, at(12 * H)), 2, 'the idle one and the one past 7 days');
    assert.ok(resolveSession(catalog, busy.id, at(12 * H)));
    assert.equal(catalog.listUserSessions(alice.id).length, 1);
    assert.equal(resolveSession(catalog, idle.id, at(1000)), undefined);
  });
});
