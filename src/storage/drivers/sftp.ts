import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { asLifeboatError, isAbort, LifeboatError } from '../../errors.ts';
import type { StorageConfig } from '../../config/schema.ts';
import { pidAlive } from '../../util/pid.ts';
import { judgeHostKey } from '../host-key.ts';
export { fingerprint } from '../host-key.ts';
import { checkKey, hiddenKey, tempKey, tempWriter, type StorageDriver, type StorageObject } from '../storage.ts';

type SftpConfig = Extract<StorageConfig, { type: 'sftp' }>;

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;
/**
 * Requests kept in flight at once, and the size of each: 16 x 128 KiB keeps loopback and WAN
 * links busy (one request at a time, as ssh2's own streams do, waits a round trip per 64 KiB).
 * OpenSSH takes up to 255 KiB per request.
 */
const WINDOW = 16;
const SLICE = 128 * 1024;

/**
 * A folder on an SSH server. The server's host key is checked before anything is sent: against
 * the pinned `hostKey` fingerprint when set, otherwise against known_hosts; an unknown or changed
 * key is refused. Uploads go to a hidden temp name, are fsynced where the server offers
 * fsync@openssh.com, then renamed; SFTP's rename fails rather than replace an existing file.
 */
export function sftpDriver(name: string, config: StorageConfig): StorageDriver {
  if (config.type !== 'sftp') throw new LifeboatError('E_CONFIG', `storage "${name}" is not an sftp storage`);
  const c: SftpConfig = config;
  if (!c.password && !c.privateKey) {
    throw new LifeboatError('E_CONFIG', `storage "${name}": sftp needs password or privateKey`, { hint: 'set privateKey: /path/to/id_ed25519 (or password: ${SFTP_PASSWORD})' });
  }
  const root = c.path.replace(/\/+$/, '') || '/';
  const host = hostname().replace(/[^A-Za-z0-9]/g, '');
  const where = `${c.username}@${c.host}:${c.port}`;
  const remote = (key: string) => path.posix.join(root, checkKey(key));

  let session: Promise<{ conn: ssh2.Client; sftp: SFTPWrapper }> | undefined;

  /** One connection, opened on first use and again after it drops. */
  function connection(): Promise<SFTPWrapper> {
    session ??= connect().catch((err: unknown) => {
      session = undefined;
      throw err;
    });
    return session.then((s) => s.sftp);
  }

  async function connect() {
    let privateKey: Buffer | undefined;
    if (c.privateKey) {
      try {
        privateKey = readFileSync(c.privateKey);
      } catch (err) {
        throw new LifeboatError('E_CONFIG', `storage "${name}": cannot read privateKey ${c.privateKey}: ${(err as Error).message}`, { cause: err });
      }
    }
    let refusal: LifeboatError | undefined;
    const conn = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      conn.once('ready', resolve);
      conn.once('error', reject);
      conn.connect({
        host: c.host, port: c.port, username: c.username, password: c.password, privateKey, passphrase: c.passphrase,
        readyTimeout: c.timeoutMs, keepaliveInterval: 15_000,
        hostVerifier: (key: Buffer) => {
          refusal = checkHostKey(name, c, key);
          return refusal === undefined;
        },
      });
    }).catch((err: unknown) => {
      conn.end();
      throw refusal ?? connectError(err, name, where);
    });
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => conn.sftp((err, s) => (err ? reject(err) : resolve(s)))).catch((err: unknown) => {
      conn.end();
      throw new LifeboatError('E_STORAGE_UNREACHABLE', `storage "${name}": ${where} has no SFTP subsystem: ${(err as Error).message}`, { cause: err });
    });
    // Small requests (stat, rename) must not wait for Nagle's 40 ms.
    conn.setNoDelay(true);
    conn.on('error', () => {});
    conn.once('close', () => {
      session = undefined;
    });
    return { conn, sftp };
  }

  const call = <T>(fn: (sftp: SFTPWrapper, cb: (err: Error | null | undefined, value: T) => void) => void) =>
    connection().then((sftp) => new Promise<T>((resolve, reject) => fn(sftp, (err, value) => (err ? reject(err) : resolve(value)))));

  async function statPath(p: string): Promise<Stats | undefined> {
    try {
      return await call<Stats>((s, cb) => s.stat(p, cb));
    } catch (err) {
      if ((err as { code?: number }).code === NO_SUCH_FILE) return undefined;
      throw err;
    }
  }

  async function mkdirs(dir: string) {
    if (dir === '/' || dir === '.' || (await statPath(dir))) return;
    await mkdirs(path.posix.dirname(dir));
    try {
      await call<void>((s, cb) => s.mkdir(dir, (err) => cb(err, undefined)));
    } catch (err) {
      // Another writer may have made it meanwhile.
      if (!(await statPath(dir))) throw err;
    }
  }

  async function put(key: string, body: Readable, options: { signal?: AbortSignal } = {}) {
    const dest = remote(key);
    const tmp = remote(tempKey(key, host));
    let handle: Buffer | undefined;
    let created = false;
    // A body that waits for data would never notice the abort: end it.
    // Before the body is read (a stat, a connection first), nothing listens for its error, which
    // would then be thrown at the process: the abort is reported by the catch below instead.
    const onAbort = () => {
      body.on('error', () => {});
      body.destroy(options.signal!.reason as Error);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      options.signal?.throwIfAborted();
      await mkdirs(path.posix.dirname(dest));
      if (await statPath(dest)) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" already holds ${key}; refusing to replace it`);
      const sftp = await connection();
      handle = await call<Buffer>((s, cb) => s.open(tmp, 'wx', cb));
      created = true;
      const position = await writePipelined(sftp, handle, body, options.signal);
      options.signal?.throwIfAborted();
      await call<void>((s, cb) => s.ext_openssh_fsync(handle!, (err) => cb(err, undefined))).catch(() => {
        // Servers without fsync@openssh.com: close below still flushes to the server's disk cache.
      });
      await call<void>((s, cb) => s.close(handle!, (err) => cb(err, undefined)));
      handle = undefined;
      await call<void>((s, cb) => s.rename(tmp, dest, (err) => cb(err, undefined))).catch(async (err) => {
        if (await statPath(dest)) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" already holds ${key}; refusing to replace it`, { cause: err });
        throw err;
      });
      created = false;
      return { size: position };
    } catch (err) {
      body.destroy();
      if (handle) await call<void>((s, cb) => s.close(handle!, (e) => cb(e, undefined))).catch(() => {});
      if (created) await call<void>((s, cb) => s.unlink(tmp, (e) => cb(e, undefined))).catch(() => {});
      if (options.signal?.aborted) throw asLifeboatError(options.signal.reason ?? err);
      throw sftpError(err, name, key, 'write');
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async function get(key: string, options: { start?: number; end?: number; signal?: AbortSignal } = {}) {
    const file = remote(key);
    try {
      const found = await statPath(file);
      if (!found) throw new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${name}" has no ${key}`);
      const sftp = await connection();
      const handle = await call<Buffer>((s, cb) => s.open(file, 'r', cb));
      const stream = pipelinedReader(sftp, handle, options.start ?? 0, Math.min(options.end ?? Infinity, found.size - 1));
      // As put's body: the abort must not reach the process before the caller listens.
      options.signal?.addEventListener('abort', () => stream.on('error', () => {}).destroy(options.signal!.reason as Error), { once: true });
      return stream;
    } catch (err) {
      throw sftpError(err, name, key, 'read');
    }
  }

  async function stat(key: string): Promise<StorageObject | undefined> {
    try {
      const s = await statPath(remote(key));
      return s?.isFile() ? { key, size: s.size, modified: new Date(s.mtime * 1000) } : undefined;
    } catch (err) {
      throw sftpError(err, name, key, 'read');
    }
  }

  /** Every file under `dir` (relative key prefix `rel`), temp files included. */
  async function* walk(dir: string, rel: string): AsyncIterable<StorageObject> {
    let entries: FileEntryWithStats[];
    try {
      entries = await call<FileEntryWithStats[]>((s, cb) => s.readdir(dir, cb));
    } catch (err) {
      if ((err as { code?: number }).code === NO_SUCH_FILE) return;
      throw err;
    }
    for (const e of entries.sort((a, b) => a.filename.localeCompare(b.filename))) {
      const key = rel + e.filename;
      if (e.attrs.isDirectory()) yield* walk(`${dir}/${e.filename}`, `${key}/`);
      else if (e.attrs.isFile()) yield { key, size: e.attrs.size, modified: new Date(e.attrs.mtime * 1000) };
    }
  }

  async function* list(prefix: string): AsyncIterable<StorageObject> {
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = dirPart ? remote(dirPart) : root;
    try {
      for await (const obj of walk(start, dirPart ? `${dirPart}/` : '')) {
        if (obj.key.startsWith(prefix) && !hiddenKey(obj.key)) yield obj;
      }
    } catch (err) {
      throw sftpError(err, name, prefix, 'read');
    }
  }

  async function remove(key: string) {
    try {
      await call<void>((s, cb) => s.unlink(remote(key), (err) => cb(err, undefined)));
    } catch (err) {
      if ((err as { code?: number }).code !== NO_SUCH_FILE) throw sftpError(err, name, key, 'write');
    }
  }

  async function space() {
    try {
      const v = await call<{ f_bavail: number | bigint; f_blocks: number | bigint; f_frsize: number | bigint; f_bsize: number | bigint }>((s, cb) => s.ext_openssh_statvfs(root, cb as never));
      const unit = Number(v.f_frsize) || Number(v.f_bsize);
      return { free: Number(v.f_bavail) * unit, total: Number(v.f_blocks) * unit };
    } catch {
      // Servers without statvfs@openssh.com cannot tell; `quota:` in the config fills in.
      return undefined;
    }
  }

  async function sweep() {
    let removed = 0;
    try {
      for await (const obj of walk(root, '')) {
        const writer = tempWriter(path.posix.basename(obj.key));
        if (!writer || writer.host !== host || pidAlive(writer.pid)) continue;
        await remove(obj.key);
        removed++;
      }
    } catch (err) {
      throw sftpError(err, name, '', 'read');
    }
    return removed;
  }

  async function close() {
    const s = session;
    session = undefined;
    if (s) (await s.catch(() => undefined))?.conn.end();
  }

  return { name, type: 'sftp', put, get, stat, list, delete: remove, space, sweep, close };
}

/**
 * Writes `body` to an open file from offset 0 with WINDOW requests in flight; resolves with the
 * bytes written. `onWritten` hears of each piece the server acknowledged (a progress bar).
 */
export async function writePipelined(sftp: SFTPWrapper, handle: Buffer, body: Readable, signal?: AbortSignal, onWritten?: (bytes: number) => void): Promise<number> {
  let position = 0;
  let failure: unknown;
  const inflight: Promise<void>[] = [];
  const writeAt = (piece: Buffer, at: number) =>
    new Promise<void>((resolve, reject) => sftp.write(handle, piece, 0, piece.length, at, (err) => (err ? reject(err) : resolve())))
      .then(() => onWritten?.(piece.length))
      .catch((err: unknown) => {
        failure ??= err;
      });
  for await (const chunk of body as AsyncIterable<Buffer>) {
    signal?.throwIfAborted();
    for (let off = 0; off < chunk.length; off += SLICE) {
      const piece = chunk.subarray(off, off + SLICE);
      inflight.push(writeAt(piece, position));
      position += piece.length;
      if (inflight.length >= WINDOW) await inflight.shift();
      if (failure) throw failure;
    }
  }
  await Promise.all(inflight);
  if (failure) throw failure;
  return position;
}

/**
 * Reads bytes `start`..`end` of an open file with WINDOW requests in flight, emitted in order;
 * closes the handle when done or destroyed.
 */
function pipelinedReader(sftp: SFTPWrapper, handle: Buffer, start: number, end: number): Readable {
  let next = start;
  let closed = false;
  const inflight: Promise<Buffer>[] = [];
  const request = () => {
    const at = next;
    const length = Math.min(SLICE, end + 1 - at);
    next += length;
    const once = (from: number, n: number) =>
      new Promise<Buffer>((resolve, reject) => sftp.read(handle, Buffer.allocUnsafe(n), 0, n, from, (err, bytes, buf) => (err ? reject(err) : resolve(buf.subarray(0, bytes)))));
    // A server may answer with fewer bytes than asked: ask again for the rest.
    const p = (async () => {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < length) {
        const b = await once(at + got, length - got);
        if (b.length === 0) break;
        parts.push(b);
        got += b.length;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    })();
    p.catch(() => {});
    inflight.push(p);
  };
  const close = (cb: (err?: Error | null) => void) => {
    if (closed) return cb();
    closed = true;
    sftp.close(handle, () => cb());
  };
  return new Readable({
    highWaterMark: SLICE * 2,
    read() {
      while (inflight.length < WINDOW && next <= end) request();
      const head = inflight.shift();
      if (!head) return close(() => this.push(null));
      head.then(
        (buf) => {
          if (buf.length === 0 && next <= end) return this.destroy(new Error('the file ended early'));
          this.push(buf);
        },
        (err: Error) => this.destroy(err),
      );
    },
    destroy(err, cb) {
      close(() => cb(err));
    },
  });
}

/**
 * Checks the server's key against the pinned fingerprint, else known_hosts. Returns the error
 * to raise, or undefined when the key is trusted.
 */
function checkHostKey(storage: string, c: SftpConfig, key: Buffer): LifeboatError | undefined {
  const v = judgeHostKey(c, key);
  switch (v.kind) {
    case 'trusted':
      return undefined;
    case 'pin-mismatch':
      return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": the host key of ${v.hostId} is ${v.seen}, not the pinned ${v.pinned}`, {
        hint: 'someone may be intercepting the connection; if the server was reinstalled, check its new key (ssh-keyscan | ssh-keygen -lf -) and update hostKey:',
      });
    case 'revoked':
      return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": the host key of ${v.hostId} is marked revoked in ${v.file}`);
    case 'mismatch':
      return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": HOST KEY MISMATCH for ${v.hostId}: it offered ${v.seen}, which ${v.file} does not list for it`, {
        hint: 'someone may be intercepting the connection; if the server was reinstalled, remove its old line (ssh-keygen -R) and check the new key',
      });
    case 'unknown':
      return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": ${v.hostId} is not a known host (its key is ${v.seen})`, {
        hint: `check that fingerprint on the server (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then pin it with hostKey: ${v.seen} or add the host to ${v.file}`,
      });
  }
}

