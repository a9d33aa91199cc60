import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { toolsForServer } from '../../src/postgres/binaries.ts';
import { DumpIndexer, readToc } from '../../src/postgres/dump-index.ts';
import { postDataByBlock } from '../../src/jobs/restore-stream.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();

/** pg_dump -Fc to a pipe, as a backup runs it. */
async function dump(db: string): Promise<Buffer> {
  const tools = await toolsForServer(suite.server.major);
  return execFileSync(tools.pgDump, ['--format=custom', '--compress=0', '--dbname', suite.server.urlFor(db)], { maxBuffer: 1 << 28, env: { ...process.env, PGPASSWORD: suite.server.password } });
}

function index(bytes: Buffer, chunk: (i: number) => number) {
  const indexer = new DumpIndexer();
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = chunk(i);
    indexer.push(bytes.subarray(at, at + n));
    at += n;
  }
  return indexer.result();
}

describe('dump index', () => {
  test('finds the end of the TOC and each table data block, whatever the chunking; TOC + one block is an archive pg_restore reads', async () => {
    const db = await suite.server.createDatabase('dumpindex');
    await suite.server.query(db, `
      create schema "Sales";
      create table public.small (id int primary key, note text);
      insert into public.small select g, 'note ' || g from generate_series(1, 50) g;
      create table "Sales"."Order Lines" (id bigint, body jsonb);
      insert into "Sales"."Order Lines" select g, jsonb_build_object('n', g, 'pad', repeat('x', 200)) from generate_series(1, 20000) g;
      create table public.empty (id int);
      select lo_from_bytea(0, convert_to(repeat('large object ', 1000), 'UTF8'));
      create table public.after_blobs (v text);
      insert into public.after_blobs values ('last');
    `);
    const bytes = await dump(db);
    const whole = index(bytes, () => bytes.length);
    assert.ok(whole, 'indexed');
    for (const sizes of [() => 1 + Math.floor(Math.random() * 7), (i: number) => [1, 4096, 3, 65536][i % 4]!]) {
      assert.deepEqual(index(bytes, sizes), whole, 'the same index however the bytes arrive');
    }
    assert.deepEqual(whole.tables.map((t) => `${t.schema}.${t.name}`).sort(), ['Sales.Order Lines', 'public.after_blobs', 'public.empty', 'public.small']);
    const lines = whole.tables.find((t) => t.name === 'Order Lines')!;
    assert.ok(lines.length > 20000 * 200, 'the block spans the rows');

    const tools = await toolsForServer(suite.server.major);
    const reduced = path.join(suite.workspace().dir, 'one-table.dump');
    writeFileSync(reduced, Buffer.concat([bytes.subarray(0, whole.tocLength), bytes.subarray(lines.offset, lines.offset + lines.length)]));
    const sql = execFileSync(tools.pgRestore, ['--data-only', '-n', 'Sales', '-t', 'Order Lines', '-f', '-', reduced], { maxBuffer: 1 << 28 }).toString();
    assert.equal(sql.split('\n').filter((l) => /^\d+\t\{/.test(l)).length, 20000, 'every row of the one table');
    const last = whole.tables.find((t) => t.name === 'after_blobs')!;
    writeFileSync(reduced, Buffer.concat([bytes.subarray(0, whole.tocLength), bytes.subarray(last.offset, last.offset + last.length)]));
    assert.match(execFileSync(tools.pgRestore, ['--data-only', '-t', 'after_blobs', '-f', '-', reduced]).toString(), /^last$/m, 'a block after the large objects');
  });

  test('a truncated or foreign stream gives no index rather than a wrong one', async () => {
    const db = await suite.server.createDatabase('dumpindex');
    await suite.server.query(db, `create table t (x text); insert into t select repeat('y', 100) from generate_series(1, 1000)`);
    const bytes = await dump(db);
    assert.ok(index(bytes, () => 8192));
    assert.equal(index(bytes.subarray(0, bytes.length - 10), () => 8192), undefined);
    assert.equal(index(Buffer.from('-- plain SQL\nselect 1;\n'), () => 5), undefined);
  });

  test('indexes and keys that need one table go with its rows; a foreign key, which needs two, waits for the end', async () => {
    const db = await suite.server.createDatabase('dumpindex');
    await suite.server.query(db, `
      create table parent (id int primary key, name text);
      create index parent_name on parent (name);
      create table child (id int primary key, parent_id int references parent (id));
      create index child_parent on child (parent_id);
      create view parent_names as select name from parent;
      insert into parent select g, 'p' || g from generate_series(1, 10) g;
      insert into child select g, 1 + g % 10 from generate_series(1, 100) g;
    `);
    const bytes = await dump(db);
    const found = index(bytes, () => 65536)!;
    const toc = readToc(bytes.subarray(0, found.tocLength))!;
    assert.ok(toc.some((e) => e.desc === 'VIEW' && e.tag === 'parent_names'), 'every entry of the TOC');
    assert.equal(readToc(bytes.subarray(0, found.tocLength - 1)), undefined, 'a cut TOC is not read as a shorter one');
    const withTable = postDataByBlock(toc, found.tables);
    const tags = (table: string) => (withTable.get(found.tables.find((t) => t.name === table)!.dumpId) ?? []).map((id) => toc.find((e) => e.dumpId === id)!.tag).sort();
    assert.deepEqual(tags('parent'), ['parent parent_pkey', 'parent_name']);
    assert.deepEqual(tags('child'), ['child child_pkey', 'child_parent']);
    const fk = toc.find((e) => e.desc === 'FK CONSTRAINT')!;
    assert.ok(![...withTable.values()].some((ids) => ids.includes(fk.dumpId)), 'the foreign key is left for the end');
  });
});
