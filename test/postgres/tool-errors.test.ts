import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { asLifeboatError } from '../../src/errors.ts';
import { toolsForServer } from '../../src/postgres/binaries.ts';
import { parsePgUrl } from '../../src/postgres/connection.ts';
import { runTool } from '../../src/postgres/dump.ts';
import { MAX_ERROR_LINES, summarizeToolStderr } from '../../src/postgres/tool-errors.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();
const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-tool-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(bin: string, args: string[], url: string): Promise<void> {
  const r = runTool(bin, args, parsePgUrl(url));
  r.stdout.resume();
  await r.done;
}

describe('pg tool failures', () => {
  test('a pg_restore into a database whose objects exist keeps every distinct ERROR line, not the last lines of stderr', async () => {
    const tools = await toolsForServer(suite.server.major);
    const source = await suite.server.createDatabase('toolerr');
    await suite.server.query(source, `
      create table a (id int primary key); insert into a values (1), (2);
      create table b (id int primary key); insert into b values (1);
      create sequence s; create view v as select * from a;`);
    const dump = path.join(dir, 'source.dump');
    await run(tools.pgDump, ['--format=custom', `--file=${dump}`, `--dbname=${suite.server.urlFor(source)}`], suite.server.urlFor(source));
    // Restoring it again over itself: every CREATE fails, and every COPY violates a primary key.
    const err = await run(tools.pgRestore, ['--dbname', suite.server.urlFor(source), '--no-password', dump], suite.server.urlFor(source)).then(
      () => assert.fail('pg_restore should fail'),
      (e: unknown) => asLifeboatError(e),
    );
    assert.equal(err.code, 'E_PG_DUMP');
    const message = err.message;
    for (const expected of [
      'ERROR: relation "a" already exists',
      'ERROR: relation "b" already exists',
      'ERROR: relation "s" already exists',
      'ERROR: relation "v" already exists',
      'ERROR: duplicate key value violates unique constraint "a_pkey"',
      'ERROR: duplicate key value violates unique constraint "b_pkey"',
    ]) {
      assert.ok(message.includes(expected), `${expected} in: ${message}`);
    }
    assert.doesNotMatch(message, /Command was:|errors ignored on restore/, 'only the server\'s error lines');
    const lines = message.split(' | ');
    assert.equal(new Set(lines).size, lines.length, 'each line once');
  });

  test('a connection failure keeps the FATAL line', async () => {
    const tools = await toolsForServer(suite.server.major);
    const url = suite.server.urlFor('postgres', { user: 'nobody_here' });
    const err = await run(tools.pgDump, ['--schema-only', `--dbname=${url}`], url).then(() => assert.fail('pg_dump should fail'), (e: unknown) => asLifeboatError(e));
    assert.match(err.message, /FATAL: .*nobody_here/);
  });

  test('summaries: deduplicated, the first 20, a count of the rest; no error line: the last lines', () => {
    const many = Array.from({ length: 30 }, (_, i) => `pg_restore: error: could not execute query: ERROR:  relation "t${i}" already exists\nCommand was: CREATE TABLE t${i} (\n    id integer\n);\n`).join('');
    const twice = many + many + 'pg_restore: warning: errors ignored on restore: 60\n';
    const summary = summarizeToolStderr(twice);
    const parts = summary.split(' | ');
    assert.equal(parts.length, MAX_ERROR_LINES + 1);
    assert.equal(parts[0], 'ERROR: relation "t0" already exists');
    assert.equal(parts[MAX_ERROR_LINES - 1], 'ERROR: relation "t19" already exists');
    assert.equal(parts[MAX_ERROR_LINES], 'and 10 more distinct error line(s)');
    assert.equal(summarizeToolStderr('psql:/tmp/g.sql:3: ERROR:  role "app" already exists\npsql:/tmp/g.sql:9: FATAL:  terminating connection'), 'ERROR: role "app" already exists | FATAL: terminating connection');
    assert.equal(
      summarizeToolStderr('pg_restore: error: could not execute query: ERROR:  could not create unique index "t_pkey"\nDETAIL:  Key (id)=(1) is duplicated.\nCommand was: ALTER TABLE ONLY t ADD CONSTRAINT t_pkey PRIMARY KEY (id);\nDETAIL:  not this one\n'),
      'ERROR: could not create unique index "t_pkey" (DETAIL: Key (id)=(1) is duplicated.)',
      'the DETAIL right after an error is kept with it',
    );
    assert.equal(summarizeToolStderr('one\ntwo\npg_restore: error: could not open input file "x": No such file or directory\n'), 'one | two | pg_restore: error: could not open input file "x": No such file or directory');
  });
});
