import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { bundleSuffix, type DecryptionKeys } from '../../src/bundle/codec.ts';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { checkIntegrity, readBundle } from '../../src/bundle/reader.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import type { CompressionConfig, EncryptionConfig } from '../../src/config/schema.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const noKeys: DecryptionKeys = { identities: [], passphrases: [] };

function baseManifest(): Omit<Manifest, 'members'> {
  return {
    format: 'lifeboat-bundle', formatVersion: 1, id: 't-20260101T000000Z', target: 't', lifeboatVersion: 'test',
    startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(), host: { hostname: 'h', platform: 'linux' },
    profile: 'generic', compression: { algorithm: 'zstd' }, encryption: { kind: 'none' }, files: [], skipped: [],
    app: { profile: 'generic', items: [], metadataMembers: [] }, warnings: [],
  };
}

/** Writes a bundle with the given members to a file and returns its path. */
async function writeBundle(
  name: string,
  compression: CompressionConfig,
  encryption: EncryptionConfig | undefined,
  fill: (w: BundleWriter) => Promise<void>,
): Promise<{ file: string; manifest: Manifest }> {
  const writer = await BundleWriter.create(compression, encryption);
  const file = path.join(tmp, name + bundleSuffix(compression.algorithm, encryption !== undefined));
  const chunks: Buffer[] = [];
  const collecting = (async () => {
    for await (const c of writer.output) chunks.push(c as Buffer);
  })();
  await fill(writer);
  const manifest = await writer.finish(baseManifest());
  await collecting;
  const bytes = Buffer.concat(chunks);
  writeFileSync(file, bytes);
  assert.equal(writer.written.size, bytes.length);
  assert.equal(writer.written.sha256, sha(bytes));
  return { file, manifest };
}

async function members(file: string, keys = noKeys): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const e of readBundle(Readable.from([readFileSync(file)]), path.basename(file), keys)) {
    const chunks: Buffer[] = [];
    for await (const c of e.stream) chunks.push(c);
    out.set(e.name, Buffer.concat(chunks));
  }
  return out;
}

describe('parts of a stream of unknown length', () => {
  const cases = [
    { what: 'shorter than a part stays one member', size: 1000, partSize: 4096, names: ['databases/a.dump'] },
    { what: 'exactly one part stays one member', size: 4096, partSize: 4096, names: ['databases/a.dump'] },
    { what: 'one byte over is two parts', size: 4097, partSize: 4096, names: ['databases/a.dump.part-0001', 'databases/a.dump.part-0002'] },
    { what: 'many parts, the last one full', size: 4096 * 3, partSize: 4096, names: ['databases/a.dump.part-0001', 'databases/a.dump.part-0002', 'databases/a.dump.part-0003'] },
    { what: 'empty stream is one empty member', size: 0, partSize: 4096, names: ['databases/a.dump'] },
    // More parts than the writer has buffers: each buffer is reused, and no part may show another's bytes.
    { what: 'parts in reused buffers keep their own bytes', size: 4096 * 9 + 5, partSize: 4096, names: Array.from({ length: 10 }, (_, i) => `databases/a.dump.part-${String(i + 1).padStart(4, '0')}`) },
  ];
  for (const c of cases) {
    test(c.what, async () => {
      const data = Buffer.alloc(c.size);
      for (let i = 0; i < c.size; i++) data[i] = (i * 7919) % 251;
      // Odd-sized chunks, so parts straddle chunk boundaries.
      const chunks: Buffer[] = [];
      for (let i = 0; i < c.size; i += 1000) chunks.push(data.subarray(i, i + 1000));
      let result: { members: string[]; size: number; sha256: string } | undefined;
      const { file, manifest } = await writeBundle(`parts-${c.size}`, { algorithm: 'zstd' }, undefined, async (w) => {
        result = await w.addUnknownLength('databases/a.dump', Readable.from(chunks), c.partSize);
      });
      assert.deepEqual(result!.members, c.names);
      assert.equal(result!.size, c.size);
      assert.equal(result!.sha256, sha(data));
      const got = await members(file);
      assert.deepEqual(Buffer.concat(c.names.map((n) => got.get(n)!)), data, 'joined parts equal the stream');
      for (const n of c.names) assert.ok(got.get(n)!.length <= c.partSize);
      assert.deepEqual(manifest.members.map((m) => m.name), c.names);
    });
  }
});

