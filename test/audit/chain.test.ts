import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { canonicalJson, isSecretKey, listAudit, pruneAuditLog, recordAudit, verifyAuditChain, withAudit } from '../../src/audit/audit.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { LifeboatError } from '../../src/errors.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const spaces: Workspace[] = [];
after(() => spaces.forEach((ws) => ws.remove()));

/** A workspace whose config loads (nothing here connects to its database) and a catalog with `n` rows. */
function setup(n: number, at?: (i: number) => Date): { ws: Workspace; catalog: Catalog } {
  const ws = workspace();
  spaces.push(ws);
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "postgres://app@127.0.0.1:1/app", databases: [app] }\n    storage: local\n`);
  const catalog = Catalog.open(ws.home);
  for (let i = 1; i <= n; i++) recordAudit(catalog, { actor: 'alice', action: 'backup.protect', object: `app-${i}`, outcome: 'ok', detail: { n: i }, at: at?.(i) });
  return { ws, catalog };
}

/** Runs SQL on the catalog file behind Lifeboat's back, as someone with the file would. */
function tamper(ws: Workspace, sql: string): void {
  const db = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/**
 * `lifeboat audit verify`: in this process (ws.run, the same main()) unless `spawned`, which the
 * first test of each exit code asks for so that a real process's exit is seen too.
 */
async function verifyCli(ws: Workspace, spawned = false): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return (spawned ? ws.cli : ws.run)(['audit', 'verify']);
}

describe('audit chain', () => {
  test('rows chain by hash; `lifeboat audit verify` says intact with the row count', async () => {
    const { ws, catalog } = setup(5);
    const rows = [...catalog.auditRows()];
    assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4, 5]);
    assert.equal(rows[0]!.prevHash, '0'.repeat(64));
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.prevHash, rows[i - 1]!.hash);
    catalog.close();
    const r = await verifyCli(ws, true);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^chain intact, 5 rows; last row 5, hash ${rows[4]!.hash}`));
    const json = await ws.run(['audit', 'verify', '--json']);
    assert.deepEqual(json.json(), { ok: true, rows: 5, head: { id: 5, hash: rows[4]!.hash }, anchor: null });
  });

  test('one changed column in the SQLite file: verify exits 1 and names that row', async () => {
    const { ws, catalog } = setup(5);
    catalog.close();
    tamper(ws, `update audit set detail_json = '{"n":99}' where id = 3`);
    const r = await verifyCli(ws, true);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: audit chain broken at row 3: its content does not match its hash/);
    for (const [column, value] of [['actor', "'mallory'"], ['outcome', "'failed'"], ['at', "'2020-01-01T00:00:00.000Z'"]]) {
      const other = setup(4);
      other.catalog.close();
      tamper(other.ws, `update audit set ${column} = ${value} where id = 2`);
      const v = await ws.run(['audit', 'verify', '--json'], { env: { LIFEBOAT_HOME: other.ws.home } });
      assert.equal(v.code, 1, column);
      assert.deepEqual((v.json() as { ok: boolean; rowId: number }).rowId, 2, column);
    }
  });

  test('a changed row whose hash was recomputed is caught at the next row', async () => {
    const { ws, catalog } = setup(4);
    catalog.close();
    tamper(ws, `update audit set hash = '${'a'.repeat(64)}' where id = 2`);
    const r = await verifyCli(ws);
    assert.equal(r.code, 1);
    // Row 2's own hash no longer matches its content either: it is the first broken row.
    assert.match(r.stderr, /broken at row 2/);
  });

  test('a deleted middle row, the deleted last rows, and a deleted first row are each caught', async () => {
    const middle = setup(5);
    middle.catalog.close();
    tamper(middle.ws, 'delete from audit where id = 3');
    const m = await verifyCli(middle.ws);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /broken at row 4: row 3 is missing before it/);

    const tail = setup(5);
    tail.catalog.close();
    tamper(tail.ws, 'delete from audit where id >= 4');
    const t = await verifyCli(tail.ws);
    assert.equal(t.code, 1);
    assert.match(t.stderr, /broken at row 4: rows 4 to 5 are missing: the last row written was 5, the log ends at row 3/);

    const first = setup(3);
    first.catalog.close();
    tamper(first.ws, 'delete from audit where id = 1');
    const f = await verifyCli(first.ws);
    assert.equal(f.code, 1);
    assert.match(f.stderr, /broken at row 2: row 1 is missing: the log should start at row 1/);
  });

  test('a row appended after the last rows were cut leaves the gap visible', async () => {
    const { ws, catalog } = setup(4);
    tamper(ws, 'delete from audit where id = 4');
    recordAudit(catalog, { actor: 'bob', action: 'backup.unprotect', object: 'x', outcome: 'ok' });
    catalog.close();
    const r = await verifyCli(ws);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /broken at row 5: row 4 is missing before it/);
  });

  test('retention removes old rows and keeps the chain verifiable from its anchor; a removal by hand is caught', async () => {
    const day = 86_400_000;
    const now = new Date('2026-12-01T00:00:00Z');
    // Rows 1-6 are 10 to 5 days old, 7-8 yesterday; row 6 written with a clock behind (older than row 5).
    const ages = [10, 9, 8, 7, 5, 6, 1, 1];
    const { ws, catalog } = setup(8, (i) => new Date(now.getTime() - ages[i - 1]! * day));
    assert.deepEqual(pruneAuditLog(catalog, 30, now), { rows: 0 }, 'nothing older than 30 days');
    assert.deepEqual(pruneAuditLog(catalog, 3, now), { rows: 6 });
    const rows = [...catalog.auditRows()];
    assert.deepEqual(rows.map((r) => [r.id, r.action]), [[7, 'backup.protect'], [8, 'backup.protect'], [9, 'audit.prune']]);
    assert.deepEqual(JSON.parse(rows[2]!.detailJson!), { anchor: catalog.auditAnchor(), before: new Date(now.getTime() - 3 * day).toISOString(), retentionDays: 3, rows: 6 });
    assert.equal(catalog.auditAnchor()!.id, 6);
    const report = verifyAuditChain(catalog);
    assert.deepEqual(report.ok && [report.rows, report.anchor!.id], [3, 6]);
    // Later rows chain on; a second prune moves the anchor past the first prune's row.
    recordAudit(catalog, { actor: 'alice', action: 'backup.delete', object: 'app-9', outcome: 'ok', at: now });
    assert.deepEqual(pruneAuditLog(catalog, 1, new Date(now.getTime() + 2 * day)), { rows: 4 });
    assert.deepEqual([...catalog.auditRows()].map((r) => r.id), [11]);
    catalog.close();
    const r = await verifyCli(ws);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^chain intact, 1 rows; last row 11, .*; continues rows removed by retention up to 10/);

    // Rows removed by hand, with the anchor moved to match: no audit.prune row recorded it.
    const other = setup(5);
    const third = [...other.catalog.auditRows()][2]!;
    other.catalog.setSetting('audit.anchor', { id: 3, hash: third.hash });
    other.catalog.close();
    tamper(other.ws, 'delete from audit where id <= 3');
    const v = await verifyCli(other.ws);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /broken at row 4: the log starts after row 3, but no audit.prune row records that anchor/);
  });

  test('writers in several processes at once form one chain', async () => {
    const { ws, catalog } = setup(0);
    catalog.close();
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => ws.cli(['schedule', 'add', 'app', `${i} 2 * * *`, '--timezone', 'UTC'])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const r = await verifyCli(ws);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^chain intact, 6 rows/);
  });

  test('secrets in a detail never reach the catalog file, under any key or inside text', () => {
    const { ws, catalog } = setup(0);
    const secrets = ['S3cr3t-pw-111', 'lb_S3cr3tTokenValue0123456789abcdef', 'AK-S3cr3t-222', 'S3cr3t-url-333', 'S3cr3t.bearer.444', 'sak-S3cr3t-555', 'S3cr3t-q-666', 'S3cr3t-pass-777', 'S3cr3t-dsn-888', 'S3cr3t-json-999'];
    const row = recordAudit(catalog, {
      actor: 'alice', action: 'target.create', object: 'app', outcome: 'ok',
      detail: {
        password: secrets[0], token: secrets[1], nested: { apiKey: secrets[2], keyId: 'k-1', tokenName: 'ci' },
        url: `postgres://app:${secrets[3]}@db.example:5432/app`, note: `Authorization: Bearer ${secrets[4]}`,
        list: [{ secretAccessKey: secrets[5] }], webhook: `https://hooks.example/x?token=${secrets[6]}`, 'db-pass': secrets[7],
        dsn: `host=db password=${secrets[8]} user=app`, error: `rejected {"name":"ci","secret":"${secrets[9]}"}`,
      },
    });
    const detail = JSON.parse(row.detailJson!) as Record<string, unknown>;
    assert.deepEqual(detail.nested, { apiKey: '[redacted]', keyId: 'k-1', tokenName: 'ci' }, 'names about secrets are kept');
    assert.equal(detail.url, 'postgres://app:[redacted]@db.example:5432/app');
    assert.equal(detail.dsn, 'host=db password=[redacted] user=app');
    assert.equal(detail.error, 'rejected {"name":"ci","secret":"[redacted]"}');
    assert.equal(verifyAuditChain(catalog).ok, true);
    catalog.close();
    const bytes = ['catalog.sqlite', 'catalog.sqlite-wal'].map((f) => path.join(ws.home, f)).filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
    assert.ok(bytes.includes('db.example'), 'the row is in the file');
    for (const s of secrets) assert.ok(!bytes.includes(s), `${s} is in the catalog file`);
  });

  test('listAudit filters by time, actor and action prefix, newest first, a page at a time', () => {
    const { catalog } = setup(0);
    const at = (d: string) => new Date(`2026-12-0${d}T10:00:00Z`);
    recordAudit(catalog, { actor: 'cli:root', action: 'backup.start', object: 'app', outcome: 'ok', at: at('1') });
    recordAudit(catalog, { actor: 'daemon', action: 'backup.start', object: 'app', outcome: 'failed', at: at('2') });
    recordAudit(catalog, { actor: 'cli:root', action: 'backup.delete', object: 'app-1', outcome: 'ok', at: at('3') });
    recordAudit(catalog, { actor: 'cli:root', action: 'restore.run', object: 'app-2', outcome: 'refused', at: at('4') });
    const ids = (f: Parameters<typeof listAudit>[1]) => listAudit(catalog, f, at('5')).entries.map((e) => e.id);
    assert.deepEqual(ids({}), [4, 3, 2, 1]);
    assert.deepEqual(ids({ action: 'backup.' }), [3, 2, 1]);
    assert.deepEqual(ids({ actor: 'cli:root', action: 'backup' }), [3, 1]);
    assert.deepEqual(ids({ since: '2026-12-02', until: '2026-12-04' }), [3, 2]);
    assert.deepEqual(ids({ since: '36h' }), [4], '36 hours before 12-05 10:00');
    const first = listAudit(catalog, { limit: 3 });
    assert.deepEqual([first.entries.map((e) => e.id), first.nextCursor], [[4, 3, 2], '2']);
    const second = listAudit(catalog, { limit: 3, cursor: first.nextCursor! });
    assert.deepEqual([second.entries.map((e) => e.id), second.nextCursor], [[1], null]);
    assert.throws(() => listAudit(catalog, { since: 'last week' }), (e: LifeboatError) => e.code === 'E_USAGE' && /since "last week": give an ISO time/.test(e.message));
    assert.throws(() => listAudit(catalog, { cursor: 'abc' }), (e: LifeboatError) => e.code === 'E_USAGE');
    catalog.close();
  });

  test('withAudit records ok, failed and refused, and the error thrown is the operation\'s', async () => {
    const { catalog } = setup(0);
    await withAudit(catalog, { actor: 'x', action: 'backup.start', object: 'app' }, (note) => {
      note.detail.backup = 'app-1';
    });
    await assert.rejects(withAudit(catalog, { actor: 'x', action: 'backup.start', object: 'app' }, () => {
      throw new LifeboatError('E_PG_CONNECT', 'cannot reach postgres://u:pw-in-error@h/db');
    }), /cannot reach/);
    await assert.rejects(withAudit(catalog, { actor: 'x', action: 'backup.delete', object: 'a' }, (note) => {
      // An outcome noted before the error does not hide it.
      note.outcome = 'ok';
      throw new LifeboatError('E_USAGE', 'not confirmed');
    }));
    await withAudit(catalog, { actor: 'x', action: 'prune.run' }, (note) => {
      note.skip = true;
    });
    const rows = listAudit(catalog).entries.reverse();
    assert.deepEqual(rows.map((r) => [r.action, r.outcome]), [['backup.start', 'ok'], ['backup.start', 'failed'], ['backup.delete', 'refused']]);
    assert.deepEqual(rows[1]!.detail, { error: { code: 'E_PG_CONNECT', message: 'cannot reach postgres://u:[redacted]@h/db' } });
    assert.throws(() => recordAudit(catalog, { actor: 'x', action: 'backup.frobnicate' as 'backup.start', outcome: 'ok' }), /unknown audit action/);
    catalog.close();
  });

  test('canonical JSON and secret key names (table)', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }], e: undefined }), '{"a":[{"c":"x","d":null}],"b":1}');
    const cases: [string, boolean][] = [
      ['password', true], ['dbPassword', true], ['passphrase', true], ['secret', true], ['webhook_secret', true], ['token', true], ['botToken', true],
      ['apiKey', true], ['api-key', true], ['secretAccessKey', true], ['key', true], ['privateKey', true], ['authorization', true], ['cookie', true], ['planToken', true],
      ['db-pass', true], ['pwd', true], ['keyId', false], ['tokenName', false], ['passwordSet', false], ['identityFile', false], ['target', false], ['backup', false], ['scopes', false],
    ];
    for (const [name, secret] of cases) assert.equal(isSecretKey(name), secret, name);
  });
});

describe('audit chain under a writer', () => {
  test('verification reads one snapshot: rows appended meanwhile by another process never look like a gap', async () => {
    const { ws, catalog } = setup(200);
    const script = `
      import { Catalog } from ${JSON.stringify(new URL('../../src/catalog/catalog.ts', import.meta.url).href)};
      import { recordAudit } from ${JSON.stringify(new URL('../../src/audit/audit.ts', import.meta.url).href)};
      const c = Catalog.open(process.argv[1]);
      const end = Date.now() + 3000;
      while (Date.now() < end) recordAudit(c, { actor: 'daemon', action: 'prune.run', outcome: 'ok', detail: { deleted: ['x'] } });
      c.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ws.home], { stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let checks = 0;
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const report = verifyAuditChain(catalog);
      assert.ok(report.ok, JSON.stringify(report));
      checks++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await exited, 0);
    assert.ok(checks > 10, `${checks} verifications`);
    const last = verifyAuditChain(catalog);
    assert.ok(last.ok && last.rows > 300, JSON.stringify(last));
    catalog.close();
  });
});
