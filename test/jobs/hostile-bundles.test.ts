import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import type { FileRecord } from '../../src/bundle/manifest.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig, type LoadedConfig } from '../../src/config/load.ts';
import { LifeboatError } from '../../src/errors.ts';
import { runBackup } from '../../src/jobs/backup.ts';
import { rebuildCatalog } from '../../src/jobs/rebuild.ts';
import { placeFile } from '../../src/jobs/restore-files.ts';
import { runRestore } from '../../src/jobs/restore.ts';
import { forgeBundle, type HostileEntry } from '../support/hostile.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

// A corpus of forged bundles, each restored in place (its file set's root is a directory of the
// sandbox) and under --to-dir. Each is refused before anything is written, or restored
// harmlessly; either way nothing outside the restore's own directory changes. The refused
// restore's exit status is 1 until plan refusals get their own (3).
const REFUSED_EXIT = new Set([1, 3]);

interface Case {
  name: string;
  /** The bundle's entries, given the set's root and the sandbox beside it. */
  entries: (root: string, sandbox: string) => HostileEntry[];
  /** Refused (with this message), or restored harmlessly; per mode when they differ. */
  inPlace: RegExp | 'restored';
  toDir: RegExp | 'restored';
  /** Prepares the place the root maps to (the root itself, or its image under --to-dir). */
  plant?: (base: string, sandbox: string) => void;
  /** Checks a harmless restore, given where the root landed. */
  check?: (base: string, sandbox: string) => void;
}

const MODES = ['in place', '--to-dir'] as const;
// Where an escaping write would land, outside the workspace: harmless in /tmp should a
// regression let one through, yet checked after every restore.
const ESCAPE = path.join(os.tmpdir(), `lifeboat-hostile-${process.pid}`);

