import assert from 'node:assert/strict';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { seedShop, tableFingerprints } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

interface BackupOut { id: string; key: string }
interface Shown { status: string; locations: { storage: string; status: string; error: string | null }[] }

/**
 * A changed age header on the primary copy is damage like any other: the reader says which copy
 * and why, marks it bad and reads the replica. An identity that is not one of the bundle's
 * recipients is the user's mistake: one message, exit 1, every copy left as it was.
 */
describe('a damaged age header on the primary copy', () => {
  let db: string;
  let ws: Workspace;
  let recipient: string;
  let rightKey: string;
  let wrongKey: string;
  const config = (identityFile: string) =>
    ws.writeConfig([
      'storages:',
      `  local: { type: local, path: ${ws.storage} }`,
      `  spare: { type: local, path: ${path.join(ws.dir, 'spare')} }`,
      'targets:',
      '  shop:',
      `    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }`,
      '    storage: { primary: local, replicas: [spare] }',
      `    encryption: { recipients: [${recipient}], identityFile: ${identityFile} }`,
      '',
    ].join('\n'));
  const backup = async () => {
    const r = await ws.run(['backup', 'shop', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return r.json<BackupOut>();
  };
  const locations = async (id: string) => Object.fromEntries((await ws.run(['show', id, '--json'])).json<Shown>().locations.map((l) => [l.storage, l]));
  /** Rewrites one line of the stored primary copy's age header (0: version, 1: stanza, 2: its body, 3: MAC). */
  const damageHeader = (key: string, line: number, change: (text: string) => string) => {
    const file = path.join(ws.storage, key);
    const bytes = readFileSync(file);
    const lines = bytes.subarray(0, bytes.indexOf('\n--- ') + 200).toString('latin1').split('\n').slice(0, 4);
    const at = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
    const changed = change(lines[line]!);
    assert.equal(changed.length, lines[line]!.length, 'the damage keeps the size (a size check would catch it first)');
    assert.notEqual(changed, lines[line]);
    bytes.write(changed, at, 'latin1');
    writeFileSync(file, bytes);
  };
  /** Another base64 character at `i` of a line: the header still parses as far as it can. */
  const swapChar = (i: number) => (text: string) => text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);

  before(async () => {
    db = await suite.server.createDatabase('agehdr');
    await seedShop(suite.server, db);
    ws = suite.workspace();
    mkdirSync(path.join(ws.dir, 'spare'), { mode: 0o700 });
    const [right, wrong] = [await generateIdentity(), await generateIdentity()];
    recipient = await identityToRecipient(right);
    rightKey = path.join(ws.dir, 'right.key');
    wrongKey = path.join(ws.dir, 'wrong.key');
    writeFileSync(rightKey, `${right}\n`, { mode: 0o600 });
    writeFileSync(wrongKey, `${wrong}\n`, { mode: 0o600 });
    config(rightKey);
  });

  test('restore: a changed stanza body is damage; the replica is restored and the primary marked bad', async () => {
    const out = await backup();
    damageHeader(out.key, 2, swapChar(10));
    const copy = `${db}_stanza`;
    const r = await ws.run(['restore', out.id, '--to', suite.server.urlFor(copy), '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`the copy on local is unusable \\(.*its age header's stanza for recipient ${recipient} does not open with that recipient's identity .*\\); reading the copy on spare instead`));
    assert.deepEqual(await tableFingerprints(suite.server, copy), await tableFingerprints(suite.server, db));
    const at = await locations(out.id);
    assert.equal(at.local!.status, 'failed');
    assert.match(at.local!.error!, /age header/);
    assert.equal(at.spare!.status, 'ok');
  });

  test('one table: the table of contents and the table are read from the replica', async () => {
    const out = await backup();
    damageHeader(out.key, 2, swapChar(20));
    const r = await ws.run(['restore', out.id, '--database', db, '--table', 'public.customers', '--rename-to', 'customers_copy', '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the copy on local is unusable \(.*its age header's stanza for recipient age1\w+ does not open.*\); reading the copy on spare instead/);
    const [copied, source] = [await suite.server.query(db, 'select count(*)::int as n, md5(string_agg(name, \',\' order by id)) as h from public.customers_copy'), await suite.server.query(db, 'select count(*)::int as n, md5(string_agg(name, \',\' order by id)) as h from public.customers')];
    assert.deepEqual(copied, source);
    assert.equal(copied[0]!.n, 1000);
    assert.equal((await locations(out.id)).local!.status, 'failed');
  });

  test('export --decrypt: a header that fails its MAC is damage; the replica is exported', async () => {
    const out = await backup();
    damageHeader(out.key, 3, swapChar(8));
    const dest = path.join(ws.dir, 'exported');
    mkdirSync(dest);
    const r = await ws.run(['export', out.id, dest, '--decrypt', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the copy on local is unusable \(its age header fails its MAC \(changed after it was written\)\); reading the copy on spare instead/);
    const exported = r.json<{ storage: string; path: string; decrypted: boolean }>();
    assert.equal(exported.storage, 'spare');
    assert.equal(exported.decrypted, true);
    // A decrypted zstd bundle: size-prefixed zstd frames, no age header left.
    assert.doesNotMatch(readFileSync(exported.path).subarray(0, 32).toString('latin1'), /age-encryption/);
    assert.equal((await locations(out.id)).local!.status, 'failed');
  });

  test('verify --quick: a header that does not parse fails the primary copy only; the replica passes', async () => {
    const out = await backup();
    damageHeader(out.key, 0, (l) => l.replace('v1', 'v9'));
    const r = await ws.run(['verify', out.id, '--quick']);
    // Another copy passed, so the backup restores: the damaged one is a warning.
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^WARN +members match the manifest: .*its age header does not parse \(invalid version age-encryption.org\/v9\)/m);
    assert.match(r.stdout, /^pass +members match the manifest \(copy on spare\): all match$/m);
    assert.match(r.stdout, /quick verification of \S+ passed/);
    const at = await locations(out.id);
    assert.equal(at.local!.status, 'failed');
    assert.equal(at.spare!.status, 'ok');
  });

  test('a wrong identity is not damage: one message, exit 1, and no copy is marked bad', async () => {
    const out = await backup();
    config(wrongKey);
    try {
      const wrong = new RegExp(`^error: cannot decrypt the bundle: the configured identity \\(age1\\w+\\) is not one of its recipients \\(${recipient}\\)( \\(restored: nothing\\))?\\nhint: set encryption.identityFile`, 'm');
      const restore = await ws.run(['restore', out.id, '--to', suite.server.urlFor(`${db}_wrong`), '--yes']);
      assert.equal(restore.code, 1, restore.stderr);
      assert.match(restore.stderr, wrong);
      assert.doesNotMatch(restore.stderr, /unusable|damaged/);
      assert.equal(restore.stderr.match(/^error:/gm)?.length, 1);
      // Told from the bundle's header, before the streamed load made a scratch database on the server.
      const catalog = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'), { readOnly: true });
      try {
        const job = catalog.prepare("select id, status from jobs where kind = 'restore' order by started_at desc limit 1").get() as { id: string; status: string };
        assert.equal(job.status, 'failed');
        const lines = (catalog.prepare('select message from job_logs where job_id = ?').all(job.id) as { message: string }[]).map((l) => l.message);
        assert.deepEqual(lines.filter((l) => /scratch database/.test(l)), [], lines.join('\n'));
      } finally {
        catalog.close();
      }

      const exported = await ws.run(['export', out.id, path.join(ws.dir, 'wrong.tar.zst'), '--decrypt']);
      assert.equal(exported.code, 1, exported.stderr);
      assert.match(exported.stderr, wrong);
      assert.doesNotMatch(exported.stderr, /unusable|damaged/);

      const shown = await locations(out.id);
      assert.deepEqual([shown.local!.status, shown.spare!.status], ['ok', 'ok']);
    } finally {
      config(rightKey);
    }
  });
});
