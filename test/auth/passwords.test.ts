import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, test } from 'node:test';
import { LifeboatError } from '../../src/errors.ts';
import { argon2Available, checkPasswordPolicy, hashPassword, hashPasswordWith, needsRehash, verifyPassword } from '../../src/auth/passwords.ts';

const PHC_ARGON2ID = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$/;

describe('password hashing', () => {
  test('argon2id with OWASP parameters, a 16-byte random salt, in PHC form', async () => {
    assert.equal(await argon2Available(), true, 'Node 24 here has crypto.argon2');
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    const m = PHC_ARGON2ID.exec(a);
    assert.ok(m, a);
    assert.equal(Buffer.from(m[1]!, 'base64').length, 16);
    assert.equal(Buffer.from(m[2]!, 'base64').length, 32);
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.doesNotMatch(a, /correct|horse/);
  });

  test('verifies the right password only', async () => {
    const h = await hashPassword('correct horse battery staple');
    assert.equal(await verifyPassword(h, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(h, 'correct horse battery stapl'), false);
    assert.equal(await verifyPassword(h, 'Correct horse battery staple'), false);
    assert.equal(await verifyPassword(h, ''), false);
    assert.equal(await verifyPassword('not a hash', 'correct horse battery staple'), false);
    assert.equal(await verifyPassword(h.slice(0, -4), 'correct horse battery staple'), false, 'a truncated hash');
    assert.equal(await verifyPassword('$argon2id$v=19$m=1,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43), 'x'), false, 'parameters argon2 refuses');
  });

  test('reads PHC strings made by other argon2 implementations (the reference argon2i vector)', async () => {
    // From the README of the reference implementation (P-H-C/phc-winner-argon2).
    const ref = '$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG';
    assert.equal(await verifyPassword(ref, 'password'), true);
    assert.equal(await verifyPassword(ref, 'passwore'), false);
  });

  test('the scrypt fallback: PHC-like form, verifies, and computes standard scrypt (RFC 7914 vector)', async () => {
    const h = await hashPasswordWith('scrypt', 'correct horse battery staple');
    assert.match(h, /^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(await verifyPassword(h, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(h, 'wrong horse battery staple'), false);
    assert.equal(await needsRehash(h), true, 'with argon2 at hand, a scrypt hash is upgraded at the next login');
    // RFC 7914, section 12: scrypt("password", "NaCl", N=1024, r=8, p=16, 64 bytes).
    const rfc = Buffer.from('fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640', 'hex');
    const phc = `$scrypt$ln=10,r=8,p=16$${Buffer.from('NaCl').toString('base64').replace(/=+$/, '')}$${rfc.toString('base64').replace(/=+$/, '')}`;
    assert.equal(await verifyPassword(phc, 'password'), true);
  });

  test('needsRehash: current parameters no, older ones yes', async () => {
    assert.equal(await needsRehash(await hashPassword('correct horse battery staple')), false);
    assert.equal(await needsRehash('$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$' + 'A'.repeat(43)), true);
  });

  test('policy: at least 12 characters, said with the count; not the user name', () => {
    assert.throws(() => checkPasswordPolicy('hunter2hunt'), (e: LifeboatError) => e.code === 'E_USAGE' && /too short: 11 characters, at least 12/.test(e.message));
    assert.doesNotThrow(() => checkPasswordPolicy('hunter2hunte'));
    assert.doesNotThrow(() => checkPasswordPolicy('ünïcödé-pässwörd'.slice(0, 12)), 'characters, not bytes');
    assert.throws(() => checkPasswordPolicy('administrator', 'Administrator'), /must not be the user name/);
    assert.throws(() => checkPasswordPolicy('x'.repeat(1025)), /too long/);
  });

  test('cost of one hash and one verification (the issue asks 30-150 ms of CPU per login)', async () => {
    const runs = 5;
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const hashes: string[] = [];
    for (let i = 0; i < runs; i++) hashes.push(await hashPassword(crypto.randomBytes(12).toString('hex')));
    const hashMs = (performance.now() - t0) / runs;
    const t1 = performance.now();
    for (const h of hashes) await verifyPassword(h, 'wrong password here');
    const verifyMs = (performance.now() - t1) / runs;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000 / (2 * runs);
    console.log(`argon2id m=19456 t=2 p=1: hash ${hashMs.toFixed(1)} ms, verify ${verifyMs.toFixed(1)} ms wall; ${cpuMs.toFixed(1)} ms CPU each`);
    // Not a timing test (the machine is shared): only that it is real work, and not absurd.
    assert.ok(verifyMs > 5 && verifyMs < 2000, `${verifyMs} ms`);
  });
});