const cases: Case[] = [
  {
    name: 'absolute path outside the root',
    entries: () => [{ set: 'app', path: ESCAPE, data: 'pwned' }],
    inPlace: /app:\/\S+\/lifeboat-hostile-\d+ is outside the set's configured paths/,
    toDir: 'restored',
  },
  {
    name: 'the canary beside the root',
    entries: (root, sandbox) => [{ set: 'app', path: `${sandbox}/canary.txt`, data: 'pwned' }, { set: 'app', path: `${root}/fine.txt`, data: 'fine' }],
    inPlace: /canary\.txt is outside the set's configured paths/,
    toDir: 'restored',
  },
  {
    name: 'a name that starts like the root',
    entries: (root) => [{ set: 'app', path: `${root}-evil/x`, data: 'x' }],
    inPlace: /-evil\/x is outside the set's configured paths/,
    toDir: 'restored',
  },
  {
    name: '".." components',
    entries: (root) => [{ set: 'app', path: `${root}/../escaped`, data: 'x' }],
    inPlace: /\.\.\/escaped has a "\.\." component/,
    toDir: /\.\.\/escaped has a "\.\." component/,
  },
  {
    name: 'a relative path',
    entries: () => [{ set: 'app', path: 'etc/passwd', data: 'x', record: { member: 'files/app/etc/passwd' } }],
    inPlace: /app:etc\/passwd is not an absolute path/,
    toDir: /app:etc\/passwd is not an absolute path/,
  },
  {
    name: 'a NUL byte',
    entries: (root) => [{ set: 'app', path: `${root}/a\0/../../x`, type: 'directory' }],
    inPlace: /contains a NUL byte/,
    toDir: /contains a NUL byte/,
  },
  {
    name: 'a link restored first, then written through',
    entries: (root, sandbox) => [
      { set: 'app', path: `${root}/fine.txt`, data: 'fine' },
      { set: 'app', path: `${root}/etc`, type: 'symlink', linkTarget: '/' },
      { set: 'app', path: `${root}/etc${ESCAPE}`, data: 'pwned' },
      { set: 'app', path: `${root}/up`, type: 'symlink', linkTarget: sandbox },
      { set: 'app', path: `${root}/up/canary.txt`, data: 'pwned' },
    ],
    inPlace: /lifeboat-hostile-\d+ lies under \S+\/etc, which this restore creates as a symlink.*up\/canary\.txt lies under/,
    toDir: /lifeboat-hostile-\d+ lies under \S+\/etc, which this restore creates as a symlink/,
  },
  {
    name: 'links pointing outside, restored as links',
    entries: (root) => [
      { set: 'app', path: `${root}/passwd`, type: 'symlink', linkTarget: '/etc/passwd' },
      { set: 'app', path: `${root}/up`, type: 'symlink', linkTarget: '../../../..' },
    ],
    inPlace: 'restored',
    toDir: 'restored',
    check: (base) => {
      assert.equal(readlinkSync(`${base}/passwd`), '/etc/passwd');
      assert.equal(readlinkSync(`${base}/up`), '../../../..');
    },
  },
  {
    name: 'a file over a link planted on this system',
    entries: (root) => [{ set: 'app', path: `${root}/planted`, data: 'restored' }],
    plant: (base, sandbox) => symlinkSync(`${sandbox}/canary.txt`, `${base}/planted`),
    inPlace: 'restored',
    toDir: 'restored',
    check: (base) => {
      assert.equal(lstatSync(`${base}/planted`).isFile(), true, 'the link is replaced, not written through');
      assert.equal(readFileSync(`${base}/planted`, 'utf8'), 'restored');
    },
  },
  {
    name: 'a file under a directory link planted on this system',
    entries: (root) => [{ set: 'app', path: `${root}/pdir/evil`, data: 'pwned' }],
    plant: (base, sandbox) => symlinkSync(sandbox, `${base}/pdir`),
    inPlace: /pdir\/evil lies under \S+\/pdir, a symlink on this system/,
    toDir: /pdir\/evil lies under \S+\/pdir, a symlink on this system/,
  },
  {
    name: 'a directory entry replacing a planted link, then a file in it',
    entries: (root) => [{ set: 'app', path: `${root}/pdir`, type: 'directory' }, { set: 'app', path: `${root}/pdir/inside`, data: 'inside' }],
    plant: (base, sandbox) => symlinkSync(sandbox, `${base}/pdir`),
    inPlace: 'restored',
    toDir: 'restored',
    check: (base) => {
      assert.equal(lstatSync(`${base}/pdir`).isDirectory(), true);
      assert.equal(readFileSync(`${base}/pdir/inside`, 'utf8'), 'inside');
    },
  },
  {
    name: 'a hard link in the manifest',
    entries: (root, sandbox) => [{ set: 'app', path: `${root}/hl`, type: 'hardlink', linkTarget: `${sandbox}/canary.txt` }],
    inPlace: /hl is a hardlink entry: only files, directories and symlinks are restored/,
    toDir: /hl is a hardlink entry/,
  },
  {
    name: 'a hard link in the tar where the manifest lists a file',
    entries: (root, sandbox) => [{ set: 'app', path: `${root}/hl`, data: '', tarType: '1', tarLink: `${sandbox}/canary.txt`.slice(1) }],
    inPlace: /hl is a link entry where the manifest lists a file/,
    toDir: /hl is a link entry where the manifest lists a file/,
  },
  {
    name: 'device files and FIFOs in the manifest',
    entries: (root) => [
      { set: 'app', path: `${root}/null`, type: 'character-device' },
      { set: 'app', path: `${root}/fifo`, type: 'fifo' },
    ],
    inPlace: /null is a character-device entry.*fifo is a fifo entry/,
    toDir: /null is a character-device entry.*fifo is a fifo entry/,
  },
  {
    name: 'a device in the tar where the manifest lists a file',
    entries: (root) => [{ set: 'app', path: `${root}/dev`, data: '', tarType: '3' }],
    inPlace: /dev is a character-device entry where the manifest lists a file/,
    toDir: /dev is a character-device entry where the manifest lists a file/,
  },
  {
    name: 'a FIFO in the tar where the manifest lists a file',
    entries: (root) => [{ set: 'app', path: `${root}/fifo`, data: '', tarType: '6' }],
    inPlace: /fifo is a fifo entry where the manifest lists a file/,
    toDir: /fifo is a fifo entry where the manifest lists a file/,
  },
  {
    name: 'a huge declared size, its member holding little',
    entries: (root) => [{ set: 'app', path: `${root}/big`, data: 'small', record: { size: 2 ** 50 } }],
    inPlace: /big declares 1125899906842624 bytes .* but its member holds 5 bytes/,
    toDir: /big declares 1125899906842624 bytes/,
  },
  {
    name: 'a huge declared size, file and member alike',
    entries: (root) => [{ set: 'app', path: `${root}/big`, data: 'small', record: { size: 2 ** 50 }, memberRecord: { size: 2 ** 50 } }],
    inPlace: /file space: not enough free space: 1024\.0 TB|file space: not enough free space/,
    toDir: /file space: not enough free space/,
  },
  {
    name: 'one path twice with different contents',
    entries: (root) => [{ set: 'app', path: `${root}/dup`, data: 'one' }, { set: 'other', path: `${root}/dup`, data: 'two' }],
    inPlace: /other:\S+\/dup is listed twice with different contents/,
    toDir: /other:\S+\/dup is listed twice with different contents/,
  },
  {
    name: 'one path twice, the same',
    entries: (root) => [{ set: 'app', path: `${root}/dup`, data: 'same' }, { set: 'app', path: `${root}/dup`, data: 'same' }, { set: 'overlap', path: `${root}/dup`, data: 'same' }],
    inPlace: 'restored',
    toDir: 'restored',
    check: (base) => assert.equal(readFileSync(`${base}/dup`, 'utf8'), 'same'),
  },
  {
    name: 'a set the config no longer names',
    entries: (root, sandbox) => [{ set: 'gone', path: `${root}/kept`, data: 'kept' }, { set: '__proto__', path: `${sandbox}/canary.txt`, data: 'pwned' }],
    inPlace: /__proto__:\S+\/canary\.txt is outside the set's configured paths/,
    toDir: 'restored',
  },
  {
    name: 'a file whose data is another member',
    entries: (root) => [{ set: 'app', path: `${root}/a`, data: 'a' }, { set: 'app', path: `${root}/b`, data: 'b', record: { member: `files/app${root}/a` } }],
    inPlace: /b names its data files\/app\S+\/a, which the manifest does not list for it/,
    toDir: /b names its data/,
  },
];

