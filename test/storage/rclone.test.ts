import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { plantTempIn, putError, storageContract } from './contract.ts';
import { openStorage } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';

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
  return {
    open: (extra = {}) => openStorage('vault', storageSchema.parse({ type: 'rclone', remote: `vault:${root}`, configFile, ...extra })),
    residue: async () => readdirSync(root, { recursive: true }).map(String).filter((f) => path.basename(f).startsWith('.')),
    plantTemp: plantTempIn(root),
    reportsSpace: true,
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

describe('rclone: bad input gets a clear error', () => {
  const attempt = (options: Record<string, unknown>) => putError('vault', { type: 'rclone', retry: { attempts: 1, delayMs: 0 }, ...options });

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
