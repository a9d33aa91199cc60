import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { storageContract } from './contract.ts';
import { openStorage, tempKey } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';
import type { LifeboatError } from '../../src/errors.ts';

/** An rclone config file naming one remote of the local-filesystem backend, and its folder. */
function rcloneRemote(): { dir: string; root: string; configFile: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-rclone-'));
  const configFile = path.join(dir, 'rclone.conf');
  writeFileSync(configFile, '[vault]\ntype = local\n');
  const root = path.join(dir, 'remote');
  mkdirSync(root);
  return { dir, root, configFile };
}

storageContract('rclone (local-filesystem remote)', async () => {
  const { dir, root, configFile } = rcloneRemote();
  const host = hostname().replace(/[^A-Za-z0-9]/g, '');
  return {
    open: (extra = {}) => openStorage('vault', storageSchema.parse({ type: 'rclone', remote: `vault:${root}`, configFile, ...extra })),
    residue: async () => readdirSync(root, { recursive: true }).map(String).filter((f) => path.basename(f).startsWith('.')),
    plantTemp: async (key, pid) => {
      const temp = tempKey(key, host).replace(/-\d+-([0-9a-f]+)$/, `-${pid}-$1`);
      mkdirSync(path.dirname(path.join(root, temp)), { recursive: true });
      writeFileSync(path.join(root, temp), 'partial');
    },
    reportsSpace: true,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('rclone: bad input gets a clear error', () => {
  const attempt = async (options: Record<string, unknown>) => {
    const driver = await openStorage('vault', storageSchema.parse({ type: 'rclone', retry: { attempts: 1, delayMs: 0 }, ...options }));
    try {
      await driver.put('probe/x.tar', Readable.from([Buffer.from('x')]));
      return undefined;
    } catch (err) {
      return err as LifeboatError;
    }
  };

  it('names a remote rclone does not know', async () => {
    const { dir, configFile } = rcloneRemote();
    try {
      const err = await attempt({ remote: 'nosuchremote:backups', configFile });
      assert.equal(err?.code, 'E_CONFIG', err?.message);
      assert.match(err.message, /rclone does not know that remote/);
      assert.match(err.hint ?? '', /rclone listremotes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing rclone binary', async () => {
    const err = await attempt({ remote: 'vault:x', binary: '/nonexistent/rclone' });
    assert.equal(err?.code, 'E_CONFIG', err?.message);
    assert.match(err.message, /rclone binary "\/nonexistent\/rclone" was not found/);
  });
});
