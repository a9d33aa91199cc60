import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { plantTempIn, putError, storageContract } from './contract.ts';
import { startTestSshd, type TestSshd } from '../support/sshd.ts';
import { openStorage } from '../../src/storage/storage.ts';
import { storageSchema } from '../../src/config/schema.ts';
import { freePort } from '../../src/postgres/scratch-cluster.ts';

storageContract('sftp (OpenSSH sshd)', async () => {
  const sshd = await startTestSshd();
  return {
    open: (extra = {}) => openStorage('sftp', storageSchema.parse({ ...sshd.storage, ...extra })),
    residue: async () => readdirSync(sshd.root, { recursive: true }).map(String).filter((f) => path.basename(f).startsWith('.')),
    plantTemp: plantTempIn(sshd.root),
    reportsSpace: true,
    stop: () => sshd.stop(),
  };
});

describe('sftp: host keys, logins and bad input', () => {
  let sshd: TestSshd;
  let dir: string;
  before(async () => {
    sshd = await startTestSshd();
    dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-kh-'));
  });
  after(async () => {
    await sshd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const attempt = (extra: Record<string, unknown>) => putError('box', { ...sshd.storage, retry: { attempts: 2, delayMs: 10 }, ...extra });

  it('refuses an unknown host and says how to pin its key', async () => {
    const err = await attempt({ hostKey: undefined, knownHosts: path.join(dir, 'empty') });
    assert.equal(err?.code, 'E_STORAGE_AUTH', err?.message);
    assert.match(err.message, new RegExp(`is not a known host \\(its key is ${sshd.fingerprint.replace(/[+/]/g, '\\$&')}\\)`));
    assert.match(err.hint ?? '', /hostKey: SHA256:/);
  });

  it('refuses a host key that does not match the pinned one', async () => {
    const err = await attempt({ hostKey: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' });
    assert.equal(err?.code, 'E_STORAGE_AUTH', err?.message);
    assert.match(err.message, /not the pinned SHA256:uNiV/);
  });

  it('accepts a host listed in known_hosts and refuses a changed key', async () => {
    const good = path.join(dir, 'known_hosts');
    writeFileSync(good, `# test\n${sshd.knownHostsLine}\n`);
    assert.equal(await attempt({ hostKey: undefined, knownHosts: good }), undefined);
    const other = path.join(dir, 'known_hosts_other');
    const [id, type] = sshd.knownHostsLine.split(' ');
    writeFileSync(other, `${id} ${type} AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
    const err = await attempt({ hostKey: undefined, knownHosts: other });
    assert.equal(err?.code, 'E_STORAGE_AUTH', err?.message);
    assert.match(err.message, /HOST KEY MISMATCH/);
  });

  it('names a refused login', async () => {
    const err = await attempt({ privateKey: undefined, password: 'wrong-password' });
    assert.equal(err?.code, 'E_STORAGE_AUTH', err?.message);
    assert.match(err.message, /refused the login/);
  });

  it('names an unreachable server', async () => {
    const err = await attempt({ port: await freePort() });
    assert.equal(err?.code, 'E_STORAGE_UNREACHABLE', err?.message);
    assert.match(err.message, /cannot reach .*ECONNREFUSED/);
  });

  it('names a folder it may not write', async () => {
    // sysfs refuses new entries even to root, so this holds whoever runs the tests.
    const err = await attempt({ path: '/sys/lifeboat-test' });
    assert.equal(err?.code, 'E_STORAGE_WRITE', err?.message);
    assert.match(err.message, /storage "box": permission denied on probe\//);
    assert.match(err.hint ?? '', /write access/);
  });

  it('needs a password or a key', async () => {
    await assert.rejects(openStorage('box', storageSchema.parse({ ...sshd.storage, privateKey: undefined })), /sftp needs password or privateKey/);
  });
});
