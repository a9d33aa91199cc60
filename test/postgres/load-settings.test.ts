import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toolsForServer } from '../../src/postgres/binaries.ts';
import { connect, parsePgUrl } from '../../src/postgres/connection.ts';
import { runTool } from '../../src/postgres/dump.ts';
import { loadCompression } from '../../src/postgres/load-settings.ts';
import { useTestServer } from '../support/suite.ts';

const suite = useTestServer();

describe('TOAST compression of loaded rows', () => {
  test('auto picks lz4 over the built-in default, keeps a configured method; lz4 overrides it; server keeps it', async () => {
    const client = await connect(parsePgUrl(suite.server.urlFor('postgres')));
    try {
      const auto = await loadCompression(client, 'auto');
      assert.equal(auto.options, '-c default_toast_compression=lz4');
      assert.equal((await loadCompression(client, 'server')).options, undefined);
      // A method someone chose (here for the session; in postgresql.conf, per role or per database alike).
      await client.query('set default_toast_compression = pglz');
      const configured = await loadCompression(client, 'auto');
      assert.equal(configured.options, undefined);
      assert.match(configured.detail, /pglz, the server's \(configured, source: session; --toast-compression lz4 loads faster\)/);
      assert.equal((await loadCompression(client, 'lz4')).options, '-c default_toast_compression=lz4');
    } finally {
      await client.end();
    }
  });

  test('the settings reach both the driver\'s sessions and the libpq tools', async () => {
    const endpoint = { ...parsePgUrl(suite.server.urlFor('postgres')), options: '-c default_toast_compression=lz4' };
    const client = await connect(endpoint);
    try {
      assert.equal((await client.query<{ default_toast_compression: string }>('show default_toast_compression')).rows[0]!.default_toast_compression, 'lz4');
    } finally {
      await client.end();
    }
    const tools = await toolsForServer(suite.server.major);
    const run = runTool(tools.psql, ['-Atc', 'show default_toast_compression', endpoint.url], endpoint);
    let out = '';
    for await (const chunk of run.stdout) out += String(chunk);
    await run.done;
    assert.equal(out.trim(), 'lz4');
  });
});
