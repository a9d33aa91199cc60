import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { SFTPWrapper } from 'ssh2';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { writePipelined } from '../storage/drivers/sftp.ts';
import { judgeHostKey, type HostKeyVerdict } from '../storage/host-key.ts';

/** The server a remote restore goes to, from `ssh://user@host[:port]`. */
export interface RemoteHost {
  user: string;
  host: string;
  port: number;
  /** `ssh://user@host:port`, for messages, the history and the audit log (it holds no secret). */
  display: string;
}

/** How to log in and how to trust the server's key. */
export interface SshLogin {
  /** A private key file; default: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa, and the ssh-agent. */
  key?: string;
  /** The key file's passphrase (LIFEBOAT_SSH_PASSPHRASE). */
  passphrase?: string;
  /** Default ~/.ssh/known_hosts. */
  knownHosts?: string;
  /** A pinned fingerprint, `SHA256:...`, checked instead of known_hosts. */
  hostKey?: string;
  timeoutMs?: number;
}

/** What a remote command printed and how it ended. */
export interface ExecResult {
  /** The exit status; null when a signal ended it or the connection dropped. */
  code: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
}

/** The line each remote command starts its stderr with: its pid. */
const PID_TAG = 'lifeboat-remote-pid ';

/** Single-quotes a word for the remote POSIX shell. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Parses `ssh://user@host[:port]`; a password in it is refused (it would sit in shell history). */
export function parseRemote(raw: string): RemoteHost {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LifeboatError('E_USAGE', `--remote ${raw.replace(/:[^:@/]*@/, ':***@')} is not an ssh:// URL`, { hint: 'e.g. --remote ssh://root@new-host or ssh://admin@10.0.0.5:2222' });
  }
  if (url.protocol !== 'ssh:') throw new LifeboatError('E_USAGE', `--remote takes an ssh:// URL, not ${url.protocol}`, { hint: 'e.g. --remote ssh://root@new-host' });
  if (url.password) throw new LifeboatError('E_USAGE', '--remote must not hold a password', { hint: 'log in with a key: --ssh-key FILE, or a key in ssh-agent' });
  if (!url.username || !url.hostname) throw new LifeboatError('E_USAGE', `--remote ${raw} needs a user and a host: ssh://user@host[:port]`);
  if (url.pathname && url.pathname !== '/') throw new LifeboatError('E_USAGE', '--remote takes no path: the work directory is set by --remote-dir');
  const port = url.port ? Number(url.port) : 22;
  const user = decodeURIComponent(url.username);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { user, host, port, display: `ssh://${user}@${url.hostname}${port === 22 ? '' : `:${port}`}` };
}

/**
 * One SSH connection to the restore's server: commands (exec) and SFTP over it. The host key is
 * checked as the SFTP storage checks it (storage/host-key.ts) before anything is sent.
 */
export class SshSession {
  readonly remote: RemoteHost;
  readonly #conn: ssh2.Client;
  #sftp: Promise<SFTPWrapper> | undefined;
  /** How the key was trusted, for the job's log. */
  readonly trustedBy: string;

  private constructor(remote: RemoteHost, conn: ssh2.Client, trustedBy: string) {
    this.remote = remote;
    this.#conn = conn;
    this.trustedBy = trustedBy;
  }

