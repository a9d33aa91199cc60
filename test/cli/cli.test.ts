import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { workspace } from '../support/workspace.ts';

const ws = workspace();
after(() => ws.remove());

describe('lifeboat CLI', () => {
  test('init writes a commented config that loads, with secrets as ${...} references only', async () => {
    const env = { DATABASE_URL: 'postgres://app:hunter2@db:5432/shop' };
    const r = await ws.run(['init'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /next: lifeboat backup app/);
    const text = readFileSync(ws.config, 'utf8');
    assert.doesNotMatch(text, /hunter2/);
    assert.match(text, /url: \$\{DATABASE_URL\}/);
    const { config } = parseConfig(text, ws.config, env);
    assert.deepEqual(config.targets.app!.postgres!.databases, ['shop']);
    assert.equal(config.targets.app!.postgres!.url, env.DATABASE_URL);
    assert.equal(config.storages.local!.type, 'local');
  });

  test('init without DATABASE_URL builds the URL from PG* variables with defaults', async () => {
    const r = await ws.run(['init', '--force', '--target', 'n8n'], { env: { DATABASE_URL: '', PGDATABASE: 'n8n' } });
    assert.equal(r.code, 0, r.stderr);
    const { config } = parseConfig(readFileSync(ws.config, 'utf8'), ws.config, { PGHOST: 'db', PGPASSWORD: 'pw' });
    assert.equal(config.targets.n8n!.postgres!.url, 'postgres://postgres:pw@db:5432/postgres');
    assert.deepEqual(config.targets.n8n!.postgres!.databases, ['n8n']);
  });

  test('init refuses to overwrite an existing file (exit 2)', async () => {
    writeFileSync(ws.config, 'mine\n');
    const r = await ws.cli(['init']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /already exists\nhint: pass --force/);
    assert.equal(readFileSync(ws.config, 'utf8'), 'mine\n');
  });

  test('--help and --version exit 0; an unknown command or option exits 2', async () => {
    const help = await ws.cli(['backup', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: lifeboat backup \[options\] <target>/);
    assert.equal((await ws.cli(['--version'])).code, 0);
    const unknown = await ws.cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const missingArg = await ws.cli(['backup']);
    assert.equal(missingArg.code, 2);
    assert.match(missingArg.stderr, /missing required argument 'target'/);
  });

  test('a missing config file says how to make one (exit 2), in JSON too', async () => {
    const r = await ws.cli(['list', '--config', '/nonexistent/lifeboat.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\/nonexistent\/lifeboat\.yaml: no such file\nhint: run `lifeboat init`/);
    const j = await ws.run(['list', '--json', '--config', '/nonexistent/lifeboat.yaml']);
    assert.equal(j.code, 2);
    assert.equal(j.json<{ error: { code: string } }>().error.code, 'E_CONFIG');
  });
});
