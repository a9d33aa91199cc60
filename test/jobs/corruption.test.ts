import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { checkIntegrity } from '../../src/bundle/reader.ts';
import { BundleWriter } from '../../src/bundle/writer.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { asLifeboatError } from '../../src/errors.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { runRestore } from '../../src/jobs/restore.ts';
import { runVerify } from '../../src/jobs/verify.ts';
import { useTestServer } from '../support/suite.ts';

// The corruption campaign: random byte changes over the headers, frames, manifest and tail of
// real bundles (zstd, and zstd+age), each on an in-memory copy written over the stored bundle.
// Every one must fail `verify --quick` and be refused by a restore before its target changes.
// The PRNG is seeded: a failure names the seed, and CORRUPTION_SEED=<seed> replays the run.

const suite = useTestServer();
const PER_BUNDLE = Number(process.env.CORRUPTION_COUNT ?? 110);
const SEED = Number(process.env.CORRUPTION_SEED ?? randomInt(2 ** 31));

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Byte ranges of a bundle by role: where a change lands, so each role gets its share. */
function regions(bytes: Buffer, encrypted: boolean): Record<string, [number, number]> {
  if (encrypted) {
    // age: the text header up to its MAC line, the payload nonce, then sealed 64 KiB chunks; the
    // last chunk holds the manifest and the seek index.
    const headerEnd = bytes.indexOf('\n', bytes.indexOf('\n---') + 1) + 1;
    const chunks = headerEnd + 16;
    const lastChunk = chunks + Math.floor((bytes.length - chunks - 1) / (64 * 1024 + 16)) * (64 * 1024 + 16);
    const out: Record<string, [number, number]> = { header: [0, headerEnd], nonce: [headerEnd, chunks], tail: [lastChunk, bytes.length] };
    if (lastChunk > chunks) out.frames = [chunks, lastChunk];
    return out;
  }
  // zstd: size-prefixed frames, then the seek index trailer (its JSON length and "LBIX" last).
  const trailer = bytes.length - 16 - bytes.readUInt32LE(bytes.length - 8);
  // The manifest is the last member: the end of the last frame compresses it.
  const manifest = Math.max(32, trailer - 1500);
  return { header: [0, 32], frames: [32, manifest], manifest: [manifest, trailer], tail: [trailer, bytes.length] };
}

