import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { can, cliPrincipal, userPrincipal } from '../../src/auth/principal.ts';
import { createToken, listTokens, parseExpiry, resolveToken, revokeToken } from '../../src/auth/tokens.ts';
import { removeUser, setDisabled } from '../../src/auth/users.ts';
import { addUser, catalogBytes, tempCatalog } from './fixture.ts';

const T0 = new Date('2026-12-01T08:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const DAY = 86_400_000;

describe('API tokens', () => {
  test('lb_ + 32 random bytes, shown once, stored as sha256; resolves to a principal named for the audit log', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'operator');
    const { token, summary } = createToken(catalog, { ownerId: alice.id, name: 'CI', scopes: ['backup'], by: userPrincipal(alice) }, T0);
    assert.match(token, /^lb_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token.slice(3), 'base64url').length, 32);
    assert.deepEqual({ ...summary }, {
      id: summary.id, name: 'ci', owner: 'alice', scopes: ['backup'], createdAt: T0.toISOString(), createdBy: 'alice',
      expiresAt: null, lastUsedAt: null, lastUsedAddress: null, revokedAt: null, state: 'active',
    });
    const bytes = catalogBytes(catalog);
    assert.equal(bytes.includes(token), false);
    assert.equal(bytes.includes(token.slice(3)), false);
    assert.equal(bytes.includes(createHash('sha256').update(token).digest('hex')), true);
    const p = resolveToken(catalog, token, '203.0.113.9', at(1000))!;
    assert.deepEqual(p, { kind: 'token', userId: alice.id, userName: 'alice', tokenName: 'ci', tokenId: summary.id, role: 'operator', scopes: ['backup'], actor: 'token:ci (alice)' });
    assert.equal(can(p, 'backup'), true);
    assert.equal(can(p, 'restore'), false);
    assert.equal(resolveToken(catalog, token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'), null, at(1000)), undefined);
    assert.equal(resolveToken(catalog, `Bearer ${token}`, null, at(1000)), undefined);
    assert.equal(resolveToken(catalog, '', null, at(1000)), undefined);
  });

  test('records the last use and its address; lists never show the token', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    const { token } = createToken(catalog, { ownerId: alice.id, name: 'grafana', scopes: ['metrics'] }, T0);
    resolveToken(catalog, token, '203.0.113.9', at(1000));
    let [t] = listTokens(catalog, cliPrincipal(), {}, at(2000));
    assert.equal(t!.lastUsedAt, at(1000).toISOString());
    assert.equal(t!.lastUsedAddress, '203.0.113.9');
    resolveToken(catalog, token, '203.0.113.10', at(3000));
    [t] = listTokens(catalog, cliPrincipal(), {}, at(4000));
    assert.equal(t!.lastUsedAddress, '203.0.113.10', 'a new address is recorded at once');
    assert.doesNotMatch(JSON.stringify(t), /lb_|hash/);
  });

  test('expiry and revocation take effect at the next request', async () => {
    const catalog = tempCatalog();
    const alice = await addUser(catalog, 'alice', 'admin');
    const { token: short, summary } = createToken(catalog, { ownerId: alice.id, name: 'short', scopes: ['read'], expiresAt: parseExpiry('90d', T0) }, T0);
    assert.equal(summary.expiresAt, at(90 * DAY).toISOString());
    assert.ok(resolveToken(catalog, short, null, at(90 * DAY - 1000)));
    assert.equal(resolveToken(catalog, short, null, at(90 * DAY)), undefined);
    assert.equal(listTokens(catalog, cliPrincipal(), {}, at(90 * DAY))[0]!.state, 'expired');

    const { token } = createToken(catalog, { ownerId: alice.id, name: 'ci', scopes: ['backup'] }, T0);
    assert.ok(resolveToken(catalog, token, null, at(1000)));
    const revoked = revokeToken(catalog, userPrincipal(alice), { name: 'ci' }, at(2000));
    assert.equal(revoked.state, 'revoked');
    assert.equal(resolveToken(catalog, token, null, at(3000)), undefined);
    assert.equal(listTokens(catalog, cliPrincipal(), {}, at(3000)).some((t) => t.name === 'ci'), false, 'revoked ones are listed only when asked');
    assert.equal(listTokens(catalog, cliPrincipal(), { includeRevoked: true }, at(3000)).find((t) => t.name === 'ci')!.state, 'revoked');
    // The name is free again once revoked.
    assert.ok(createToken(catalog, { ownerId: alice.id, name: 'ci', scopes: ['backup'] }, at(4000)).token);
    assert.throws(() => createToken(catalog, { ownerId: alice.id, name: 'ci', scopes: ['read'] }, at(5000)), /alice has a token named ci already/);
  });

  test('parseExpiry: durations and dates; nonsense and the past are usage errors', () => {
    assert.equal(parseExpiry('12h', T0).toISOString(), at(12 * 3_600_000).toISOString());
    assert.equal(parseExpiry('2w', T0).toISOString(), at(14 * DAY).toISOString());
    assert.equal(parseExpiry('2027-01-31', T0).toISOString(), '2027-01-31T00:00:00.000Z');
    assert.throws(() => parseExpiry('soon', T0), (e: Error & { code: string }) => e.code === 'E_USAGE' && /a duration such as 12h, 90d/.test(e.message));
    assert.throws(() => parseExpiry('2020-01-01', T0), /not in the future/);
  });

  test('a disabled or removed owner\'s tokens stop working; removal deletes them', async () => {
    const catalog = tempCatalog();
    await addUser(catalog, 'root', 'admin');
    const bob = await addUser(catalog, 'bob', 'operator');
    const { token } = createToken(catalog, { ownerId: bob.id, name: 'ci', scopes: ['backup'] });
    setDisabled(catalog, 'bob', true);
    assert.equal(resolveToken(catalog, token, null), undefined);
    setDisabled(catalog, 'bob', false);
    assert.ok(resolveToken(catalog, token, null), 'suspended, not revoked');
    removeUser(catalog, 'bob');
    assert.equal(resolveToken(catalog, token, null), undefined);
    assert.equal(catalog.listTokens({ includeRevoked: true }).length, 0);
  });

  test('own tokens vs everyone\'s: users see and revoke their own; admins any; another\'s token is "not found"', async () => {
    const catalog = tempCatalog();
    const admin = await addUser(catalog, 'root', 'admin');
    const alice = await addUser(catalog, 'alice', 'operator');
    const bob = await addUser(catalog, 'bob', 'viewer');
    createToken(catalog, { ownerId: alice.id, name: 'ci', scopes: ['backup'] });
    const { token: bobs } = createToken(catalog, { ownerId: bob.id, name: 'ci', scopes: ['read'] });
    assert.throws(() => createToken(catalog, { ownerId: bob.id, name: 'x', scopes: ['read'], by: userPrincipal(alice) }), /only an admin can create tokens for another user/);
    assert.ok(createToken(catalog, { ownerId: bob.id, name: 'x', scopes: ['read'], by: userPrincipal(admin) }).token);
    const tokenPrincipal = resolveToken(catalog, bobs, null)!;
    assert.throws(() => createToken(catalog, { ownerId: bob.id, name: 'y', scopes: ['read'], by: tokenPrincipal }), /an API token cannot create tokens/, 'a token cannot mint tokens');

    assert.deepEqual(listTokens(catalog, userPrincipal(alice)).map((t) => t.owner), ['alice']);
    assert.deepEqual(listTokens(catalog, userPrincipal(admin)).map((t) => t.owner).sort(), ['alice', 'bob', 'bob']);
    assert.throws(() => listTokens(catalog, userPrincipal(alice), { owner: 'bob' }), /no user named bob/);
    assert.deepEqual(listTokens(catalog, tokenPrincipal), []);

    const bobsId = catalog.listTokens({ ownerId: bob.id }).find((t) => t.name === 'ci')!.id;
    assert.throws(() => revokeToken(catalog, userPrincipal(alice), { id: bobsId }), (e: Error & { code: string }) => e.code === 'E_NOT_FOUND');
    assert.ok(resolveToken(catalog, bobs, null), 'still works');
    assert.equal(revokeToken(catalog, userPrincipal(alice), { name: 'ci' }).owner, 'alice', 'her own, though bob has one by that name');
    assert.throws(() => revokeToken(catalog, userPrincipal(alice), { name: 'ci', owner: 'bob' }), /no active token named ci owned by bob/);
    createToken(catalog, { ownerId: alice.id, name: 'ci', scopes: ['read'] });
    assert.throws(() => revokeToken(catalog, userPrincipal(admin), { name: 'ci' }), (e: Error & { code: string }) => e.code === 'E_AMBIGUOUS' && /2 tokens are named ci/.test(e.message));
    assert.equal(revokeToken(catalog, userPrincipal(admin), { name: 'ci', owner: 'bob' }).owner, 'bob');
    assert.equal(resolveToken(catalog, bobs, null), undefined);
  });
});
