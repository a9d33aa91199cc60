import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { cachedFile, cacheDir, cacheKey } from '../support/image-cache.ts';

// The Docker tests' cache of images (test/support/image-cache.ts): four test files share it at once.
describe('the Docker tests\' image cache', () => {
  let dir: string;
  let saved: string | undefined;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lb-cache-'));
    saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = dir;
  });
  after(() => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  test('callers at once make the file once; it appears whole; a new key replaces the old file', async () => {
    assert.equal(cacheDir(), path.join(dir, 'lifeboat-test'));
    let made = 0;
    const make = async (tmp: string) => {
      made++;
      writeFileSync(tmp, 'half');
      await sleep(300);
      writeFileSync(tmp, 'whole');
    };
    const key = cacheKey('recipe', '1');
    const results = await Promise.all([1, 2, 3].map(() => cachedFile('thing', key, make)));
    assert.equal(made, 1);
    assert.deepEqual(results.map((r) => r.made).sort(), [false, false, true]);
    assert.equal(readFileSync(results[0]!.file, 'utf8'), 'whole');
    const again = await cachedFile('thing', key, make);
    assert.deepEqual([again.made, made], [false, 1]);

    const next = await cachedFile('thing', cacheKey('recipe', '2'), async (tmp) => writeFileSync(tmp, 'v2'));
    assert.equal(next.made, true);
    assert.deepEqual(readdirSync(cacheDir()), [path.basename(next.file)]);
  });

  test('a failed make leaves nothing behind, and the next caller tries again', async () => {
    const key = cacheKey('fails');
    await assert.rejects(cachedFile('flaky', key, async (tmp) => {
      writeFileSync(tmp, 'partial');
      throw new Error('mirror unreachable');
    }), /mirror unreachable/);
    assert.deepEqual(readdirSync(cacheDir()).filter((f) => f.startsWith('flaky')), []);
    const ok = await cachedFile('flaky', key, async (tmp) => writeFileSync(tmp, 'ok'));
    assert.equal(ok.made, true);
    assert.ok(existsSync(ok.file));
  });

  test('a lock left by a killed run is taken over', async () => {
    const key = cacheKey('stale');
    const file = path.join(cacheDir(), `stale-${key}.tar`);
    writeFileSync(`${file}.lock`, '999999999');
    const r = await cachedFile('stale', key, async (tmp) => writeFileSync(tmp, 'ok'), { waitMs: 5000 });
    assert.equal(r.made, true);
    assert.ok(!existsSync(`${file}.lock`));
  });
});