describe('corruption campaign', () => {
  test('a changed size-frame magic is damage, found at once (it once read as a plain zstd stream and hung)', async () => {
    const writer = await BundleWriter.create({ algorithm: 'zstd' }, undefined);
    const chunks: Buffer[] = [];
    const collecting = (async () => {
      for await (const c of writer.output) chunks.push(c as Buffer);
    })();
    await writer.addBuffer('files/a/x', Buffer.from('hello '.repeat(1000)));
    await writer.finish({ format: 'lifeboat-bundle', formatVersion: 1, id: 'a', target: 'a', lifeboatVersion: '0', startedAt: '', finishedAt: '', host: { hostname: '', platform: '' }, profile: 'generic', compression: { algorithm: 'zstd' }, encryption: { kind: 'none' }, files: [], skipped: [], app: { profile: 'generic', items: [], metadataMembers: [] }, warnings: [] });
    await collecting;
    for (const mask of [0x01, 0x0f]) {
      const damaged = Buffer.concat(chunks);
      damaged[0] = damaged[0]! ^ mask;
      const report = await Promise.race([
        checkIntegrity(Readable.from([damaged]), 'a.tar.zst', { identities: [], passphrases: [] }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the read hung')), 10_000).unref()),
      ]);
      assert.equal(report.ok, false);
      assert.match(report.problems.join('; '), /a zstd frame without its size frame/);
    }
  });


  test(`${PER_BUNDLE} random byte changes in each of a zstd and a zstd+age bundle: all detected, none restored (seed ${SEED})`, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with CORRUPTION_SEED=${SEED})`);
    const db = await suite.server.createDatabase('corrupt');
    await suite.server.query(db, `create table notes (id int primary key, body text);
      insert into notes select g, repeat(md5(g::text), 4) from generate_series(1, 400) g`);
    const ws = suite.workspace();
    writeFileSync(path.join(ws.dir, 'app.env'), 'SECRET=1\n');
    const identity = path.join(ws.dir, 'key.txt');
    const id = await generateIdentity();
    writeFileSync(identity, id + '\n');
    const pg = `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    files: { config: [${ws.dir}/app.env] }\n    storage: local\n`;
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  plain:\n${pg}  sealed:\n${pg}    encryption: { recipients: [${await identityToRecipient(id)}], identityFile: ${identity} }\n`);
    const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const catalog = Catalog.open(loaded.home);
    const next = prng(SEED);
    const out = path.join(ws.dir, 'out');
    const copy = `${db}_copy`;
    let tried = 0;
    try {
      for (const target of ['plain', 'sealed']) {
        const backup = await runBackup(loaded, catalog, target);
        const file = path.join(ws.storage, backup.key);
        const original = readFileSync(file);
        const encrypted = backup.key.endsWith('.age');
        const parts = Object.entries(regions(original, encrypted));
        let tailDone = false;
        for (let i = 0; i < PER_BUNDLE; i++) {
          const [role, [from, to]] = parts[i % parts.length]!;
          const at = from + next(to - from);
          const damaged = Buffer.from(original);
          damaged[at] = damaged[at]! ^ (1 + next(255));
          const what = `seed ${SEED}, ${target} bundle, change ${i} (${role}): byte ${at} of ${original.length}`;
          writeFileSync(file, damaged);
          tried++;

          const report = await runVerify(loaded, catalog, backup.id, { quick: true });
          assert.equal(report.ok, false, `verify --quick missed it: ${what}`);
          // The quick check marks the copy failed, and a restore would not read it: make it
          // usable again, so the restore's own checks are what is tested.
          for (const l of catalog.resolveBackup(backup.id).locations) catalog.setLocation(backup.id, { ...l, status: 'ok', error: null });

          // The first change in the tail is restored with the database too, into a new one: its
          // rows load into a scratch database while the bundle is read, and the damage is found
          // at the end. The others restore the files, which reads and checks the whole bundle as
          // well, at a tenth of the time (a database restore takes seconds here).
          const withDatabase = role === 'tail' && !tailDone;
          if (withDatabase) tailDone = true;
          rmSync(out, { recursive: true, force: true });
          mkdirSync(out);
          const restore = runRestore(loaded, catalog, backup.id, { files: ['config'], toDir: out, yes: true, ...(withDatabase ? { databases: [db], to: suite.server.urlFor(copy) } : {}) });
          await assert.rejects(restore, (err) => {
            assert.match(asLifeboatError(err).code, /^E_(BUNDLE_CORRUPT|ENCRYPTION|STORAGE_NOT_FOUND)$/, `${what}: ${String(err)}`);
            return true;
          }, `restore went through: ${what}`);
          assert.deepEqual(readdirSync(out), [], `the restore wrote files: ${what}`);
          if (withDatabase) {
            const dbs = await suite.server.query<{ datname: string }>('postgres', `select datname from pg_database where datname = '${copy}' or datname like '%lifeboat%'`);
            assert.deepEqual(dbs.map((d) => d.datname), [], `a database was left: ${what}`);
          }
          for (const l of catalog.resolveBackup(backup.id).locations) catalog.setLocation(backup.id, { ...l, status: 'ok', error: null });
        }
        writeFileSync(file, original);
        // The bundle itself was fine all along: the same restore goes through.
        await runRestore(loaded, catalog, backup.id, { files: ['config'], toDir: out, yes: true, databases: [db], to: suite.server.urlFor(`${copy}_${target}`) });
        assert.equal(readFileSync(path.join(out, ws.dir, 'app.env'), 'utf8'), 'SECRET=1\n');
        assert.equal(existsSync(path.join(out, ws.dir, 'app.env')), true);
      }
    } finally {
      catalog.close();
    }
    assert.ok(tried >= 200, `${tried} changes tried`);
  });
});
