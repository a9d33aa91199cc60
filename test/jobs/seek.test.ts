import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { SeekIndex } from '../../src/bundle/seek.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { runRestore } from '../../src/jobs/restore.ts';
import { useTestServer } from '../support/suite.ts';
import { seedShop } from '../support/seed.ts';
import { flipByteAt } from '../support/tamper.ts';

const suite = useTestServer();

/** A shop with a ~19 MB events table between its tables, backed up in 1 MiB dump parts. */
async function backedUp(options: { encryption?: string } = {}) {
  const db = await suite.server.createDatabase('seek');
  await seedShop(suite.server, db);
  await suite.server.query(db, `create table public.events (id int primary key, body text);
    insert into public.events select g, repeat(md5(g::text), 30) from generate_series(1, 20000) g`);
  const ws = suite.workspace();
  const encryption = options.encryption ? `    encryption: ${options.encryption}\n` : '';
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n${encryption}`);
  const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
  const catalog = Catalog.open(loaded.home);
  const backup = await runBackup(loaded, catalog, 'shop', { partSize: 1024 * 1024 });
  const restore = async (tables: string[], renameTo: string) => {
    const logs: string[] = [];
    await runRestore(loaded, catalog, backup.id, { databases: [db], tables, renameTo, listener: { onLog: (_l, m) => logs.push(m) } });
    return logs.join('\n');
  };
  return { db, ws, catalog, backup, file: path.join(ws.storage, backup.key), restore };
}

/** The seek index at the end of a bundle file, read the way the format says. */
function seekIndexOf(file: string): SeekIndex {
  const bytes = readFileSync(file);
  const length = bytes.readUInt32LE(bytes.length - 8);
  return JSON.parse(bytes.subarray(bytes.length - 8 - length, bytes.length - 8).toString()) as SeekIndex;
}

describe('one table through the seek index', () => {
  test('reads only the parts holding the TOC and the table, checks them, and restores the table whole', async () => {
    const { db, backup, catalog, restore } = await backedUp();
    const m = backup.manifest.postgres!.databases[0]!;
    assert.ok(m.dumpMembers.length >= 15, `several parts: ${m.dumpMembers.length}`);
    assert.deepEqual(m.dumpIndex!.tables.map((t) => `${t.schema}.${t.name}`).sort(), ['public.customers', 'public.empty_table', 'public.events', 'sales.orders']);

    const logs = await restore(['sales.orders'], 'orders_back');
    const read = /through the seek index: (\d+) of (\d+) dump part/.exec(logs);
    assert.ok(read, logs);
    assert.ok(Number(read[1]) <= 3 && Number(read[2]) === m.dumpMembers.length, `read ${read[1]} of ${read[2]} parts`);
    const [n] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from sales.orders_back');
    assert.equal(Number(n!.n), m.tables.find((t) => t.name === 'orders')!.rows);
    catalog.close();
  });

  test('damage elsewhere in the bundle does not stop it; damage where it reads is refused and changes nothing', async () => {
    const { db, backup, catalog, file, restore } = await backedUp();
    const index = seekIndexOf(file);
    const m = backup.manifest.postgres!.databases[0]!;
    // A frame in the middle of the events table's data, which restoring sales.orders never reads.
    const events = m.dumpIndex!.tables.find((t) => t.name === 'events')!;
    const partOf = (dumpOffset: number) => {
      let start = 0;
      for (const name of m.dumpMembers) {
        const size = backup.manifest.members.find((x) => x.name === name)!.size;
        if (dumpOffset < start + size) return index.members[name]! + (dumpOffset - start);
        start += size;
      }
      throw new Error('offset past the dump');
    };
    const frameAt = (tarOffset: number) => index.frames[Math.floor(tarOffset / index.blockSize)]!;
    flipByteAt(file, frameAt(partOf(events.offset + Math.floor(events.length / 2))) + 40);
    const logs = await restore(['sales.orders'], 'orders_back');
    assert.match(logs, /through the seek index/);
    assert.match(logs, /restored sales\.orders as sales\.orders_back/);

    const orders = m.dumpIndex!.tables.find((t) => t.name === 'orders')!;
    flipByteAt(file, frameAt(partOf(orders.offset + 10)) + 40);
    await assert.rejects(restore(['sales.orders'], 'orders_again'), /damaged|corrupt|checksum/i);
    const [gone] = await suite.server.query<{ r: string | null }>(db, "select to_regclass('sales.orders_again')::text as r");
    assert.equal(gone!.r, null, 'nothing restored from a damaged part');
    catalog.close();
  });

  test('an age-encrypted bundle is opened chunk by chunk where the table lies, with a passphrase or an identity', async () => {
    const identity = await generateIdentity();
    const keyFile = path.join(suite.workspace().dir, 'key.txt');
    writeFileSync(keyFile, `${identity}\n`);
    for (const encryption of ['{ passphrase: "correct horse battery staple" }', `{ recipients: [${await identityToRecipient(identity)}], identityFile: ${keyFile} }`]) {
      const { db, backup, catalog, restore } = await backedUp({ encryption });
      const logs = await restore(['sales.orders'], 'orders_back');
      assert.match(logs, /through the seek index: [1-3] of \d+ dump part/, encryption);
      const [n] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from sales.orders_back');
      assert.equal(Number(n!.n), backup.manifest.postgres!.databases[0]!.tables.find((t) => t.name === 'orders')!.rows);
      catalog.close();
    }
  });

  test('a flipped byte in an encrypted chunk the table needs fails its authentication, and nothing is restored', async () => {
    const { db, catalog, file, restore } = await backedUp({ encryption: '{ passphrase: "correct horse battery staple" }' });
    const bytes = readFileSync(file);
    const mac = bytes.indexOf('\n--- ');
    const payload = bytes.indexOf('\n', mac + 5) + 1 + 16;
    // The first frame holds the dump's table of contents, which every table restore reads.
    const at = payload + 1000;
    flipByteAt(file, at);
    // The plan reads the table of contents first (the table's closure) and refuses there.
    await assert.rejects(restore(['sales.orders'], 'orders_back'), /restore refused: .*\.tar\.zst\.age is damaged: /);
    const [gone] = await suite.server.query<{ r: string | null }>(db, "select to_regclass('sales.orders_back')::text as r");
    assert.equal(gone!.r, null);
    catalog.close();
  });

  test('a dump index that does not match its dump is caught, and the whole dump restored instead', async () => {
    const { db, ws, backup, catalog } = await backedUp();
    const m = backup.manifest;
    const orders = m.postgres!.databases[0]!.dumpIndex!.tables.find((t) => t.name === 'orders')!;
    orders.offset += 1;
    const { DatabaseSync } = await import('node:sqlite');
    const raw = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
    raw.prepare('update backups set manifest_json = ? where id = ?').run(JSON.stringify(m), backup.id);
    raw.close();
    const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const logs: string[] = [];
    const copy = `${db}_whole`;
    await runRestore(loaded, catalog, backup.id, { databases: [db], to: suite.server.urlFor(copy), listener: { onLog: (_l, msg) => logs.push(msg) } });
    assert.match(logs.join('\n'), /dump index of .* does not match its dump: no data block for sales\.orders .*; restoring it from the whole dump instead/);
    const [n] = await suite.server.query<{ n: string }>(copy, 'select count(*) as n from sales.orders');
    assert.equal(Number(n!.n), m.postgres!.databases[0]!.tables.find((t) => t.name === 'orders')!.rows);
    catalog.close();
  });
});

describe('a whole restore through the seek index', () => {
  /** Two tables, the larger one's rows far into the dump, in 256 KiB parts. */
  async function twoTables() {
    const db = await suite.server.createDatabase('split');
    await suite.server.query(db, `create table a_first (id int primary key, body text);
      insert into a_first select g, repeat(md5(g::text), 20) from generate_series(1, 4000) g;
      create table z_last (id int primary key, body text);
      insert into z_last select g, repeat(md5((g * 7)::text), 20) from generate_series(1, 12000) g;
      create index z_last_body on z_last (left(body, 8));`);
    const ws = suite.workspace();
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  two:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
    const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const catalog = Catalog.open(loaded.home);
    const backup = await runBackup(loaded, catalog, 'two', { partSize: 256 * 1024 });
    const m = backup.manifest.postgres!.databases[0]!;
    const z = m.dumpIndex!.tables.find((t) => t.name === 'z_last')!;
    assert.ok(z.offset > 256 * 1024, 'z_last starts past the first part');
    return { db, ws, catalog, backup, m, z, loaded, file: path.join(ws.storage, backup.key) };
  }
  const checksum = (db: string, table: string) => suite.server.query<{ n: string; h: string }>(db, `select count(*) as n, md5(string_agg(body, '' order by id)) as h from ${table}`);

  test('reads from the start and from the largest table at once, and restores everything', async () => {
    const { db, catalog, backup, loaded } = await twoTables();
    const to = `split_copy_${process.pid}`;
    const logs: string[] = [];
    await runRestore(loaded, catalog, backup.id, { to: suite.server.urlFor(to), yes: true, listener: { onLog: (_l, msg) => logs.push(msg) } });
    assert.match(logs.join('\n'), /from two places at once: from its start, and from databases\/.*\.part-\d+, where the rows of public\.z_last begin/);
    for (const t of ['a_first', 'z_last']) assert.deepEqual(await checksum(to, t), await checksum(db, t), t);
    const idx = await suite.server.query<{ indexname: string }>(to, "select indexname from pg_indexes where tablename = 'z_last' order by 1");
    assert.deepEqual(idx.map((r) => r.indexname), ['z_last_body', 'z_last_pkey']);
    catalog.close();
  });

  for (const where of ['a_first', 'z_last'] as const) {
    test(`a damaged frame in ${where === 'a_first' ? 'the first' : 'the second'} reader's share is refused and nothing is created`, async () => {
      const { catalog, backup, loaded, file, m, backup: { manifest } } = await twoTables();
      const index = seekIndexOf(file);
      const block = m.dumpIndex!.tables.find((t) => t.name === where)!;
      let start = 0;
      let tarOffset = -1;
      for (const name of m.dumpMembers) {
        const size = manifest.members.find((x) => x.name === name)!.size;
        const mid = block.offset + Math.floor(block.length / 2);
        if (mid < start + size) {
          tarOffset = index.members[name]! + (mid - start);
          break;
        }
        start += size;
      }
      flipByteAt(file, index.frames[Math.floor(tarOffset / index.blockSize)]! + 40);
      const to = `split_damaged_${where}_${process.pid}`;
      await assert.rejects(runRestore(loaded, catalog, backup.id, { to: suite.server.urlFor(to), yes: true }), { code: 'E_BUNDLE_CORRUPT' });
      const [exists] = await suite.server.query<{ n: string }>('postgres', `select count(*) as n from pg_database where datname like 'split_damaged%'`);
      assert.equal(Number(exists!.n), 0, 'no database created, no scratch left');
      catalog.close();
    });
  }
});