  static async open(remote: RemoteHost, login: SshLogin): Promise<SshSession> {
    const privateKey = readKey(login.key);
    const agent = process.env.SSH_AUTH_SOCK;
    if (!privateKey && !agent) {
      throw new LifeboatError('E_USAGE', `no SSH key to log in to ${remote.display} with`, { hint: 'pass --ssh-key FILE, or add a key to ssh-agent (SSH_AUTH_SOCK)' });
    }
    let verdict: HostKeyVerdict | undefined;
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      conn.once('ready', resolve);
      conn.once('error', reject);
      conn.connect({
        host: remote.host, port: remote.port, username: remote.user, privateKey, passphrase: login.passphrase, agent,
        readyTimeout: login.timeoutMs ?? 20_000, keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => {
          verdict = judgeHostKey({ host: remote.host, port: remote.port, hostKey: login.hostKey, knownHosts: login.knownHosts }, key);
          return verdict.kind === 'trusted';
        },
      });
    }).catch((err: unknown) => {
      conn.end();
      if (verdict && verdict.kind !== 'trusted') throw hostKeyRefusal(remote, verdict);
      throw connectError(err, remote);
    });
    conn.setNoDelay(true);
    conn.on('error', () => {});
    return new SshSession(remote, conn, login.hostKey ? 'the pinned fingerprint' : (login.knownHosts ?? '~/.ssh/known_hosts'));
  }

  /**
   * Runs `command` in the login shell. `stdin` is written and closed (a secret travels there,
   * never in the command line, which `ps` shows); output is handed on as it comes. An abort
   * kills the command's process group on the remote (sshd makes each command a session leader;
   * closing the channel alone leaves it running) and rejects at once.
   */
  exec(command: string, options: { stdin?: string; onStdout?: (text: string) => void; onStderr?: (text: string) => void; signal?: AbortSignal } = {}): Promise<ExecResult> {
    options.signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      // The first stderr line names the process, for the abort: `exec` keeps that pid.
      this.#conn.exec(`printf '${PID_TAG}%s\\n' "$$" >&2; ${command}`, (err, stream) => {
        if (err) return reject(new LifeboatError('E_RESTORE_FAILED', `${this.remote.display} refused to run a command: ${err.message}`, { cause: err }));
        let stdout = '';
        let stderr = '';
        let head = '';
        let pid: number | undefined;
        let code: number | null = null;
        let signal: string | undefined;
        let settled = false;
        const onAbort = () => {
          settled = true;
          stream.close();
          // Waited for (a few seconds at most): the caller closes the connection next.
          const kill = pid ? this.exec(`kill -TERM -- -${pid} 2>/dev/null || kill -TERM ${pid}`).catch(() => undefined) : undefined;
          void Promise.race([kill, new Promise((r) => setTimeout(r, 5000).unref())]).then(() => reject(asLifeboatError(options.signal!.reason)));
        };
        options.signal?.addEventListener('abort', onAbort, { once: true });
        const onErr = (text: string) => {
          stderr += text;
          options.onStderr?.(text);
        };
        stream.on('data', (d: Buffer) => {
          const text = d.toString();
          stdout += text;
          options.onStdout?.(text);
        });
        stream.stderr.on('data', (d: Buffer) => {
          if (pid !== undefined) return onErr(d.toString());
          head += d.toString();
          const nl = head.indexOf('\n');
          if (nl < 0) return;
          const tag = head.slice(0, nl);
          pid = tag.startsWith(PID_TAG) ? Number(tag.slice(PID_TAG.length)) : 0;
          const rest = pid ? head.slice(nl + 1) : head;
          head = '';
          if (rest) onErr(rest);
        });
        stream.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? undefined;
        });
        stream.on('close', () => {
          options.signal?.removeEventListener('abort', onAbort);
          if (head) onErr(head);
          if (!settled) resolve({ code, signal, stdout, stderr });
        });
        stream.end(options.stdin ?? '');
      });
    });
  }

  /** Runs `command` and fails with its stderr unless it exits 0. */
  async run(command: string, what: string, signal?: AbortSignal): Promise<string> {
    const r = await this.exec(command, { signal });
    if (r.code !== 0) {
      throw new LifeboatError('E_RESTORE_FAILED', `${what} failed on ${this.remote.display} (${r.code === null ? `signal ${r.signal ?? 'unknown'}` : `exit ${r.code}`}): ${r.stderr.trim().split('\n').slice(-3).join('; ') || 'no message'}`);
    }
    return r.stdout;
  }

  /** Writes `body` to a new file at `file` (refused if it exists); resolves with the bytes written. */
  async upload(body: Readable, file: string, options: { signal?: AbortSignal; onWritten?: (bytes: number) => void } = {}): Promise<number> {
    const sftp = await this.#sftpChannel();
    const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
      new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
    const handle = await call<Buffer>((cb) => sftp.open(file, 'wx', cb)).catch((err: unknown) => {
      throw new LifeboatError('E_RESTORE_FAILED', `cannot create ${file} on ${this.remote.display}: ${(err as Error).message}`, { cause: err });
    });
    try {
      const written = await writePipelined(sftp, handle, body, options.signal, options.onWritten);
      await call<void>((cb) => sftp.ext_openssh_fsync(handle, (err) => cb(err, undefined))).catch(() => {
        // A server without fsync@openssh.com: tar reads the file back at once anyway.
      });
      return written;
    } catch (err) {
      body.destroy();
      throw err;
    } finally {
      await call<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => {});
    }
  }

  close(): void {
    this.#conn.end();
  }

  #sftpChannel(): Promise<SFTPWrapper> {
    this.#sftp ??= new Promise<SFTPWrapper>((resolve, reject) => this.#conn.sftp((err, s) => (err ? reject(err) : resolve(s)))).catch((err: unknown) => {
      this.#sftp = undefined;
      throw new LifeboatError('E_RESTORE_FAILED', `${this.remote.display} has no SFTP subsystem: ${(err as Error).message}`, {
        cause: err, hint: 'enable it in /etc/ssh/sshd_config: Subsystem sftp internal-sftp',
      });
    });
    return this.#sftp;
  }
}

