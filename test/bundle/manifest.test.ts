import assert from 'node:assert/strict';
import { createReadStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { canonicalJson, checkMac, keyId, signManifest, type MacKey } from '../../src/bundle/mac.ts';
import { parseManifest, serializeManifest, type Manifest } from '../../src/bundle/manifest.ts';
import { checkIntegrity } from '../../src/bundle/reader.ts';
import { repack } from '../support/repack.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

/** A manifest with every section filled, as a backup of a database and a file set writes it. */
function fullManifest(): Manifest {
  const sha = 'a'.repeat(64);
  return {
    format: 'lifeboat-bundle', formatVersion: 1, id: 'shop-20261207T020000Z', target: 'shop', lifeboatVersion: '0.1.0',
    startedAt: '2026-12-07T02:00:00.000Z', finishedAt: '2026-12-07T02:00:05.000Z', host: { hostname: 'h', platform: 'linux' },
    profile: 'generic', compression: { algorithm: 'zstd', level: 3 }, encryption: { kind: 'none' },
    postgres: {
      serverVersion: '15.8', pgDumpVersion: '15.8', globals: false,
      databases: [{
        name: 'shop', sizeBytes: 1000, encoding: 'UTF8',
        tables: [{ schema: 'sales', name: 'orders', kind: 'table', columns: [{ name: 'id', type: 'bigint', nullable: false }], rows: 10 }],
        sequences: [{ schema: 'public', name: 'orders_id_seq', lastValue: '10' }],
        extensions: [{ name: 'plpgsql', version: '1.0' }],
        dumpMembers: ['databases/shop.dump'], dumpSize: 100, dumpSha256: sha,
        dumpIndex: { tocLength: 50, tables: [{ dumpId: 3, schema: 'sales', name: 'orders', offset: 50, length: 50 }] },
      }],
    },
    files: [{ set: 'config', path: '/srv/app/.env', member: 'files/config/srv/app/.env', type: 'file', mode: 0o600, uid: 0, gid: 0, size: 10, mtime: '2026-12-07T01:00:00.000Z', sha256: sha }],
    skipped: [],
    app: { profile: 'generic', items: [{ kind: 'workflow', id: 'w1', name: 'Flow', checksum: sha }], metadataMembers: [] },
    warnings: [],
    members: [{ name: 'databases/shop.dump', size: 100, sha256: sha }, { name: 'files/config/srv/app/.env', size: 10, sha256: sha }],
  };
}

const text = (m: unknown) => JSON.stringify(m);
const db = (m: Manifest) => m.postgres!.databases[0]!;

describe('manifest schema', () => {
  test('a complete manifest parses, and a field it does not know is kept', () => {
    const m = { ...fullManifest(), addedByNewerLifeboat: { x: 1 } };
    const parsed = parseManifest(text(m), 'b.tar.zst') as Manifest & { addedByNewerLifeboat?: unknown };
    assert.deepEqual(parsed, m);
  });

  // Each case: what a forger or a damaged file changes, and the field the error must name.
  const refused: [string, (m: Manifest) => unknown, RegExp][] = [
    ['files is not a list', (m) => ({ ...m, files: 'x' }), /field files: .*expected array/],
    ['members are missing', (m) => ({ ...m, members: undefined }), /field members: /],
    ['a row count is a string', (m) => (db(m).tables[0]!.rows = '10' as never, m), /field postgres\.databases\[0\]\.tables\[0\]\.rows: /],
    ['a file mode is text', (m) => (m.files[0]!.mode = 'rw' as never, m), /field files\[0\]\.mode: /],
    ['an id outside the alphabet', (m) => ({ ...m, id: '../../etc/x-20261207T020000Z' }), /field id: a backup id/],
    ['an id of another target', (m) => ({ ...m, id: 'other-20261207T020000Z' }), /field id: a backup id of target "shop"/],
    ['an id without its timestamp', (m) => ({ ...m, id: 'shop-latest' }), /field id: /],
    ['a target with a slash', (m) => ({ ...m, target: 'a/b', id: 'a/b-20261207T020000Z' }), /field id: |field target: /],
    ['a file set named ..', (m) => (m.files[0]!.set = '..', m), /field files\[0\]\.set: a name of letters/],
    ['a file set with a slash', (m) => (m.files[0]!.set = 'a/b', m), /field files\[0\]\.set: /],
    ['a database name with a newline', (m) => (db(m).name = 'shop\nrm -rf /', m), /field postgres\.databases\[0\]\.name: a PostgreSQL name/],
    ['a database name with NUL', (m) => (db(m).name = 'sh\0op', m), /field postgres\.databases\[0\]\.name: /],
    ['a table name with an escape sequence', (m) => (db(m).tables[0]!.name = 'orders\u001b[2J', m), /field postgres\.databases\[0\]\.tables\[0\]\.name: /],
    ['a schema name of 64 bytes', (m) => (db(m).tables[0]!.schema = 'é'.repeat(32), m), /field postgres\.databases\[0\]\.tables\[0\]\.schema: .*1 to 63 bytes/],
    ['an empty table name', (m) => (db(m).tables[0]!.name = '', m), /field postgres\.databases\[0\]\.tables\[0\]\.name: /],
    ['a member name with ..', (m) => (m.members[0]!.name = 'files/../../x', m), /field members\[0\]\.name: a relative member name/],
    ['an absolute dump member', (m) => (db(m).dumpMembers = ['/etc/passwd'], m), /field postgres\.databases\[0\]\.dumpMembers\[0\]: /],
    ['a sha256 that is not hex', (m) => (m.members[1]!.sha256 = 'zz', m), /field members\[1\]\.sha256: 64 lowercase hex digits/],
    ['a negative size', (m) => (m.members[1]!.size = -1, m), /field members\[1\]\.size: /],
    ['an unknown file type', (m) => (m.files[0]!.type = 'fifo' as never, m), /field files\[0\]\.type: /],
    ['a path with NUL', (m) => (m.files[0]!.path = '/srv/a\0b', m), /field files\[0\]\.path: /],
    ['an unknown compression', (m) => (m.compression = { algorithm: 'xz' as never }, m), /field compression\.algorithm: /],
    ['a finish time that is not a time', (m) => ({ ...m, finishedAt: 'yesterday' }), /field finishedAt: an ISO 8601 time/],
    ['a forged MAC of the wrong shape', (m) => ({ ...m, mac: { alg: 'HMAC-SHA256', key: 'installation', keyId: 'x', value: 'y' } }), /field mac\.keyId: /],
    ['an array instead of a manifest', () => [], /not a Lifeboat manifest/],
    ['another format', (m) => ({ ...m, format: 'restic' }), /not a Lifeboat manifest/],
  ];
  for (const [what, change, field] of refused) {
    test(`refused, naming the bundle and the field: ${what}`, () => {
      assert.throws(() => parseManifest(text(change(fullManifest())), 'shop/shop-20261207T020000Z.tar.zst.manifest.json'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'E_BUNDLE_CORRUPT');
        assert.match(err.message, /^shop\/shop-20261207T020000Z\.tar\.zst\.manifest\.json: /);
        assert.match(err.message, field);
        return true;
      });
    });
  }

  test('names PostgreSQL allows are accepted: quotes, spaces, slashes, unicode, 63 bytes', () => {
    const m = fullManifest();
    db(m).name = 'my db/"prod"';
    db(m).tables[0]!.name = 'Ordres d\'été';
    db(m).tables[0]!.schema = 'x'.repeat(63);
    assert.equal(db(parseManifest(text(m), 'b')).name, 'my db/"prod"');
  });

  test('not JSON, and a newer format, are said as such', () => {
    assert.throws(() => parseManifest('{"format": "lifeboat-bundle",', 'b.tar'), { code: 'E_BUNDLE_CORRUPT', message: /^b\.tar: the manifest is not valid JSON/ });
    assert.throws(() => parseManifest(text({ ...fullManifest(), formatVersion: 2 }), 'b.tar'), { code: 'E_BUNDLE_CORRUPT', message: /manifest format 2 is newer than this Lifeboat understands/ });
  });
});

