// Two Lifeboat commands started at once on a new catalog (a cron job and a person, a test's
// setup) both read its schema version before either migrated: the second ran the first's
// migrations again and failed ("duplicate column name"). The version is read again under the
// write lock.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { migrations } from '../../src/catalog/migrations.ts';

const catalogModule = fileURLToPath(new URL('../../src/catalog/catalog.ts', import.meta.url));

test('a command that opens a new catalog while another migrates it waits and finds it migrated', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-race-'));
  try {
    // The other command: it has the write lock and is migrating.
    const other = new DatabaseSync(path.join(home, 'catalog.sqlite'));
    other.exec('pragma journal_mode = wal');
    other.exec('begin immediate');
    const child = spawn(process.execPath, ['--input-type=module', '-e', `const { Catalog } = await import(${JSON.stringify(catalogModule)}); process.stdout.write('opening\\n'); Catalog.open(${JSON.stringify(home)}).close(); process.stdout.write('opened\\n');`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Once it is opening, it has read the version (0) and waits for the lock.
    while (!out.includes('opening') && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    for (const m of migrations) other.exec(m);
    other.exec(`pragma user_version = ${migrations.length}`);
    other.exec('commit');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    other.close();
    assert.equal(code, 0, err);
    assert.match(out, /opened/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
