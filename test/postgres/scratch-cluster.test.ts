import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { startScratchCluster } from '../../src/postgres/scratch-cluster.ts';
import { serverBinariesFound } from '../support/postgres.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-templates-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function select1(url: string, password: string | undefined): Promise<number> {
  const u = new URL(url);
  u.password = encodeURIComponent(password ?? '');
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return (await client.query<{ n: number }>('select 1 as n')).rows[0]!.n;
  } finally {
    await client.end();
  }
}

describe('scratch cluster from a kept template', { skip: !serverBinariesFound() && 'no PostgreSQL server binaries' }, () => {
  test('the first cluster keeps initdb\'s output; the next starts from it with its own password; a damaged template is replaced', async () => {
    const first = await startScratchCluster({ minMajor: 0, templateDir: dir });
    try {
      assert.equal(first.fromTemplate, false);
      assert.equal(await select1(first.endpoint.url, first.endpoint.password), 1);
      // The copy is thrown away: its loads use lz4, not pglz (load-settings.ts).
      assert.equal(first.endpoint.options, first.major >= 14 ? '-c default_toast_compression=lz4' : undefined);
    } finally {
      await first.stop();
    }
    const [template] = readdirSync(dir).filter((f) => f.startsWith('initdb-'));
    assert.ok(template, `a template in ${dir}: ${readdirSync(dir).join(', ')}`);

    const second = await startScratchCluster({ minMajor: 0, templateDir: dir });
    try {
      assert.equal(second.fromTemplate, true);
      assert.equal(await select1(second.endpoint.url, second.endpoint.password), 1);
      await assert.rejects(select1(second.endpoint.url, first.endpoint.password), /password authentication failed/, 'the first cluster\'s password does not open the second');
    } finally {
      await second.stop();
    }

    truncateSync(path.join(dir, template, 'global', 'pg_control'), 0);
    const third = await startScratchCluster({ minMajor: 0, templateDir: dir });
    try {
      assert.equal(third.fromTemplate, false, 'made by initdb again');
      assert.equal(await select1(third.endpoint.url, third.endpoint.password), 1);
    } finally {
      await third.stop();
    }
    assert.equal(statSync(path.join(dir, template, 'global', 'pg_control')).size, 8192, 'the template was made again');
  });
});