describe('manifest MAC', () => {
  const key = (byte: number): MacKey => {
    const secret = Buffer.alloc(32, byte);
    return { kind: 'installation', id: keyId(secret), secret, source: 'test' };
  };
  const mine = key(1);

  test('a signed manifest checks, as written by serializeManifest and in any key order or layout', () => {
    const signed = signManifest(fullManifest(), mine);
    assert.deepEqual(checkMac(JSON.parse(serializeManifest(signed)), [mine]), { trusted: true, keyId: mine.id });
    const reordered = JSON.parse(canonicalJson(JSON.parse(JSON.stringify(signed, null, 7)))) as unknown;
    assert.equal(checkMac(reordered, [mine]).trusted, true);
  });

  test('no MAC, another key, and any change after signing are untrusted, each with its reason', () => {
    const signed = signManifest(fullManifest(), mine);
    const { mac: _mac, ...stripped } = signed;
    void _mac;
    assert.match(untrusted(checkMac(stripped, [mine])), /^no MAC/);
    assert.match(untrusted(checkMac(signed, [key(2)])), new RegExp(`signed with key ${mine.id}, which this installation does not hold`));
    const changed = JSON.parse(JSON.stringify(signed)) as Manifest;
    changed.files[0]!.path = '/etc/cron.d/x';
    assert.match(untrusted(checkMac(changed, [mine])), /the MAC does not match: the manifest was changed after key/);
    // A field added after signing is covered too: the MAC is over everything but itself.
    assert.equal(checkMac({ ...signed, extra: 1 }, [mine]).trusted, false);
  });
});

