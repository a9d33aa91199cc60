import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { seedShop } from '../support/seed.ts';
import { useTestServer } from '../support/suite.ts';
import { flipByte } from '../support/tamper.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

interface Made { ws: Workspace; id: string; key: string; replica: string }

/** A backup of a seeded database stored on `local` with a replica on `copy`, optionally encrypted to a fresh identity. */
async function made(options: { encrypted?: boolean } = {}): Promise<Made> {
  const ws = suite.workspace();
  const db = await suite.server.createDatabase('exp');
  await seedShop(suite.server, db);
  const replica = path.join(ws.dir, 'replica');
  mkdirSync(replica);
  let encryption = '';
  if (options.encrypted) {
    const identity = await generateIdentity();
    writeFileSync(path.join(ws.dir, 'key.txt'), identity + '\n');
    encryption = `    encryption: { recipients: [${await identityToRecipient(identity)}], identityFile: ${path.join(ws.dir, 'key.txt')} }\n`;
  }
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\n  copy: { type: local, path: ${replica} }\ntargets:\n  shop:\n    postgres: { url: "${suite.server.urlFor(db)}", databases: [${db}] }\n    storage: { primary: local, replicas: [copy] }\n${encryption}`);
  const r = await ws.run(['backup', 'shop', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.json<{ id: string; key: string }>();
  return { ws, id: out.id, key: out.key, replica };
}

describe('lifeboat export', () => {
  test('writes the stored bundle to a file and into a directory under its own name; never replaces a file', async () => {
    const { ws, id, key } = await made();
    const dest = path.join(ws.dir, 'out.tar.zst');
    const r = await ws.run(['export', id, dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`exported ${id} \\(.*\\) from local to ${dest}`));
    assert.equal(sha(dest), sha(path.join(ws.storage, key)));

    const dir = path.join(ws.dir, 'outdir');
    mkdirSync(dir);
    assert.equal((await ws.run(['export', id.slice(0, -3), dir])).code, 0);
    assert.deepEqual(readdirSync(dir), [path.basename(key)]);

    const again = await ws.run(['export', id, dest]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /out\.tar\.zst exists: export never replaces a file/);
  });

  test('- streams the bundle to stdout and nothing else', async () => {
    const { ws, id, key } = await made();
    const child = ws.spawnCli(['export', id, '-']);
    const chunks: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => chunks.push(c));
    child.stdin!.end();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), sha(path.join(ws.storage, key)));
  });

  test('- from a damaged copy cannot take the bytes back: exit 1, say so, mark the copy; a file export then reads the replica', async () => {
    const { ws, id, key, replica } = await made();
    flipByte(path.join(ws.storage, key), 0.5);
    const child = ws.spawnCli(['export', id, '-']);
    let stderr = '';
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin!.end();
    assert.equal(await new Promise<number | null>((resolve) => child.on('close', resolve)), 1);
    assert.match(stderr, new RegExp(`error: the copy of backup ${id} on local does not match its sha256 .*: the bytes already written are damaged`));
    assert.match(stderr, /hint: discard them/);
    const dest = path.join(ws.dir, 'again.tar.zst');
    const r = await ws.run(['export', id, dest, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json<{ storage: string }>().storage, 'copy', 'the copy marked bad is not read first');
    assert.equal(sha(dest), sha(path.join(replica, key)));
  });

  test('--decrypt writes a plain bundle that tar lists', async () => {
    const { ws, id, key } = await made({ encrypted: true });
    assert.ok(key.endsWith('.tar.zst.age'));
    const dir = path.join(ws.dir, 'plain');
    mkdirSync(dir);
    const r = await ws.run(['export', id, dir, '--decrypt', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.json<{ path: string; decrypted: boolean }>();
    assert.equal(out.decrypted, true);
    assert.equal(out.path, path.join(dir, path.basename(key, '.age')));
    const listed = execFileSync('sh', ['-c', `zstd -dc '${out.path}' | tar -t`], { encoding: 'utf8' }).split('\n');
    assert.equal(listed[0], 'README.txt');
    assert.ok(listed.includes('restore.sh') && listed.includes('manifest.json'), listed.join(' '));
    // Without --decrypt, the bytes as stored: still encrypted.
    const sealed = path.join(ws.dir, 'sealed.age');
    assert.equal((await ws.run(['export', id, sealed])).code, 0);
    assert.equal(sha(sealed), sha(path.join(ws.storage, key)));
  });

  test('a damaged primary falls back to the replica, and is marked bad', async () => {
    const { ws, id, key } = await made();
    flipByte(path.join(ws.storage, key), 0.5);
    const dest = path.join(ws.dir, 'out.tar.zst');
    const r = await ws.run(['export', id, dest, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the copy on local is unusable \(does not match its sha256.*\); reading the copy on copy instead/);
    assert.equal(r.json<{ storage: string }>().storage, 'copy');
    assert.equal(sha(dest), sha(path.join(ws.dir, 'replica', key)));
    const listed = (await ws.run(['show', id, '--json'])).json<{ locations: { storage: string; status: string }[] }>();
    assert.equal(listed.locations.find((l) => l.storage === 'local')!.status, 'failed');
  });

  test('without a recorded sha256 (a rebuilt catalog) every member is checked against the manifest instead', async () => {
    const { ws, id, key } = await made();
    const { DatabaseSync } = await import('node:sqlite');
    const cat = new DatabaseSync(path.join(ws.home, 'catalog.sqlite'));
    cat.prepare('update backup_locations set sha256 = null where backup_id = ?').run(id);
    cat.prepare('update backups set sha256 = null where id = ?').run(id);
    cat.close();
    const good = path.join(ws.dir, 'good.tar.zst');
    assert.equal((await ws.run(['export', id, good])).code, 0);
    assert.equal(sha(good), sha(path.join(ws.storage, key)));
    flipByte(path.join(ws.storage, key), 0.5);
    const dest = path.join(ws.dir, 'out.tar.zst');
    const r = await ws.run(['export', id, dest, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /the copy on local is unusable \(.*(damaged|does not match).*\); reading the copy on copy instead/);
    assert.equal(sha(dest), sha(path.join(ws.dir, 'replica', key)));
  });

  test('a damaged only copy fails with a clear message and leaves no file', async () => {
    const { ws, id, key, replica } = await made();
    flipByte(path.join(ws.storage, key), 0.5);
    flipByte(path.join(replica, key), 0.3);
    const out = path.join(ws.dir, 'out');
    mkdirSync(out);
    const r = await ws.run(['export', id, path.join(out, 'b.tar.zst')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`error: no good copy of backup ${id}: the copy on copy does not match its sha256`));
    assert.deepEqual(readdirSync(out), [], 'no file, no temp file');
    assert.equal(existsSync(path.join(out, 'b.tar.zst')), false);
  });
});
