import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { waitForPort } from './net.ts';

export interface TestSshd {
  port: number;
  /** The folder served as the storage root (owned by the test's user). */
  root: string;
  /** Options for a `type: sftp` storage on this server, host key pinned. */
  storage: Record<string, unknown>;
  /** The server's key fingerprint, SHA256:... */
  fingerprint: string;
  /** A known_hosts line for the server. */
  knownHostsLine: string;
  stop(): Promise<void>;
}

const SSHD = ['/usr/sbin/sshd', '/usr/local/sbin/sshd'];

/**
 * A real OpenSSH server on 127.0.0.1, in a temp dir with its own host key and a client key
 * authorised for the current user. Runs as the current user where that is not root (sshd then
 * serves only that user); as root it needs /run/sshd, which it creates. `config` adds lines to
 * its sshd_config (e.g. `SetEnv PATH=...` for a remote that lacks a tool).
 */
export async function startTestSshd(options: { config?: string[] } = {}): Promise<TestSshd> {
  const sshd = SSHD.find((p) => {
    try {
      return readFileSync(p).length > 0;
    } catch {
      return false;
    }
  });
  if (!sshd) throw new Error('sshd not found: install openssh-server (apt-get install -y openssh-server)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-sshd-'));
  const keygen = (file: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lifeboat-test', '-f', file]);
  keygen(path.join(dir, 'host_key'));
  keygen(path.join(dir, 'client_key'));
  writeFileSync(path.join(dir, 'authorized_keys'), readFileSync(path.join(dir, 'client_key.pub')));
  const fingerprint = execFileSync('ssh-keygen', ['-lf', path.join(dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
  const port = await freePort();
  const user = os.userInfo().username;
  writeFileSync(path.join(dir, 'sshd_config'), [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${path.join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${user}`,
    'Subsystem sftp internal-sftp',
    'LogLevel ERROR',
    ...(options.config ?? []),
  ].join('\n') + '\n');
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const root = path.join(dir, 'remote');
  mkdirSync(root);
  const child: ChildProcess = spawn(sshd, ['-D', '-e', '-f', path.join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port, 'sshd');
  } catch (err) {
    child.kill();
    throw new Error(`${(err as Error).message}: ${stderr}`, { cause: err });
  }
  const hostPub = readFileSync(path.join(dir, 'host_key.pub'), 'utf8').split(' ');
  return {
    port,
    root,
    fingerprint,
    knownHostsLine: `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}`,
    storage: { type: 'sftp', host: '127.0.0.1', port, username: user, privateKey: path.join(dir, 'client_key'), hostKey: fingerprint, path: root },
    async stop() {
      child.kill();
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