function untrusted(v: ReturnType<typeof checkMac>): string {
  assert.equal(v.trusted, false);
  return (v as { reason: string }).reason;
}

describe('manifests read from storage', () => {
  const spaces: Workspace[] = [];
  after(() => spaces.forEach((w) => w.remove()));

  async function filesBackup(): Promise<{ ws: Workspace; id: string; file: string }> {
    const ws = workspace();
    spaces.push(ws);
    mkdirSync(path.join(ws.dir, 'app'));
    writeFileSync(path.join(ws.dir, 'app', '.env'), 'SECRET=1\n');
    ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { config: [${ws.dir}/app] }\n    storage: local\n    compression: { algorithm: none }\n`);
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const { id, key } = r.json<{ id: string; key: string }>();
    return { ws, id, file: path.join(ws.storage, key) };
  }

  test('catalog rebuild skips a malformed manifest, names the bundle and the field, and exits non-zero', async () => {
    const { ws, id, file } = await filesBackup();
    const sidecar = `${file}.manifest.json`;
    writeFileSync(sidecar, readFileSync(sidecar, 'utf8').replace(/"files": \[/, '"files": "none", "was": ['));
    rmSync(ws.home, { recursive: true });
    const r = await ws.cli(['catalog', 'rebuild']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /0 backup\(s\) added.*1 skipped/);
    assert.match(r.stdout, new RegExp(`skipped app/${id}\\.tar on local: app/${id}\\.tar\\.manifest\\.json: malformed manifest: field files: `));
    assert.doesNotMatch(r.stdout + r.stderr, /is not a function/);
    assert.equal((await ws.run(['list', '--json'])).json<unknown[]>().length, 0, 'the malformed bundle stays out of the catalog');
  });

  test('verify names the field of a malformed manifest inside the bundle', async () => {
    const { ws, id, file } = await filesBackup();
    await repack(file, { edit: (m) => (m.files[0]!.uid = 'root' as never, m) });
    const r = await ws.cli(['verify', id, '--quick']);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, new RegExp(`manifest\\.json is unreadable: ${id}\\.tar: manifest\\.json: malformed manifest: field files\\[0\\]\\.uid: `));
  });

  test('a member of the wrong size is reported as a size mismatch, not a checksum mismatch', async () => {
    const { ws, id, file } = await filesBackup();
    const envMember = (m: Manifest) => m.members.find((x) => x.name.endsWith('/.env'))!;
    await repack(file, { edit: (m) => (envMember(m).size += 5, m) });
    const report = await checkIntegrity(createReadStream(file), path.basename(file), { identities: [], passphrases: [] });
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems.filter((p) => p.includes('.env')), [`member ${envMember(report.manifest!).name} has the wrong size: 9 bytes, the manifest says 14`]);
    const r = await ws.run(['verify', id, '--quick']);
    assert.equal(r.code, 1);
    assert.match(r.stdout + r.stderr, /\.env has the wrong size: 9 bytes, the manifest says 14/);
    assert.doesNotMatch(r.stdout + r.stderr, /\.env does not match the manifest/);
  });
});
