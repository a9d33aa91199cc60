import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { openStorage, tempKey, type StorageDriver } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';
import { LifeboatError } from '../../src/errors.ts';

/** What a driver's test file provides to the shared contract. */
export interface ContractSubject {
  /** Opens the storage through `openStorage`, with extra config options merged in. */
  open(extra?: Record<string, unknown>, tuning?: { listPageSize?: number }): Promise<StorageDriver>;
  /** Anything the backend holds besides published objects: temp files, partial uploads. */
  residue(): Promise<string[]>;
  /** Leaves a temp object as a writer with process id `pid` on this host would have. */
  plantTemp?(key: string, pid: number): Promise<void>;
  /** Whether the backend reports free space of its own. */
  reportsSpace: boolean;
  /** Bytes a put must exceed to take the backend's multi-part path, if it has one. */
  multipartOver?: number;
  stop(): Promise<void>;
}

const body = (...chunks: Buffer[]) => Readable.from(chunks);

/** `plantTemp` for backends whose objects are files under `root`: a temp file as writer `pid` of this host leaves it. */
export function plantTempIn(root: string): (key: string, pid: number) => Promise<void> {
  const host = hostname().replace(/[^A-Za-z0-9]/g, '');
  return async (key, pid) => {
    const temp = tempKey(key, host).replace(/-\d+-([0-9a-f]+)$/, `-${pid}-$1`);
    mkdirSync(path.dirname(path.join(root, temp)), { recursive: true });
    writeFileSync(path.join(root, temp), 'partial');
  };
}