describe('compression and encryption', () => {
  const identity = (async () => {
    const id = await generateIdentity();
    return { id, recipient: await identityToRecipient(id) };
  })();
  const payload = Buffer.from('hello lifeboat\n'.repeat(1000));

  for (const algorithm of ['zstd', 'gzip', 'none'] as const) {
    test(`${algorithm}: members round-trip and the standard tools open it`, async () => {
      const { file, manifest } = await writeBundle(`plain-${algorithm}`, { algorithm }, undefined, async (w) => {
        await w.addBuffer('README.txt', payload);
      });
      const got = await members(file);
      assert.deepEqual(got.get('README.txt'), payload);
      assert.ok(got.has('manifest.json'), 'manifest.json is a member');
      assert.equal(manifest.members[0]!.sha256, sha(payload));
      const opener = { zstd: 'zstd -dc', gzip: 'gzip -dc', none: 'cat' }[algorithm];
      const listing = execFileSync('sh', ['-c', `${opener} '${file}' | tar -t`], { encoding: 'utf8' });
      assert.deepEqual(listing.trim().split('\n'), ['README.txt', 'manifest.json']);
    });
  }

  test('age recipients: the age CLI and Lifeboat decrypt it; a wrong key is refused', async () => {
    const { id, recipient } = await identity;
    const { file } = await writeBundle('enc-recipient', { algorithm: 'zstd' }, { recipients: [recipient] }, async (w) => {
      await w.addBuffer('README.txt', payload);
    });
    const keyFile = path.join(tmp, 'key.txt');
    writeFileSync(keyFile, id + '\n');
    const out = execFileSync('sh', ['-c', `age -d -i '${keyFile}' '${file}' | zstd -dc | tar -xO README.txt`]);
    assert.deepEqual(out, payload);
    assert.deepEqual((await members(file, { identities: [id], passphrases: [] })).get('README.txt'), payload);
    const other = await generateIdentity();
    await assert.rejects(members(file, { identities: [other], passphrases: [] }), { code: 'E_ENCRYPTION' });
    await assert.rejects(members(file, noKeys), { code: 'E_ENCRYPTION' });
  });

  test('age passphrase: Lifeboat decrypts it with the passphrase only', async () => {
    const { file } = await writeBundle('enc-pass', { algorithm: 'gzip' }, { passphrase: 'correct horse' }, async (w) => {
      await w.addBuffer('README.txt', payload);
    });
    assert.deepEqual((await members(file, { identities: [], passphrases: ['correct horse'] })).get('README.txt'), payload);
    await assert.rejects(members(file, { identities: [], passphrases: ['wrong'] }), { code: 'E_ENCRYPTION' });
  });
});

describe('a file that shrinks while it is read', () => {
  test('is padded with zeros to its stated size, and its recorded sha256 is of what the bundle holds', async () => {
    let recorded: string | undefined;
    const { file, manifest } = await writeBundle('shrank', { algorithm: 'zstd' }, undefined, async (w) => {
      await assert.rejects(w.addStream('files/app/log.txt', 2000, Readable.from([Buffer.from('x'.repeat(700))])), { code: 'E_FILE_CHANGED' });
      recorded = w.members.at(-1)!.sha256;
      await w.addBuffer('README.txt', Buffer.from('after'));
    });
    const got = await members(file);
    const expected = Buffer.concat([Buffer.from('x'.repeat(700)), Buffer.alloc(1300)]);
    assert.deepEqual(got.get('files/app/log.txt'), expected);
    assert.equal(recorded, sha(expected));
    assert.deepEqual(got.get('README.txt'), Buffer.from('after'), 'the members after it are intact');
    assert.equal(manifest.members.find((m) => m.name === 'files/app/log.txt')!.sha256, sha(expected));
  });
});

describe('integrity check', () => {
  test('a flipped byte in a member is reported by name; an intact bundle passes', async () => {
    const big = Buffer.alloc(200_000, 'x');
    const { file } = await writeBundle('corrupt', { algorithm: 'none' }, undefined, async (w) => {
      await w.addBuffer('README.txt', Buffer.from('readme'));
      await w.addBuffer('databases/app.dump', big);
    });
    const intact = await checkIntegrity(Readable.from([readFileSync(file)]), path.basename(file), noKeys);
    assert.equal(intact.ok, true, intact.problems.join('; '));
    assert.equal(intact.members.length, 2);

    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('xxxxxxxx')) + 1000;
    bytes[at] = 'y'.charCodeAt(0);
    const report = await checkIntegrity(Readable.from([bytes]), path.basename(file), noKeys);
    assert.equal(report.ok, false);
    assert.deepEqual(report.members.filter((m) => !m.ok).map((m) => m.name), ['databases/app.dump']);
    assert.match(report.problems.join('\n'), /databases\/app\.dump does not match the manifest/);
  });

  test('a truncated bundle is reported incomplete', async () => {
    const { file } = await writeBundle('truncated', { algorithm: 'none' }, undefined, async (w) => {
      await w.addBuffer('databases/app.dump', Buffer.alloc(100_000, 'z'));
    });
    const bytes = readFileSync(file).subarray(0, 60_000);
    const report = await checkIntegrity(Readable.from([bytes]), path.basename(file), noKeys);
    assert.equal(report.ok, false);
    assert.ok(report.problems.length > 0);
  });

  test('member names that escape a destination are refused', async () => {
    const tarFile = path.join(tmp, 'evil.tar');
    const dir = mkdtempSync(path.join(tmp, 'evil-'));
    writeFileSync(path.join(dir, 'x'), 'x');
    execFileSync('tar', ['-cf', tarFile, '-C', dir, '--transform', 's,^x$,../../etc/evil,', '-P', 'x']);
    await assert.rejects(members(tarFile), { code: 'E_BUNDLE_CORRUPT', message: /\.\./ });
  });
});