/** Every entry under `dir` (not followed), with its type, mode, size, times, link and content hash. */
function snapshot(dir: string, skip: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (skip.includes(p)) return;
    const s = lstatSync(p);
    const kind = s.isSymbolicLink() ? `link ${readlinkSync(p)}` : s.isDirectory() ? 'dir' : s.isFile() ? `file ${createHash('sha256').update(readFileSync(p)).digest('hex')}` : 'other';
    out[p] = `${kind} ${s.mode} ${s.size} ${s.mtimeMs} ${s.uid}`;
    if (s.isDirectory()) for (const c of readdirSync(p).sort()) walk(path.join(p, c));
  };
  walk(dir);
  return out;
}

describe('hostile bundles', () => {
  let ws: Workspace;
  let loaded: LoadedConfig;
  let catalog: Catalog;
  let sandbox: string;
  const ids = new Map<string, string>();
  const keys = new Map<string, string>();
  /** Forged bundles `catalog rebuild` refused for a malformed manifest, with its message. */
  const refusedAtRebuild = new Map<string, string>();
  const rootOf = (i: number) => path.join(sandbox, `root${i}`);

  before(async () => {
    ws = workspace();
    sandbox = path.join(ws.dir, 'sandbox');
    mkdirSync(sandbox);
    mkdirSync(path.join(ws.dir, 'out'));
    writeFileSync(path.join(sandbox, 'canary.txt'), 'canary\n');
    let yaml = `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n`;
    for (const [i, c] of cases.entries()) {
      mkdirSync(rootOf(i));
      writeFileSync(path.join(rootOf(i), 'keep.txt'), 'keep\n');
      yaml += `  h${i}:\n    files: { app: [${rootOf(i)}] }\n    storage: local\n`;
      // One bundle per mode: a refused corrupt copy is marked failed, and the next restore would say only that.
      for (const [m, mode] of MODES.entries()) {
        const { id, key } = await forgeBundle(ws.storage, `h${i}`, new Date(Date.UTC(2026, 0, 2, 3, 4, m)), c.entries(rootOf(i), sandbox), { signWith: ws.home });
        ids.set(`${mode} ${i}`, id);
        keys.set(id, key);
      }
    }
    ws.writeConfig(yaml);
    loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    catalog = Catalog.open(loaded.home);
    const rebuilt = await rebuildCatalog(loaded, catalog);
    // The manifest schema turns some away before any restore can see them (a type that is not
    // file, directory or symlink; a member or path with NUL or ".."); the rest are listed like
    // any other backup, and the restore's own checks must refuse them.
    for (const u of rebuilt.unreadable) {
      assert.match(u.error, /malformed manifest: field files\[\d+\]\.\w+/, u.key);
      const id = [...keys].find(([, key]) => u.error.startsWith(key))?.[0];
      assert.ok(id, u.key);
      refusedAtRebuild.set(id, u.error);
    }
    assert.equal(rebuilt.added.length + refusedAtRebuild.size, cases.length * MODES.length, 'each forged bundle is listed, or refused by name');
  });

  after(() => {
    rmSync(ESCAPE, { recursive: true, force: true });
    catalog?.close();
    ws?.remove();
  });

  for (const mode of MODES) {
    for (const [i, c] of cases.entries()) {
      test(`${mode}: ${c.name}`, async () => {
        const root = rootOf(i);
        const toDir = mode === '--to-dir' ? path.join(ws.dir, 'out', String(i)) : undefined;
        // Where the root lands: itself in place, its image under the --to-dir.
        const base = toDir ? toDir + root : root;
        const target = toDir ?? root;
        if (toDir) mkdirSync(toDir);
        if (c.plant) {
          mkdirSync(base, { recursive: true });
          c.plant(base, sandbox);
        }
        const beforeAll = snapshot(ws.dir, [ws.storage, ws.home]);
        const beforeOutside = snapshot(ws.dir, [ws.storage, ws.home, target]);
        const listing = readdirSync(path.dirname(target)).sort();
        const id = ids.get(`${mode} ${i}`)!;
        const expected = refusedAtRebuild.has(id) ? /no backup/ : toDir ? c.toDir : c.inPlace;
        const run = runRestore(loaded, catalog, id, { toDir, yes: true });
        if (expected === 'restored') {
          await run;
          c.check?.(base, sandbox);
        } else {
          await assert.rejects(run, (err: LifeboatError) => {
            assert.match(err.message.replace(/\n/g, ' '), expected);
            return true;
          });
          assert.deepEqual(snapshot(ws.dir, [ws.storage, ws.home]), beforeAll, 'a refused restore writes nothing at all');
        }
        assert.deepEqual(snapshot(ws.dir, [ws.storage, ws.home, target]), beforeOutside, 'nothing outside the restore\'s directory changed');
        assert.deepEqual(readdirSync(path.dirname(target)).sort(), listing, 'the parent directory lists the same entries');
        assert.equal(readFileSync(path.join(sandbox, 'canary.txt'), 'utf8'), 'canary\n');
        assert.equal(existsSync(ESCAPE), false);
      });
    }
  }

  test('a target the config no longer names: refused in place, restored under --to-dir', async () => {
    const file = path.join(sandbox, 'root0', 'orphan');
    const { id } = await forgeBundle(ws.storage, 'gone', new Date('2026-01-03T00:00:00Z'), [{ set: 'app', path: file, data: 'orphan' }], { signWith: ws.home });
    await rebuildCatalog(loaded, catalog);
    await assert.rejects(runRestore(loaded, catalog, id, { yes: true }), /orphan cannot go back in place: target "gone" is not in \S+lifeboat\.yaml/);
    assert.equal(existsSync(file), false);
    const out = path.join(ws.dir, 'out', 'gone');
    await runRestore(loaded, catalog, id, { toDir: out, yes: true });
    assert.equal(readFileSync(out + file, 'utf8'), 'orphan');
  });

  test('--to-dir / is refused: it would be an in-place restore without its checks', async () => {
    await assert.rejects(runRestore(loaded, catalog, ids.get('--to-dir 0')!, { toDir: '/', yes: true }), /--to-dir \/ would write every file at its original path/);
    assert.equal(existsSync(ESCAPE), false);
  });

  test('sealed to the target\'s public age recipient, a link-then-write chain is refused all the same', async () => {
    const identity = await generateIdentity();
    writeFileSync(path.join(ws.dir, 'key.txt'), identity + '\n');
    const recipient = await identityToRecipient(identity);
    const root = path.join(sandbox, 'sealed');
    mkdirSync(root);
    const yaml = readFileSync(ws.config, 'utf8') + `  sealed:\n    files: { app: [${root}] }\n    storage: local\n    encryption: { recipients: [${recipient}], identityFile: ${ws.dir}/key.txt }\n`;
    ws.writeConfig(yaml);
    const sealed = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
    const { id, key } = await forgeBundle(ws.storage, 'sealed', new Date('2026-01-04T00:00:00Z'), [
      { set: 'app', path: `${root}/etc`, type: 'symlink', linkTarget: '/' },
      { set: 'app', path: `${root}/etc${ESCAPE}`, data: 'pwned' },
    ], { recipients: [recipient], signWith: ws.home });
    assert.match(key, /\.tar\.zst\.age$/);
    await rebuildCatalog(sealed, catalog);
    const before = snapshot(ws.dir, [ws.storage, ws.home]);
    await assert.rejects(runRestore(sealed, catalog, id, { yes: true }), /lifeboat-hostile-\d+ lies under \S+\/sealed\/etc, which this restore creates as a symlink/);
    assert.deepEqual(snapshot(ws.dir, [ws.storage, ws.home]), before);
    assert.equal(existsSync(ESCAPE), false);
  });

  test('the CLI refuses in the plan, naming the entry, and --dry-run shows it', async () => {
    const i = cases.findIndex((c) => c.name === 'a link restored first, then written through');
    const id = ids.get(`in place ${i}`)!;
    const r = await ws.cli(['restore', id, '--yes']);
    assert.ok(REFUSED_EXIT.has(r.code!), `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /restore refused: file paths: refused 2 entries .*lifeboat-hostile-\d+ lies under .*\/etc, which this restore creates as a symlink: a restore never writes through a link/);
    const dry = await ws.cli(['restore', id, '--dry-run']);
    assert.match(dry.stdout, /FAIL +file paths: refused 2 entries/);
    assert.equal(existsSync(path.join(rootOf(i), 'fine.txt')), false);
  });
});

describe('file roots', () => {
  test('a safety backup (set "pre-restore", named by no config) goes back in place, inside the target\'s paths', async () => {
    const ws = workspace();
    try {
      const app = path.join(ws.dir, 'app');
      mkdirSync(app);
      writeFileSync(path.join(app, '.env'), 'A=backed-up\n');
      ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { config: [${app}] }\n    storage: local\n    verification: { quickAfterEachBackup: false }\n`);
      const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
      const catalog = Catalog.open(loaded.home);
      try {
        const backup = await runBackup(loaded, catalog, 'app');
        writeFileSync(path.join(app, '.env'), 'A=changed-since\n');
        const { report } = await runRestore(loaded, catalog, backup.id, { yes: true });
        assert.equal(readFileSync(path.join(app, '.env'), 'utf8'), 'A=backed-up\n');
        const undo = await runRestore(loaded, catalog, report!.safetyBackupId!, { yes: true, dryRun: true });
        const paths = undo.plan.checks.find((c) => c.name === 'file paths')!;
        assert.equal(paths.ok, true, paths.detail);
        assert.match(paths.detail, /set pre-restore is no longer configured, so its entries may go inside any configured path of the target/);
        await runRestore(loaded, catalog, report!.safetyBackupId!, { yes: true });
        assert.equal(readFileSync(path.join(app, '.env'), 'utf8'), 'A=changed-since\n', 'the restore is undone');
        // Once the set's path moves, the old backup's files are outside it: refused, with the way out.
        ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    files: { config: [${ws.dir}/elsewhere] }\n    storage: local\n`);
        const moved = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
        await assert.rejects(runRestore(moved, catalog, backup.id, { yes: true }), /\.env is outside the set's configured paths \(\S+\/elsewhere\).*--to-dir <dir> restores them under that directory instead/);
        assert.equal(readFileSync(path.join(app, '.env'), 'utf8'), 'A=changed-since\n');
      } finally {
        catalog.close();
      }
    } finally {
      ws.remove();
    }
  });
});

describe('profile file sets', () => {
  test('n8n\'s config file goes back in place on a server that lacks it; nothing else of its set does', async () => {
    const ws = workspace();
    try {
      const home = path.join(ws.dir, 'n8n-home');
      mkdirSync(home);
      ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  flows:\n    profile: n8n\n    n8n: { userFolder: ${home} }\n    files: { other: [${ws.dir}/other] }\n    storage: local\n`);
      const loaded = loadConfig(ws.config, { ...process.env, LIFEBOAT_HOME: ws.home });
      const catalog = Catalog.open(loaded.home);
      try {
        const config = path.join(home, '.n8n', 'config');
        const key = '{"encryptionKey":"k"}';
        const good = await forgeBundle(ws.storage, 'flows', new Date('2026-01-05T00:00:00Z'), [{ set: 'n8n-config', path: config, data: key }], { signWith: ws.home });
        const bad = await forgeBundle(ws.storage, 'flows', new Date('2026-01-05T00:00:01Z'), [{ set: 'n8n-config', path: path.join(home, '.bashrc'), data: 'pwned' }], { signWith: ws.home });
        await rebuildCatalog(loaded, catalog);
        await assert.rejects(runRestore(loaded, catalog, bad.id, { yes: true }), /\.bashrc is outside the set's configured paths \(\S+\/\.n8n\/config\)/);
        await runRestore(loaded, catalog, good.id, { yes: true });
        assert.equal(readFileSync(config, 'utf8'), key);
        assert.deepEqual(readdirSync(home), ['.n8n']);
      } finally {
        catalog.close();
      }
    } finally {
      ws.remove();
    }
  });
});