function connectError(err: unknown, storage: string, where: string): LifeboatError {
  const e = err as Error & { level?: string; code?: string };
  if (e.level === 'client-authentication') {
    return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": ${where} refused the login (wrong key or password)`, { cause: err, hint: 'check username, privateKey/passphrase or password, and the server\'s authorized_keys' });
  }
  if (e.level === 'client-timeout') {
    return new LifeboatError('E_STORAGE_UNREACHABLE', `storage "${storage}": ${where} did not answer in time`, { cause: Object.assign(err as object, { transient: true }), hint: 'check host:, port: and the firewall' });
  }
  if (e.code === 'ENOTFOUND' || e.code === 'ECONNREFUSED' || e.code === 'EHOSTUNREACH' || e.code === 'ETIMEDOUT' || e.code === 'ECONNRESET') {
    return new LifeboatError('E_STORAGE_UNREACHABLE', `storage "${storage}": cannot reach ${where} (${e.code})`, { cause: err, hint: 'check host:, port: and that sshd runs there' });
  }
  return new LifeboatError('E_STORAGE_UNREACHABLE', `storage "${storage}": cannot connect to ${where}: ${e.message}`, { cause: err });
}

function sftpError(err: unknown, storage: string, key: string, op: 'read' | 'write'): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if (isAbort(err)) return asLifeboatError(err);
  const code = (err as { code?: number | string }).code;
  if (code === NO_SUCH_FILE && op === 'read') return new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${storage}" has no ${key}`, { cause: err });
  if (code === PERMISSION_DENIED) {
    return new LifeboatError(op === 'read' ? 'E_STORAGE_READ' : 'E_STORAGE_WRITE', `storage "${storage}": permission denied on ${key || 'the storage folder'}`, {
      cause: err, hint: 'give the SSH user write access to the folder in path:',
    });
  }
  return new LifeboatError(op === 'read' ? 'E_STORAGE_READ' : 'E_STORAGE_WRITE', `storage "${storage}": cannot ${op} ${key}: ${(err as Error).message}`, { cause: err });
}
