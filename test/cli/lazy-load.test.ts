import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { workspace, type CliResult } from '../support/workspace.ts';

const HOOK = fileURLToPath(new URL('./module-log.ts', import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * Each command loads only the modules it uses (src/cli/context.ts): a start that parsed every
 * command's jobs cost ~400 modules (zod, yaml, pg, the bundle codecs) before `--version` printed.
 */
describe('the CLI loads a command\'s modules only when that command runs', () => {
  const ws = workspace();
  after(() => ws.remove());
  before(() => {
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "postgres://nobody@127.0.0.1:1/app" }\n    storage: { primary: local }\n`);
  });

  /** Runs the real CLI and returns its result and the source files (relative to src/) and packages it loaded. */
  let runs = 0;
  const traced = async (args: string[]): Promise<CliResult & { sources: string[]; packages: Set<string> }> => {
    const log = path.join(ws.dir, `modules-${++runs}.txt`);
    const r = await ws.cli(args, { env: { NODE_OPTIONS: `--import=${HOOK}`, LIFEBOAT_MODULE_LOG: log } });
    const files = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((u) => (u.startsWith('file:') ? fileURLToPath(u) : u));
    const sources = files.filter((f) => f.startsWith(SRC)).map((f) => path.relative(SRC, f));
    const packages = new Set(files.flatMap((f) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? []));
    return { ...r, sources, packages };
  };
  /** What no command's start, help or usage error needs: the engine and its heavy packages. */
  const assertNoEngine = (r: { sources: string[]; packages: Set<string> }, what: string) => {
    const engine = r.sources.filter((s) => /^(jobs|catalog|config|bundle|postgres|storage)\//.test(s));
    assert.deepEqual(engine, [], `${what} loaded the engine's modules`);
    for (const p of ['zod', 'yaml', 'pg', 'tar-stream']) assert.ok(!r.packages.has(p), `${what} loaded ${p}`);
  };

  test('--version, --help and a command\'s --help load commander and the CLI\'s own files only', async () => {
    const version = await traced(['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
    assertNoEngine(version, '--version');
    assert.ok(version.sources.includes('cli/main.ts'), 'the hook saw the CLI load');

    for (const args of [['--help'], ['list', '--help'], ['restore', '--help'], ['schedule', 'add', '--help']]) {
      const r = await traced(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: lifeboat/);
      assertNoEngine(r, args.join(' '));
    }
  });

  test('a usage error exits 2 before anything heavy loads', async () => {
    const missing = await traced(['backup']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'target'/);
    assertNoEngine(missing, 'backup without a target');
    const unknown = await traced(['restore', 'app-x', '--no-such-option']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option '--no-such-option'/);
    assertNoEngine(unknown, 'restore with an unknown option');
  });

  test('list loads the config and the catalog, but not the backup, restore or export jobs', async () => {
    const r = await traced(['list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no backups yet/);
    for (const needed of ['config/load.ts', 'catalog/catalog.ts']) assert.ok(r.sources.includes(needed), `list did not load ${needed}`);
    for (const unused of ['jobs/backup.ts', 'jobs/restore.ts', 'jobs/export-stream.ts', 'jobs/verify.ts', 'postgres/dump.ts', 'bundle/writer.ts', 'bundle/reader.ts']) {
      assert.ok(!r.sources.includes(unused), `list loaded ${unused}`);
    }
  });

  test('restore of a backup that does not exist loads the restore job, and fails as before', async () => {
    const r = await traced(['restore', 'nope', '--dry-run']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: no backup matches "nope"\nhint: run `lifeboat list` to see backup ids$/m);
    assert.ok(r.sources.includes('jobs/restore.ts'), 'restore did not load its job');
    assert.ok(!r.sources.includes('jobs/backup-flow.ts'), 'restore loaded the backup flow');
  });
});
