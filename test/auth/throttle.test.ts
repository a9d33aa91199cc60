import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, test } from 'node:test';
import { addressKey, delaySeconds, login, purgeLoginAttempts, THROTTLE, type LoginResult } from '../../src/auth/throttle.ts';
import { dummyHash } from '../../src/auth/passwords.ts';
import { setDisabled } from '../../src/auth/users.ts';
import { addUser, PASSWORD, tempCatalog } from './fixture.ts';

const T0 = new Date('2026-12-01T08:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);

/** Failed logins for `name`, each made as soon as the previous answer allows; the answers in order. */
async function failRepeatedly(catalog: ReturnType<typeof tempCatalog>, name: string, address: string, times: number): Promise<LoginResult[]> {
  const answers: LoginResult[] = [];
  let t = 0;
  for (let i = 0; i < times; i++) {
    const r = await login(catalog, name, 'wrong password, long enough', address, at(t));
    answers.push(r);
    if (!r.ok && r.retryAfterSeconds) t += r.retryAfterSeconds;
  }
  return answers;
}

describe('login throttling', () => {
  test('the delay: free for 5 failures, then doubling from 1 s, at most 15 min', () => {
    assert.deepEqual([1, 5, 6, 7, 8, 9, 15, 16, 40].map((f) => delaySeconds(f, 5)), [0, 0, 1, 2, 4, 8, 512, 900, 900]);
  });

  test('addresses: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64', () => {
    assert.equal(addressKey('192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(addressKey('2001:db8:aa:bb:1:2:3:4'), '2001:db8:aa:bb::/64');
    assert.equal(addressKey('2001:DB8:aa:bb::9'), '2001:db8:aa:bb::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey(null), 'unknown');
  });

  test('failures grow the wait (a 429 with Retry-After); unknown and known users get the same answers', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'alice', 'admin');
    const known = await failRepeatedly(catalog, 'alice', '192.0.2.1', 9);
    const unknown = await failRepeatedly(catalog, 'mallory', '192.0.2.2', 9);
    const invalid = await failRepeatedly(catalog, 'not a name!', '192.0.2.3', 9);
    const expected = [{ ok: false }, { ok: false }, { ok: false }, { ok: false }, { ok: false }, { ok: false, retryAfterSeconds: 1 }, { ok: false, retryAfterSeconds: 2 }, { ok: false, retryAfterSeconds: 4 }, { ok: false, retryAfterSeconds: 8 }];
    assert.deepEqual(known, expected);
    assert.deepEqual(unknown, expected);
    assert.deepEqual(invalid, expected);
  });

  test('while locked even the right password is refused, without hashing; after the wait it works and clears the count', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'alice', 'admin');
    await failRepeatedly(catalog, 'alice', '192.0.2.1', 7); // locked for 2 s from t=1
    const locked = await login(catalog, 'alice', PASSWORD, '192.0.2.1', at(1.5));
    assert.deepEqual(locked, { ok: false, retryAfterSeconds: 2 });
    const started = performance.now();
    await login(catalog, 'alice', PASSWORD, '192.0.2.1', at(1.5));
    assert.ok(performance.now() - started < 10, 'a locked attempt costs no hashing');
    const ok = await login(catalog, 'alice', PASSWORD, '192.0.2.1', at(3));
    assert.equal(ok.ok, true);
    assert.equal(ok.ok && ok.user.name, 'alice');
    assert.equal(ok.ok && ok.user.lastLoginAt, at(3).toISOString());
    assert.deepEqual(await login(catalog, 'alice', 'wrong password, long enough', '192.0.2.9', at(4)), { ok: false }, 'the count starts again');
  });

  test('per address: many names from one address are throttled together; other addresses are not', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'alice', 'admin');
    let last: LoginResult = { ok: false };
    for (let i = 0; i < THROTTLE.addressFree + 1; i++) last = await login(catalog, `user${i}`, 'wrong password, long enough', '198.51.100.1', T0);
    assert.deepEqual(last, { ok: false, retryAfterSeconds: 1 });
    assert.deepEqual(await login(catalog, 'alice', PASSWORD, '198.51.100.1', T0), { ok: false, retryAfterSeconds: 1 }, 'the address is locked');
    assert.equal((await login(catalog, 'alice', PASSWORD, '198.51.100.2', T0)).ok, true);
    const secondsLater = await login(catalog, 'alice', PASSWORD, '198.51.100.1', at(1));
    assert.equal(secondsLater.ok, true);
    // One host rotating through its IPv6 /64 is one address.
    for (let i = 0; i < THROTTLE.addressFree + 1; i++) last = await login(catalog, `user${i}`, 'wrong password, long enough', `2001:db8:1:2::${i.toString(16)}`, at(10));
    assert.deepEqual(last, { ok: false, retryAfterSeconds: 1 });
    assert.deepEqual(await login(catalog, 'alice', PASSWORD, '2001:db8:1:2:ffff::1', at(10)), { ok: false, retryAfterSeconds: 1 });
    assert.equal((await login(catalog, 'alice', PASSWORD, '2001:db8:1:3::1', at(10))).ok, true, 'the next /64 is another');
  });

  test('parallel guesses cannot all slip in before the first failure is counted', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'alice', 'admin');
    const answers = await Promise.all(Array.from({ length: 9 }, () => login(catalog, 'alice', 'wrong password, long enough', '192.0.2.1', T0)));
    assert.equal(answers.every((a) => !a.ok), true);
    // Each attempt is counted before its hash is computed: the sixth locks the account, the
    // three after it are refused unchecked and uncounted.
    assert.equal(catalog.getLoginAttempt('account:alice')!.failures, 6, 'only six were checked');
    assert.deepEqual(answers.at(-1), { ok: false, retryAfterSeconds: 1 });
  });

  test('a disabled user answers like a wrong password; an unknown user costs a hash like a known one', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'root', 'admin');
    await addUser(catalog, 'alice', 'operator');
    setDisabled(catalog, 'alice', true);
    assert.deepEqual(await login(catalog, 'alice', PASSWORD, '192.0.2.1', T0), { ok: false });
    await dummyHash();
    // CPU time, not wall time: the hash is the cost, and a loaded machine stretches wall time at random.
    const time = async (name: string, i: number) => {
      const t = process.cpuUsage();
      await login(catalog, name, 'wrong password, long enough', `10.0.0.${i}`, at(i));
      const d = process.cpuUsage(t);
      return (d.user + d.system) / 1000;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) {
      known.push(await time('root', i));
      unknown.push(await time('nobody', 100 + i));
    }
    const [k, u] = [Math.min(...known), Math.min(...unknown)];
    console.log(`failed login: known user ${k.toFixed(1)} ms, unknown user ${u.toFixed(1)} ms (least CPU of 4)`);
    assert.ok(u > k * 0.5 && u < k * 2, `unknown ${u} ms vs known ${k} ms`);
  });

  test('a hash made with older parameters is upgraded at the next successful login', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    const salt = crypto.randomBytes(16);
    const old = (crypto as unknown as { argon2Sync(a: string, p: object): Buffer }).argon2Sync('argon2id', { message: PASSWORD, nonce: salt, parallelism: 1, tagLength: 32, memory: 4096, passes: 3 });
    const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '');
    catalog.rehashUserPassword(alice.id, `$argon2id$v=19$m=4096,t=3,p=1$${b64(salt)}$${b64(old)}`);
    assert.equal((await login(catalog, 'alice', PASSWORD, null, T0)).ok, true);
    assert.match(catalog.userPasswordHash(alice.id)!, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal((await login(catalog, 'alice', PASSWORD, null, at(1))).ok, true);
  });

  test('counts are forgotten a day after the last failure, and purged then', async () => {
    const catalog = tempCatalog();
    await failRepeatedly(catalog, 'alice', '192.0.2.1', 8);
    const day = 24 * 3600;
    assert.deepEqual(await login(catalog, 'alice', 'wrong password, long enough', '192.0.2.1', at(day + 60)), { ok: false }, 'a fresh start after a day');
    purgeLoginAttempts(catalog, at(day + 60));
    assert.equal(catalog.getLoginAttempt('address:192.0.2.1')!.failures, 1, 'the fresh count stays');
    purgeLoginAttempts(catalog, at(3 * day));
    assert.equal(catalog.getLoginAttempt('address:192.0.2.1'), undefined);
    assert.equal(catalog.getLoginAttempt('account:alice'), undefined);
  });
});
