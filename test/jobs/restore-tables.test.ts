import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { toolsForServer } from '../../src/postgres/binaries.ts';
import { readToc } from '../../src/postgres/dump-index.ts';
import { closureNames, entryName, tableClosure } from '../../src/jobs/restore-table-closure.ts';
import { useTestServer } from '../support/suite.ts';
import { LIBRARY_TABLES, seedLibrary, tableContents } from '../support/tables-fixture.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

let seeded: Promise<string> | undefined;

/**
 * A database of its own holding the library: a copy (server.copyDatabase) of one seeded once for
 * the file, which costs the server a sixth of running the fixture's DDL per test.
 */
async function libraryDatabase(): Promise<string> {
  seeded ??= suite.server.createDatabase('library_seed').then(async (db) => {
    await seedLibrary(suite.server, db);
    return db;
  });
  return suite.server.copyDatabase(await seeded, 'library');
}

/** The library database, a workspace that backs it up, one backup, and every table's contents then. */
async function backedUpLibrary(): Promise<{ ws: Workspace; db: string; id: string; source: Map<string, { rows: number; text: string }> }> {
  const db = await libraryDatabase();
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  lib:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: local\n`);
  const r = await ws.run(['backup', 'lib', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const source = new Map<string, { rows: number; text: string }>();
  for (const t of LIBRARY_TABLES) source.set(t, await tableContents(suite.server, db, t));
  return { ws, db, id: r.json<{ id: string }>().id, source };
}

/** Asserts a table holds what it held at the backup, naming the first rows that differ. */
async function assertAsBackedUp(db: string, table: string, source: Map<string, { rows: number; text: string }>, as = table): Promise<void> {
  const now = await tableContents(suite.server, db, as);
  const then = source.get(table)!;
  const a = new Set(now.text.split('\n'));
  const b = new Set(then.text.split('\n'));
  const extra = [...a].filter((x) => !b.has(x)).slice(0, 3);
  const missing = [...b].filter((x) => !a.has(x)).slice(0, 3);
  assert.ok(now.rows === then.rows && extra.length === 0 && missing.length === 0, `${as}: ${now.rows} rows, backup ${then.rows}; not in the backup: ${extra.join(' ')}; missing: ${missing.join(' ')}`);
}

async function leftovers(db: string): Promise<string[]> {
  const dbs = await suite.server.query<{ n: string }>('postgres', "select datname as n from pg_database where datname like 'lifeboat%'");
  const schemas = await suite.server.query<{ n: string }>(db, "select nspname as n from pg_namespace where nspname like 'lifeboat%'");
  return [...dbs, ...schemas].map((r) => r.n);
}

describe('a table\'s closure in a dump\'s table of contents', () => {
  test('partitions, members, what it needs (not the table that owns a sequence it uses), foreign keys and views', async () => {
    const db = await libraryDatabase();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-closure-'));
    try {
      const file = path.join(dir, 'lib.dump');
      execFileSync((await toolsForServer(suite.server.major)).pgDump, ['-Fc', '-f', file, suite.server.urlFor(db)]);
      const entries = readToc(readFileSync(file))!;
      const book = tableClosure(entries, { schema: 'public', name: 'book' });
      assert.deepEqual(book.needs.map((e) => `${e.desc} ${entryName(e)}`).sort(), ['DOMAIN public.year', 'FUNCTION public.title_len(text)', 'FUNCTION public.touch_note()', 'SEQUENCE public.shared_seq', 'TYPE public.mood']);
      assert.deepEqual(book.members.map((e) => `${e.desc} ${e.tag}`).sort(), [
        'ACL TABLE book', 'COMMENT TABLE book', 'CONSTRAINT book book_pkey', 'INDEX book_title', 'POLICY book book_visible', 'ROW SECURITY book', 'TABLE DATA book', 'TRIGGER book book_touch',
      ]);
      assert.deepEqual(book.foreignKeys.map((e) => e.tag), ['book book_author_id_fkey']);
      assert.deepEqual(book.incoming.map((e) => e.tag), ['review review_book_id_fkey']);
      assert.deepEqual(book.views.map((e) => e.tag).sort(), ['book_count', 'book_titles']);
      assert.equal(book.needExtras.filter((e) => e.desc === 'SEQUENCE SET').length, 1, 'the used sequence brings its value');
      assert.deepEqual(closureNames(book), { tables: ['book'], indexes: ['book_title', 'book_pkey'], sequences: [] });

      const m = tableClosure(entries, { schema: 'public', name: 'measurement' });
      assert.deepEqual(m.tree.map((e) => e.tag), ['measurement', 'measurement_2023', 'measurement_2024', 'measurement_2024_eu', 'measurement_2024_rest', 'measurement_other']);
      assert.deepEqual(m.ownedSequences.map((e) => e.tag), ['measurement_id_seq']);
      assert.deepEqual(m.needs, []);
      assert.equal(m.members.filter((e) => e.desc === 'TABLE ATTACH').length, 5);
      assert.equal(m.members.filter((e) => e.desc === 'TABLE DATA').length, 4, 'rows live in the leaf partitions');
      assert.deepEqual(m.incoming.map((e) => e.tag), ['measurement_flag measurement_flag_m_id_m_at_m_region_fkey']);

      const sub = tableClosure(entries, { schema: 'public', name: 'measurement_2024' });
      assert.deepEqual(sub.tree.map((e) => e.tag), ['measurement_2024', 'measurement_2024_eu', 'measurement_2024_rest']);
      assert.deepEqual(sub.members.filter((e) => e.desc === 'TABLE ATTACH').map((e) => e.tag).sort(), ['measurement_2024_eu', 'measurement_2024_rest'], 'restored alone, it is not attached to its parent');
      assert.ok(sub.members.filter((e) => e.desc === 'INDEX ATTACH').every((e) => e.tag.startsWith('measurement_2024_')), 'nor are its indexes to its parent\'s');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('restore of single tables with what they depend on', () => {
  test('every table restored beside itself with --rename-to equals its source, partitions and all', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    for (const t of LIBRARY_TABLES) {
      const r = await ws.run(['restore', id, '--database', db, '--table', t, '--rename-to', `${t}_copy`]);
      assert.equal(r.code, 0, `${t}: ${r.stderr}`);
      assert.deepEqual(await tableContents(suite.server, db, `${t}_copy`), source.get(t), `${t}_copy has the rows ${t} had`);
    }
    const parts = await suite.server.query<{ child: string; parent: string }>(db, "select c.relname as child, p.relname as parent from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname like 'measurement\\_copy%' and c.relkind in ('r', 'p') order by 1");
    assert.deepEqual(parts.map((p) => `${p.parent} <- ${p.child}`), [
      'measurement_copy <- measurement_copy_2023', 'measurement_copy <- measurement_copy_2024', 'measurement_copy_2024 <- measurement_copy_2024_eu',
      'measurement_copy_2024 <- measurement_copy_2024_rest', 'measurement_copy <- measurement_copy_other',
    ]);
    const [grant] = await suite.server.query<{ ok: boolean }>(db, "select has_table_privilege('lib_reader', 'book_copy', 'select') as ok");
    assert.equal(grant!.ok, true, 'the grant came with the table');
    const [comment] = await suite.server.query<{ c: string }>(db, "select obj_description('book_copy'::regclass, 'pg_class') as c");
    assert.equal(comment!.c, 'books we hold');
    for (const t of ['measurement', 'measurement_2023', 'measurement_2024_eu']) {
      assert.deepEqual(await tableContents(suite.server, db, t), source.get(t), `the live ${t} is untouched`);
    }
    assert.deepEqual(await leftovers(db), []);
  });

  test('every table restored in place equals its source again, triggers not fired, and the plan shows its closure', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    const damage = `
      delete from measurement_flag where id > 100;
      delete from measurement where at < '2023-03-01' and id not in (select m_id from measurement_flag);
      update measurement set value = -1 where region = 'eu';
      delete from review where id > 390; update review set stars = 9 where id < 10;
      update book set title = 'changed' where id < 1010; delete from book where id > 1290 and id not in (select book_id from review);
      update author set name = name || '!'; update counter_owner set id = id + 100 where id = 5;
    `;
    await suite.server.query(db, damage);
    const plan = await ws.run(['restore', id, '--database', db, '--table', 'book', '--dry-run']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /REPLACE the rows of public\.book in .*: 300 rows/);
    assert.match(plan.stdout, /needs type public\.mood: in the database, identical: used/);
    assert.match(plan.stdout, /needs domain public\.year: in the database, identical: used/);
    assert.match(plan.stdout, /needs function public\.touch_note\(\): in the database, identical: used/);
    assert.match(plan.stdout, /needs function public\.title_len\(text\): in the database, identical: used/);
    assert.match(plan.stdout, /needs sequence public\.shared_seq: in the database, identical: used/);
    assert.match(plan.stdout, /with: .*1 trigger.*1 policy/);
    assert.match(plan.stdout, /foreign key review_book_id_fkey \(public\.review -> public\.book\): its rows checked/);
    assert.match(plan.stdout, /foreign key book_author_id_fkey \(public\.book -> public\.author\): restored rows checked/);
    assert.match(plan.stdout, /view public\.book_titles: kept/);
    assert.match(plan.stdout, /materialized view public\.book_count: kept, not refreshed/);
    const measurementPlan = await ws.run(['restore', id, '--database', db, '--table', 'measurement', '--dry-run']);
    assert.match(measurementPlan.stdout, /REPLACE the rows of public\.measurement in .*: 3000 rows/);
    assert.match(measurementPlan.stdout, /partitions: public\.measurement_2023 \(\d+ rows\), public\.measurement_2024 \(0 rows\), public\.measurement_2024_eu/);

    // Parents before the tables that reference them: each restore's foreign keys then hold.
    for (const t of ['author', 'counter_owner', 'measurement', 'measurement_flag', 'book', 'review']) {
      const r = await ws.run(['restore', id, '--database', db, '--table', t, '--yes']);
      assert.equal(r.code, 0, `${t}: ${r.stderr}`);
    }
    for (const t of LIBRARY_TABLES) await assertAsBackedUp(db, t, source);
    const [book] = await suite.server.query<{ n: string }>(db, "select count(*) as n from book where note like '%+t+t'");
    assert.equal(Number(book!.n), 0, 'the restore did not fire the trigger on the restored rows');
    const [trigger] = await suite.server.query<{ tgenabled: string }>(db, "select tgenabled from pg_trigger where tgname = 'book_touch'");
    assert.equal(trigger!.tgenabled, 'O', 'the trigger is enabled again');
    const fks = await suite.server.query<{ conname: string; convalidated: boolean }>(db, "select conname, convalidated from pg_constraint where contype = 'f' and conparentid = 0 order by 1");
    assert.deepEqual(fks.map((f) => `${f.conname} ${f.convalidated}`), ['book_author_id_fkey true', 'measurement_flag_m_id_m_at_m_region_fkey true', 'review_book_id_fkey true']);
    const [seq] = await suite.server.query<{ last_value: string }>(db, 'select last_value from measurement_id_seq');
    assert.equal(seq!.last_value, '3000', 'the owned sequence is back at the backup\'s value');
    // Partitions alone, in place, next to the partitions that are not restored.
    await suite.server.query(db, "update measurement set value = -2 where at >= '2023-01-01' and at < '2024-01-01'");
    await suite.server.query(db, "update measurement set value = -3 where region = 'eu' and at >= '2024-01-01' and at < '2025-01-01'");
    for (const t of ['measurement_2023', 'measurement_2024']) {
      const part = await ws.run(['restore', id, '--database', db, '--table', t, '--yes']);
      assert.equal(part.code, 0, part.stderr);
    }
    for (const t of LIBRARY_TABLES) await assertAsBackedUp(db, t, source);
    assert.deepEqual(await leftovers(db), []);
  });

  test('a partitioned table restored in place gets its rows back (it used to be left empty)', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    await suite.server.query(db, "delete from measurement_flag; delete from measurement where region <> 'us'");
    const r = await ws.cli(['restore', id, '--database', db, '--table', 'measurement', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored public\.measurement: 3000 rows, row count verified/);
    for (const t of ['measurement', 'measurement_2023', 'measurement_2024', 'measurement_2024_eu', 'measurement_2024_rest', 'measurement_other']) {
      assert.deepEqual(await tableContents(suite.server, db, t), source.get(t), t);
    }
  });

  test('into a database that lacks what the table needs: the enum, domain, functions and sequence are created first', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    const empty = await suite.server.createDatabase('empty');
    const r = await ws.run(['restore', id, '--database', db, '--to', suite.server.urlFor(empty), '--table', 'book']);
    assert.equal(r.code, 0, r.stderr);
    const created = /created first: (.*)/.exec(r.stdout)?.[1]?.split(', ').sort();
    assert.deepEqual(created, ['domain public.year', 'function public.title_len(text)', 'function public.touch_note()', 'sequence public.shared_seq', 'type public.mood']);
    assert.match(r.stdout, /foreign key not added: book_author_id_fkey/);
    assert.deepEqual(await tableContents(suite.server, empty, 'book'), source.get('book'));
    const [seq] = await suite.server.query<{ last_value: string }>(empty, 'select last_value from shared_seq');
    assert.equal(seq!.last_value, '1299', 'the sequence has the backup\'s value');
    const [policy] = await suite.server.query<{ n: string }>(empty, "select count(*) as n from pg_policies where tablename = 'book'");
    assert.equal(Number(policy!.n), 1, 'the policy came with the table');
  });

  test('a needed object that differs in the database refuses in the plan, naming it and the difference', async () => {
    const { ws, db, id } = await backedUpLibrary();
    await suite.server.query(db, "alter type mood add value 'angry'");
    const before = await tableContents(suite.server, db, 'book');
    const r = await ws.run(['restore', id, '--database', db, '--table', 'book', '--rename-to', 'book_copy', '--force']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /type public\.mood: public\.book needs it, and the database has another one: the backup has enum \('sad', 'ok', 'happy'\), the database has enum \('sad', 'ok', 'happy', 'angry'\)/);
    assert.deepEqual(await tableContents(suite.server, db, 'book'), before);
    const [copy] = await suite.server.query<{ r: string | null }>(db, "select to_regclass('book_copy')::text as r");
    assert.equal(copy!.r, null);

    await suite.server.query(db, 'alter table measurement_2024_eu add constraint positive check (value > 0) not valid');
    const table = await ws.run(['restore', id, '--database', db, '--table', 'measurement', '--yes', '--force']);
    assert.equal(table.code, 3);
    assert.match(table.stderr, /table public\.measurement: differs from the backup, its rows cannot replace the live ones: public\.measurement_2024_eu: the backup has constraints PRIMARY KEY \(id, at, region\), the database has constraints CHECK \(\(value > \(0\)::numeric\)\) NOT VALID/);
  });

  test('restored rows that would break a foreign key refuse before anything changes, naming the key', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    await suite.server.query(db, "insert into book (author_id, title) values (1, 'after the backup'); insert into review (book_id, stars) select max(id), 5 from book");
    const before = await tableContents(suite.server, db, 'book');
    const r = await ws.run(['restore', id, '--database', db, '--table', 'book', '--yes']);
    assert.equal(r.code, 3, 'refused: nothing changed');
    assert.match(r.stderr, /restored rows would break foreign key review_book_id_fkey: 1 row\(s\) of public\.review reference rows of public\.book that the backup does not have; nothing was changed/);
    assert.deepEqual(await tableContents(suite.server, db, 'book'), before);
    const both = await ws.run(['restore', id, '--database', db, '--table', 'book', '--table', 'review', '--yes']);
    assert.equal(both.code, 0, 'restored together, the two tables agree: ' + both.stderr);
    assert.deepEqual(await tableContents(suite.server, db, 'review'), source.get('review'));
    await suite.server.query(db, "insert into book (author_id, title) values (1, 'after the backup'); insert into review (book_id, stars) select max(id), 5 from book");

    await suite.server.query(db, 'delete from review where book_id = (select max(id) from book); delete from book where author_id = 20; delete from author where id = 20');
    const out = await ws.run(['restore', id, '--database', db, '--table', 'book', '--yes']);
    assert.equal(out.code, 3);
    assert.match(out.stderr, /foreign key book_author_id_fkey: \d+ row\(s\) of public\.book in the backup reference rows of public\.author that the database no longer has/);
    assert.deepEqual(await leftovers(db), []);
  });

  test('in place needs to own the table and the tables whose foreign keys reference it: the plan says which it does not', async () => {
    const { ws, db, id } = await backedUpLibrary();
    const clerk = `lib_clerk_${process.pid}`;
    await suite.server.query('postgres', `create role ${clerk} login createdb password 'clerk-pw'`);
    await suite.server.query(db, `alter table author owner to ${clerk}`);
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  lib:\n    postgres: { url: "${suite.server.urlFor(db, { user: clerk, password: 'clerk-pw' })}", databases: [${db}] }\n    storage: local\n`);
    const r = await ws.run(['restore', id, '--database', db, '--table', 'author', '--dry-run']);
    assert.match(r.stdout, /FAIL {2}ownership of public\.author: replacing rows in place alters public\.book, which the restoring role does not own/, r.stdout + r.stderr);
    const beside = await ws.run(['restore', id, '--database', db, '--table', 'author', '--dry-run', '--rename-to', 'author_copy']);
    assert.doesNotMatch(beside.stdout, /FAIL/, 'beside the live table, owning it is not needed');
  });

  test('in place, the rows load into the scratch database the plan compared definitions in; not when a NOT VALID constraint would check them', async () => {
    const { ws, db, id, source } = await backedUpLibrary();
    await suite.server.query(db, "update book set title = 'changed' where id < 1100; update review set stars = 9 where id < 10");
    const r = await ws.run(['restore', id, '--database', db, '--table', 'book', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    const scratch = /alone into scratch database (\S+), where the plan restored their definitions/.exec(r.stdout + r.stderr)?.[1];
    assert.match(scratch ?? '', /^lifeboat_plan_/, `one scratch database, the plan's: ${r.stdout}${r.stderr}`);
    await assertAsBackedUp(db, 'book', source);
    const [book] = await suite.server.query<{ n: string }>(db, "select count(*) as n from book where note like '%+t+t'");
    assert.equal(Number(book!.n), 0, 'the trigger did not fire on the restored rows');
    const [policy] = await suite.server.query<{ n: string }>(db, "select count(*) as n from pg_policies where tablename = 'book'");
    assert.equal(Number(policy!.n), 1);
    assert.deepEqual(await leftovers(db), []);

    // A check added NOT VALID after rows that break it: pg_dump adds it after the rows, so
    // loading them after it (into the plan's copy) would fail; the run makes its own copy.
    const other = await libraryDatabase();
    await suite.server.query(other, 'alter table book add constraint short_title check (length(title) < 3) not valid');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  lib:\n    postgres: { url: "${suite.server.urlFor(other)}", databases: [${other}] }\n    storage: local\n`);
    const b = await ws.run(['backup', 'lib', '--json']);
    assert.equal(b.code, 0, b.stderr);
    const books = await tableContents(suite.server, other, 'book');
    const beside = await ws.run(['restore', b.json<{ id: string }>().id, '--database', other, '--table', 'book', '--rename-to', 'book_copy']);
    assert.equal(beside.code, 0, beside.stderr);
    assert.match(beside.stdout + beside.stderr, /alone into scratch database lifeboat_tables_/);
    assert.doesNotMatch(beside.stdout + beside.stderr, /where the plan restored/);
    assert.deepEqual(await tableContents(suite.server, other, 'book_copy'), books);
    const [check] = await suite.server.query<{ def: string }>(other, "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'book_copy'::regclass and contype = 'c' and not convalidated");
    assert.equal(check?.def, 'CHECK ((length(title) < 3)) NOT VALID', 'the check came with the copy, still NOT VALID');
    assert.deepEqual(await leftovers(other), []);
  });

  test('a restore that fails inside its transaction, and one killed there with SIGKILL, leave the live table as it was', async () => {
    const { ws, db, id } = await backedUpLibrary();
    await suite.server.query(db, "delete from measurement_flag; delete from measurement where region = 'eu'");
    const before = await tableContents(suite.server, db, 'measurement');
    for (const how of ['terminate', 'SIGKILL'] as const) {
      const child = ws.spawnCli(['restore', id, '--database', db, '--table', 'measurement', '--yes']);
      let stderr = '';
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Once the safety backup (which reads the sequence) is taken, a lock held on the owned
      // sequence stops the restore after it has emptied and reloaded the table.
      await new Promise<void>((resolve) => child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/safety backup \S+ is protected/.test(stderr)) resolve();
      }));
      const blocker = new pg.Client({ connectionString: suite.server.urlFor(db) });
      await blocker.connect();
      await blocker.query('begin; alter sequence measurement_id_seq cache 1');
      let pid: number | undefined;
      for (let i = 0; i < 600 && pid === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const waiting = await suite.server.query<{ pid: number }>(db, "select pid from pg_stat_activity where wait_event_type = 'Lock' and query like 'select setval%'");
        pid = waiting[0]?.pid;
      }
      assert.ok(pid, `the restore reached its transaction: ${stderr}`);
      const [inside] = await suite.server.query<{ n: string }>(db, "select count(*) as n from pg_locks where pid = $1 and mode = 'AccessExclusiveLock' and granted", [pid]);
      assert.ok(Number(inside!.n) > 0, 'it holds the table while it waits');
      if (how === 'terminate') {
        await suite.server.query('postgres', 'select pg_terminate_backend($1)', [pid]);
        assert.equal(await exited, 1);
        assert.match(stderr, /the live tables were not changed/);
      } else {
        child.kill('SIGKILL');
        await exited;
      }
      await blocker.query('rollback');
      await blocker.end();
      for (let i = 0; i < 50; i++) {
        const [busy] = await suite.server.query<{ n: string }>(db, 'select count(*) as n from pg_stat_activity where pid = $1', [pid]);
        if (Number(busy!.n) === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(await tableContents(suite.server, db, 'measurement'), before, `after ${how}, the live table is as it was`);
    }
  });
});
