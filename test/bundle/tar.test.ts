import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import tar from 'tar-stream';
import { TAR_END, tarHeader, tarPadding, type TarEntry } from '../../src/bundle/tar.ts';

const long = `files/app/${'deep/'.repeat(25)}settings.json`; // 140 characters: ustar prefix + name
const longer = `files/app/${'a'.repeat(120)}/${'b'.repeat(120)}.txt`; // no split fits: a pax path
const unicode = 'files/app/café/naïve ☃.txt';
const mtime = new Date('2026-11-01T10:00:00Z');

const entries: (TarEntry & { data?: Buffer })[] = [
  { name: 'README.txt', type: 'file', data: Buffer.from('hello\n'), mode: 0o644, mtime },
  { name: 'restore.sh', type: 'file', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755, mtime },
  { name: long, type: 'file', data: Buffer.alloc(1000, 7), mtime },
  { name: longer, type: 'file', data: Buffer.alloc(512, 1), mtime },
  { name: unicode, type: 'file', data: Buffer.from('snow'), mtime },
  { name: 'files/app/conf', type: 'directory', mode: 0o750, mtime },
  { name: 'files/app/current', type: 'symlink', linkname: `/srv/${'release-'.repeat(20)}42`, mtime },
  { name: 'empty', type: 'file', data: Buffer.alloc(0), mtime, uid: 1000, gid: 1000 },
];

function archive(): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    out.push(tarHeader({ ...e, size: data.length }), data, Buffer.alloc(tarPadding(data.length)));
  }
  out.push(TAR_END);
  return Buffer.concat(out);
}

describe('tar headers', () => {
  test('GNU tar extracts every entry with its name, bytes, mode, time and link', (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-tar-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    execFileSync('tar', ['-x', '-C', dir, '-f', '-'], { input: archive() });
    for (const e of entries) {
      const at = path.join(dir, e.name);
      if (e.type === 'file') {
        assert.deepEqual(readFileSync(at), e.data, e.name);
        assert.equal(statSync(at).mtime.getTime(), mtime.getTime(), `${e.name} mtime`);
      }
      if (e.mode) assert.equal(statSync(at).mode & 0o777, e.mode, `${e.name} mode`);
      if (e.type === 'directory') assert.ok(statSync(at).isDirectory());
      if (e.type === 'symlink') assert.equal(readlinkSync(at), e.linkname);
    }
    const listing = execFileSync('tar', ['-t', '--numeric-owner', '-v', '-f', '-'], { input: archive(), encoding: 'utf8' });
    assert.match(listing, /1000\/1000 +0 .* empty/);
  });

  test('tar-stream (what Lifeboat reads bundles with) sees the same entries', async () => {
    const extract = tar.extract();
    Readable.from([archive()]).pipe(extract);
    const seen: { name: string; type: string; size: number; linkname?: string | null; body: Buffer }[] = [];
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      seen.push({ name: entry.header.name, type: entry.header.type ?? 'file', size: entry.header.size ?? 0, linkname: entry.header.linkname, body: Buffer.concat(chunks) });
    }
    assert.deepEqual(seen.map((s) => s.name.replace(/\/$/, '')), entries.map((e) => e.name));
    assert.deepEqual(seen.map((s) => s.type), entries.map((e) => e.type));
    for (const [i, e] of entries.entries()) {
      if (e.type === 'file') assert.deepEqual(seen[i]!.body, e.data, e.name);
      if (e.type === 'symlink') assert.equal(seen[i]!.linkname, e.linkname);
    }
  });

  test('a size beyond the 8 GiB an octal field holds goes into a pax record', () => {
    const header = tarHeader({ name: 'databases/huge.dump', type: 'file', size: 9 * 1024 ** 3 });
    assert.equal(header.length, 3 * 512, 'pax header, its records, then the entry');
    assert.match(header.subarray(512, 1024).toString('latin1'), /\d+ size=9663676416\n/);
    assert.equal(header.subarray(1024 + 124, 1024 + 135).toString('latin1'), '00000000000');
  });
});