/** Opens a storage from `options`, puts one small object, and returns the error it failed with (undefined if none). */
export async function putError(name: string, options: Record<string, unknown>): Promise<LifeboatError | undefined> {
  const driver = await openStorage(name, storageSchema.parse(options));
  try {
    await driver.put(`probe/${Math.random()}.tar`, Readable.from([Buffer.from('x')]));
    return undefined;
  } catch (err) {
    return err as LifeboatError;
  } finally {
    await driver.close();
  }
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function digest(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

async function keys(driver: StorageDriver, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for await (const o of driver.list(prefix)) out.push(o.key);
  return out.sort();
}

function rejectsWith(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof LifeboatError, `expected a LifeboatError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** A stream that yields `good` bytes and then fails, as a dying pg_dump would. */
function failingBody(good: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(good));
        setTimeout(() => this.destroy(new Error('the writer died')), 20);
      }
    },
  });
}

/** The behaviour every storage driver shares, run against a real backend. */
export function storageContract(label: string, setup: () => Promise<ContractSubject>): void {
  describe(`storage contract: ${label}`, () => {
    let subject: ContractSubject;
    let driver: StorageDriver;
    before(async () => {
      subject = await setup();
      driver = await subject.open();
    });
    after(async () => {
      await driver?.close();
      await subject?.stop();
    });

    it('puts, stats, lists and gets an object, whole and by range', async () => {
      const { size } = await driver.put('app/one.tar.zst', body(Buffer.from('hello '), Buffer.from('world')));
      assert.equal(size, 11);
      assert.equal((await driver.stat('app/one.tar.zst'))?.size, 11);
      assert.deepEqual(await keys(driver, 'app/'), ['app/one.tar.zst']);
      assert.equal(await text(await driver.get('app/one.tar.zst')), 'hello world');
      assert.equal(await text(await driver.get('app/one.tar.zst', { start: 6, end: 10 })), 'world');
      assert.equal(await text(await driver.get('app/one.tar.zst', { start: 6 })), 'world');
    });

    it('reports a missing object: stat undefined, get E_STORAGE_NOT_FOUND, delete fine', async () => {
      assert.equal(await driver.stat('app/missing.tar'), undefined);
      await assert.rejects(driver.get('app/missing.tar'), rejectsWith('E_STORAGE_NOT_FOUND'));
      await driver.delete('app/missing.tar');
    });

    it('deletes, and deleting twice is not an error', async () => {
      await driver.put('del/x.tar', body(Buffer.from('x')));
      await driver.delete('del/x.tar');
      await driver.delete('del/x.tar');
      assert.equal(await driver.stat('del/x.tar'), undefined);
      assert.deepEqual(await keys(driver, 'del/'), []);
    });

    it('refuses to replace an existing object', async () => {
      await driver.put('keep/x.tar', body(Buffer.from('first')));
      await assert.rejects(driver.put('keep/x.tar', body(Buffer.from('second'))), rejectsWith('E_STORAGE_WRITE'));
      assert.equal(await text(await driver.get('keep/x.tar')), 'first');
    });

    it('lists every object under a prefix across several pages', async () => {
      const paged = await subject.open({}, { listPageSize: 2 });
      try {
        for (let i = 0; i < 5; i++) await paged.put(`many/b-${i}.tar`, body(Buffer.from(String(i))));
        await paged.put('manyother/c.tar', body(Buffer.from('c')));
        assert.deepEqual(await keys(paged, 'many/'), [0, 1, 2, 3, 4].map((i) => `many/b-${i}.tar`));
        assert.ok((await keys(paged, '')).includes('manyother/c.tar'));
      } finally {
        await paged.close();
      }
    });

    it('refuses keys that would leave the storage root', async () => {
      for (const key of ['../escape.tar', 'a/../../escape.tar', '/abs.tar', 'a//b.tar']) {
        await assert.rejects(driver.put(key, body(Buffer.from('x'))), rejectsWith('E_USAGE'), key);
        await assert.rejects(driver.get(key), rejectsWith('E_USAGE'), key);
      }
    });

    it('stores a large object intact (the multi-part path where there is one)', async () => {
      const size = (subject.multipartOver ?? 4 * 2 ** 20) + 3 * 2 ** 20 + 123;
      const data = randomBytes(size);
      const chunks = Array.from({ length: Math.ceil(size / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
      assert.equal((await driver.put('big/large.tar', Readable.from(chunks))).size, size);
      assert.equal(await digest(await driver.get('big/large.tar')), createHash('sha256').update(data).digest('hex'));
      const tail = await text(await driver.get('big/large.tar', { start: size - 10, end: size - 1 }));
      assert.equal(tail, data.subarray(size - 10).toString('utf8'));
    });

    it('a failing writer leaves nothing, visible or hidden', async () => {
      await assert.rejects(driver.put('fail/dying.tar', failingBody(6 * 2 ** 20)));
      assert.equal(await driver.stat('fail/dying.tar'), undefined);
      assert.deepEqual(await keys(driver, 'fail/'), []);
      assert.deepEqual(await subject.residue(), []);
    });

    it('an aborted upload leaves nothing and says it was cancelled', async () => {
      const controller = new AbortController();
      const slow = new Readable({ read() {} });
      slow.push(randomBytes(2 ** 20));
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(driver.put('abort/x.tar', slow, { signal: controller.signal }), rejectsWith('E_ABORTED'));
      assert.equal(await driver.stat('abort/x.tar'), undefined);
      assert.deepEqual(await subject.residue(), []);
    });

    it('an upload aborted before its first byte is read says it was cancelled, and nothing is thrown at the process', async () => {
      const controller = new AbortController();
      const slow = new Readable({ read() {} });
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => uncaught.push(err);
      process.prependListener('uncaughtException', onUncaught);
      try {
        const put = driver.put('abort/early.tar', slow, { signal: controller.signal });
        // The driver is still looking at the storage (a stat, a connection): the body is not read yet.
        controller.abort();
        await assert.rejects(put, rejectsWith('E_ABORTED'));
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        process.removeListener('uncaughtException', onUncaught);
      }
      assert.deepEqual(uncaught, []);
      assert.equal(await driver.stat('abort/early.tar'), undefined);
      assert.deepEqual(await subject.residue(), []);
    });

    it('stops an upload that would exceed the configured quota, leaving nothing', async () => {
      const capped = await subject.open({ quota: '64MB' });
      try {
        const used = (await capped.space())!;
        assert.ok(used.total <= 64e6 && used.free <= used.total && used.free > 0, JSON.stringify(used));
        const tooBig = Array.from({ length: Math.ceil(used.free / 2 ** 20) + 2 }, () => randomBytes(2 ** 20));
        await assert.rejects(capped.put('quota/over.tar', Readable.from(tooBig)), rejectsWith('E_NO_SPACE'));
        assert.equal(await capped.stat('quota/over.tar'), undefined);
        assert.deepEqual(await subject.residue(), []);
      } finally {
        await capped.close();
      }
    });

    it('reports free space where the backend has it', async () => {
      const space = await driver.space();
      if (subject.reportsSpace) {
        assert.ok(space && space.total > 0 && space.free > 0 && space.free <= space.total, JSON.stringify(space));
      } else {
        assert.equal(space, undefined);
      }
    });

    it('sweeps temp objects of dead writers and keeps live ones', async (t) => {
      if (!subject.plantTemp) return t.skip('this backend publishes without temp objects');
      await subject.plantTemp('sweep/dead.tar', 2 ** 22 + 1234);
      await subject.plantTemp('sweep/live.tar', process.pid);
      assert.equal((await subject.residue()).length, 2);
      assert.equal(await driver.sweep(), 1);
      assert.equal((await subject.residue()).length, 1);
      assert.deepEqual(await keys(driver, 'sweep/'), []);
    });
  });
}