describe('writing restored files', () => {
  test('a link that appears on the way after the plan is not written through', async () => {
    const ws = workspace();
    try {
      const sandbox = path.join(ws.dir, 'sandbox');
      const root = path.join(sandbox, 'root');
      mkdirSync(root, { recursive: true });
      const staged = path.join(ws.dir, 'staged');
      writeFileSync(staged, 'pwned');
      symlinkSync(sandbox, path.join(root, 'etc'));
      const record: FileRecord = { set: 'app', path: `${root}/etc/evil`, member: `files/app${root}/etc/evil`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 5, mtime: new Date().toISOString() };
      const planned = { set: 'app', path: record.path, destination: record.path, trusted: sandbox, type: 'file' as const, action: 'create' as const, size: 5 };
      await assert.rejects(placeFile(record, staged, planned), /refused to write \S+\/etc\/evil: \S+\/root\/etc is a symlink, and a restore never writes through a link/);
      assert.deepEqual(readdirSync(sandbox), ['root']);
      // A link where the file goes is replaced by the file, never written through.
      symlinkSync(path.join(sandbox, 'target'), path.join(root, 'f'));
      const f = { ...record, path: `${root}/f`, member: `files/app${root}/f` };
      await placeFile(f, staged, { ...planned, path: f.path, destination: f.path });
      assert.equal(lstatSync(path.join(root, 'f')).isFile(), true);
      assert.equal(existsSync(path.join(sandbox, 'target')), false);
      // A device or FIFO entry is never created, even if a plan let it through.
      await assert.rejects(placeFile({ ...record, type: 'fifo' as FileRecord['type'], path: `${root}/p` }, undefined, { ...planned, destination: `${root}/p` }), /a fifo entry is never created/);
      assert.equal(existsSync(path.join(root, 'p')), false);
    } finally {
      ws.remove();
    }
  });
});
