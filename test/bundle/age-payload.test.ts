import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { Decrypter, Encrypter, generateHybridIdentity, generateIdentity, identityToRecipient } from 'age-encryption';
import { scryptHeader } from '../../src/bundle/age-header.ts';
import { decrypt, encrypt } from '../../src/bundle/codec.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-age-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The plaintext in pieces of uneven sizes, as a stream from a compressor arrives. */
function pieces(data: Buffer): Readable {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = [1, 7000, 65536, 100_000, 3][i % 5]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(out);
}

describe('age payload', async () => {
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const keyFile = path.join(dir, 'key.txt');
  writeFileSync(keyFile, `${identity}\n`);
  const keys = { identities: [identity], passphrases: [] };

  // Chunk edges: empty, one byte, one short of a chunk, exactly one and two chunks, and more.
  for (const size of [0, 1, 65535, 65536, 131072, 300_001]) {
    test(`${size} bytes: what Lifeboat encrypts the age CLI decrypts, and the other way round`, async () => {
      const plain = randomBytes(size);
      const ours = path.join(dir, `ours-${size}.age`);
      writeFileSync(ours, await readAll(await encrypt(pieces(plain), { recipients: [recipient] })));
      assert.ok(execFileSync('age', ['-d', '-i', keyFile, ours], { maxBuffer: 1 << 24 }).equals(plain), 'the age CLI reads it');

      const theirs = path.join(dir, `theirs-${size}.age`);
      writeFileSync(path.join(dir, 'plain'), plain);
      execFileSync('age', ['-r', recipient, '-o', theirs, path.join(dir, 'plain')]);
      assert.ok((await readAll(await decrypt(pieces(readFileSync(theirs)), keys))).equals(plain), 'Lifeboat reads the CLI\'s');
    });
  }

  test('a changed byte or a file cut at a chunk boundary is refused, not read short', async () => {
    const plain = randomBytes(3 * 65536 + 10);
    const sealed = await readAll(await encrypt(Readable.from([plain]), { recipients: [recipient] }));
    const flipped = Buffer.from(sealed);
    flipped[flipped.length - 70_000] = flipped[flipped.length - 70_000]! ^ 1;
    await assert.rejects(readAll(await decrypt(Readable.from([flipped]), keys)));
    // Header, nonce, then two whole sealed chunks: a valid-looking prefix that must not pass as the file.
    const header = sealed.length - (plain.length + 4 * 16);
    const cut = sealed.subarray(0, header + 2 * (65536 + 16));
    await assert.rejects(readAll(await decrypt(Readable.from([cut]), keys)));
    const other = await generateIdentity();
    await assert.rejects(decrypt(Readable.from([sealed]), { identities: [other], passphrases: [] }), { code: 'E_ENCRYPTION' });
  });

  test('two X25519 recipients: each one\'s key opens it with the age CLI; a post-quantum recipient goes through the age library', async () => {
    const second = await generateIdentity();
    const secondFile = path.join(dir, 'second.txt');
    writeFileSync(secondFile, `${second}\n`);
    const plain = randomBytes(200_000);
    const file = path.join(dir, 'two.age');
    writeFileSync(file, await readAll(await encrypt(pieces(plain), { recipients: [recipient, await identityToRecipient(second)] })));
    for (const k of [keyFile, secondFile]) assert.ok(execFileSync('age', ['-d', '-i', k, file], { maxBuffer: 1 << 24 }).equals(plain), k);

    const pq = await generateHybridIdentity();
    const sealed = await readAll(await encrypt(pieces(plain), { recipients: [await identityToRecipient(pq)] }));
    assert.match(sealed.subarray(0, 200).toString('latin1'), /^age-encryption\.org\/v1\n-> mlkem768x25519 /);
    assert.ok((await readAll(await decrypt(Readable.from([sealed]), { identities: [pq], passphrases: [] }))).equals(plain));
  });

  test('a passphrase: scrypt in Node\'s crypto, interchangeable with the age library\'s; a wrong passphrase is the user\'s error; a work factor over 2^20 is refused before any work', async () => {
    const plain = randomBytes(150_000);
    const sealed = await readAll(await encrypt(pieces(plain), { passphrase: 'correct horse battery' }));
    // age's own work factor (2^18), as the library and the age CLI write it.
    assert.match(sealed.subarray(0, 100).toString('latin1'), /^age-encryption\.org\/v1\n-> scrypt [A-Za-z0-9+/]{22} 18\n/);
    assert.ok((await readAll(await decrypt(Readable.from([sealed]), { identities: [], passphrases: ['correct horse battery'] }))).equals(plain));
    // The header opens with the library's own scrypt (at a cheaper work factor: its JavaScript
    // scrypt takes seconds at 2^18): the same file key.
    const made = await scryptHeader('correct horse battery', 12);
    const d = new Decrypter();
    d.addPassphrase('correct horse battery');
    assert.ok(Buffer.from(await d.decryptHeader(made.header)).equals(made.fileKey));
    // A file the library wrote (older bundles) opens here.
    const e = new Encrypter();
    e.setPassphrase('correct horse battery');
    e.setScryptWorkFactor(12);
    const theirs = Buffer.from(await e.encrypt(plain));
    assert.ok((await readAll(await decrypt(Readable.from([theirs]), { identities: [], passphrases: ['correct horse battery'] }))).equals(plain));
    await assert.rejects(decrypt(Readable.from([theirs]), { identities: [], passphrases: ['wrong'] }), { code: 'E_ENCRYPTION' });
    const greedy = Buffer.from(theirs.toString('latin1').replace(/^(-> scrypt \S+) 12$/m, '$1 21'), 'latin1');
    const started = Date.now();
    await assert.rejects(decrypt(Readable.from([greedy]), { identities: [], passphrases: ['correct horse battery'] }), /work factor is too high/);
    assert.ok(Date.now() - started < 2000, 'refused before deriving a key');
  });
});
