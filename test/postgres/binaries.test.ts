import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { findAllTools, toolsForServer } from '../../src/postgres/binaries.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-bin-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('finding pg_dump by version', async () => {
  const installed = await findAllTools();
  const newest = Math.max(...installed.map((t) => t.major));

  test('finds the installed client tools with their versions', () => {
    assert.ok(installed.length > 0, 'pg_dump is installed');
    for (const t of installed) assert.match(t.version, /^\d+(\.\d+)?$/);
  });

  test('a server of the installed version gets that version, from the versioned directory', async () => {
    const t = await toolsForServer(newest);
    assert.equal(t.major, newest);
    if (installed.some((i) => i.dir.startsWith('/usr/lib/postgresql/'))) assert.match(t.dir, /^\/usr\/lib\/postgresql\//);
  });

  test('an older server gets the lowest newer pg_dump', async () => {
    assert.equal((await toolsForServer(9)).major, Math.min(...installed.map((t) => t.major)));
  });

  test('a server newer than every pg_dump is refused, naming the version to install', async () => {
    await assert.rejects(toolsForServer(newest + 1), (err: Error & { code: string; hint: string }) => {
      assert.equal(err.code, 'E_PG_VERSION');
      assert.match(err.message, new RegExp(`the server runs PostgreSQL ${newest + 1} but the newest pg_dump found is ${newest}`));
      assert.match(err.hint, new RegExp(`postgresql-client-${newest + 1}`));
      return true;
    });
  });

  test('a configured binDir is used alone, and must hold a working pg_dump', async () => {
    const dir = path.join(tmp, 'bin');
    mkdirSync(dir);
    // A pg_dump that reports an older version: chosen for an old server, refused for a newer one.
    writeFileSync(path.join(dir, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 12.9"\n');
    chmodSync(path.join(dir, 'pg_dump'), 0o755);
    assert.equal((await toolsForServer(12, dir)).dir, dir);
    await assert.rejects(toolsForServer(13, dir), { code: 'E_PG_VERSION' });
    await assert.rejects(toolsForServer(12, path.join(tmp, 'empty')), { code: 'E_PG_TOOL', message: /holds no working pg_dump/ });
  });
});