/** The key file named, else the first default key present; undefined leaves the agent alone. */
function readKey(file: string | undefined): Buffer | undefined {
  if (file) {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new LifeboatError('E_USAGE', `cannot read the SSH key ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    try {
      return readFileSync(path.join(homedir(), '.ssh', name));
    } catch {
      // Not there: the next one, then the agent.
    }
  }
  return undefined;
}

/** An untrusted host key, worded for the restore's options (--host-key, --known-hosts). */
function hostKeyRefusal(remote: RemoteHost, v: Exclude<HostKeyVerdict, { kind: 'trusted' }>): LifeboatError {
  const scan = `ssh-keyscan${remote.port === 22 ? '' : ` -p ${remote.port}`} ${remote.host}`;
  switch (v.kind) {
    case 'pin-mismatch':
      return new LifeboatError('E_RESTORE_CHECK', `the host key of ${v.hostId} is ${v.seen}, not the pinned ${v.pinned}: nothing was sent`, {
        hint: `someone may be intercepting the connection; if the server was reinstalled, check its new key (${scan} | ssh-keygen -lf -) and pass it with --host-key`,
      });
    case 'revoked':
      return new LifeboatError('E_RESTORE_CHECK', `the host key of ${v.hostId} is marked revoked in ${v.file}: nothing was sent`);
    case 'mismatch':
      return new LifeboatError('E_RESTORE_CHECK', `HOST KEY MISMATCH for ${v.hostId}: it offered ${v.seen}, which ${v.file} does not list for it; nothing was sent`, {
        hint: 'someone may be intercepting the connection; if the server was reinstalled, remove its old line (ssh-keygen -R) and check the new key',
      });
    case 'unknown':
      return new LifeboatError('E_RESTORE_CHECK', `${v.hostId} is not a known host (its key is ${v.seen}): nothing was sent`, {
        hint: `check that fingerprint on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then pass --host-key ${v.seen}, or add the host to ${v.file} (${scan} >> ${v.file})`,
      });
  }
}

function connectError(err: unknown, remote: RemoteHost): LifeboatError {
  const e = err as Error & { level?: string; code?: string };
  const where = remote.display;
  if (e.level === 'client-authentication') {
    return new LifeboatError('E_RESTORE_FAILED', `${where} refused the login (wrong key, or the key is not in ${remote.user}'s authorized_keys there)`, { cause: err, hint: 'pass the right key with --ssh-key FILE, or add it to ssh-agent' });
  }
  if (e.level === 'client-timeout') return new LifeboatError('E_RESTORE_FAILED', `${where} did not answer in time`, { cause: err, hint: 'check the host, the port and the firewall' });
  if (['ENOTFOUND', 'ECONNREFUSED', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET'].includes(e.code ?? '')) {
    return new LifeboatError('E_RESTORE_FAILED', `cannot reach ${where} (${e.code})`, { cause: err, hint: 'check the host, the port and that sshd runs there' });
  }
  if (/passphrase/i.test(e.message)) return new LifeboatError('E_USAGE', `the SSH key is encrypted: ${e.message}`, { cause: err, hint: 'set LIFEBOAT_SSH_PASSPHRASE, or use ssh-agent' });
  return new LifeboatError('E_RESTORE_FAILED', `cannot connect to ${where}: ${e.message}`, { cause: err });
}
