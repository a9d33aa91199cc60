import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { asLifeboatError, isAbort, LifeboatError } from '../../errors.ts';
import type { StorageConfig } from '../../config/schema.ts';
import { pidAlive } from '../../util/pid.ts';
import { checkKey, hiddenKey, tempKey, tempWriter, type StorageDriver, type StorageObject } from '../storage.ts';

type RcloneConfig = Extract<StorageConfig, { type: 'rclone' }>;

/** rclone's exit codes (rclone docs, "Exit Code"). */
const DIR_NOT_FOUND = 3;
const FILE_NOT_FOUND = 4;
const TEMPORARY = 5;

interface LsEntry {
  Path: string;
  Size: number;
  ModTime: string;
  IsDir: boolean;
}

/** An rclone failure, keeping its exit code and stderr; code 5 is rclone's own "temporary". */
class RcloneFailure extends Error {
  readonly exitCode: number | null;
  readonly transient: boolean;
  constructor(args: string[], exitCode: number | null, stderr: string) {
    const last = stderr.trim().split('\n').filter(Boolean).pop() ?? '';
    super(`rclone ${args[0]} exited with ${exitCode}: ${last.replace(/^\S+ \S+ (ERROR|NOTICE|Failed to \w+): ?/, '')}`);
    this.exitCode = exitCode;
    this.transient = exitCode === TEMPORARY;
  }
}

/**
 * Any rclone remote (Google Drive, Dropbox, OneDrive, ...) through the `rclone` binary:
 * `rcat` to a hidden temp name then `moveto`, `cat` with offset/count for ranges, `lsjson`,
 * `deletefile` and `about`. Lifeboat never reads rclone's config; rclone holds the credentials.
 */
export function rcloneDriver(name: string, config: StorageConfig): StorageDriver {
  if (config.type !== 'rclone') throw new LifeboatError('E_CONFIG', `storage "${name}" is not an rclone storage`);
  const c: RcloneConfig = config;
  const base = /[:/]$/.test(c.remote) ? c.remote : `${c.remote}/`;
  const host = hostname().replace(/[^A-Za-z0-9]/g, '');
  const remote = (key: string) => base + checkKey(key);
  const globalArgs = c.configFile ? ['--config', c.configFile] : [];

  function start(args: string[], signal?: AbortSignal) {
    const child = spawn(c.binary, [...args, ...globalArgs], { stdio: ['pipe', 'pipe', 'pipe'], signal, killSignal: 'SIGTERM' });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 64 * 1024) stderr += d.toString();
    });
    const exited = new Promise<void>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(new LifeboatError('E_CONFIG', `storage "${name}": the rclone binary "${c.binary}" was not found`, { hint: 'install rclone (apt-get install rclone) or set binary: in lifeboat.yaml' }));
        } else reject(err);
      });
      child.once('close', (code) => (code === 0 ? resolve() : reject(new RcloneFailure(args, code, stderr))));
    });
    exited.catch(() => {});
    return { child, exited };
  }

  async function run(args: string[], signal?: AbortSignal): Promise<string> {
    const { child, exited } = start(args, signal);
    child.stdin.end();
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await exited;
    return out;
  }

  async function put(key: string, body: Readable, options: { signal?: AbortSignal } = {}) {
    const tmp = tempKey(key, host);
    let started = false;
    try {
      options.signal?.throwIfAborted();
      if (await stat(key)) throw new LifeboatError('E_STORAGE_WRITE', `storage "${name}" already holds ${key}; refusing to replace it`);
      let size = 0;
      body.on('data', (chunk: Buffer) => (size += chunk.length));
      const upload = start(['rcat', remote(tmp)], options.signal);
      started = true;
      try {
        await Promise.all([pipeline(body, upload.child.stdin, { signal: options.signal }), upload.exited]);
      } catch (err) {
        // rcat must not finish on the end of its input and publish a partial temp after we delete it.
        upload.child.kill('SIGKILL');
        await upload.exited.catch(() => {});
        throw err;
      }
      await run(['moveto', remote(tmp), remote(key)], options.signal);
      started = false;
      return { size };
    } catch (err) {
      body.destroy();
      if (started) await run(['deletefile', remote(tmp)]).catch(() => {});
      if (options.signal?.aborted) throw asLifeboatError(options.signal.reason ?? err);
      throw rcloneError(err, name, key, 'write');
    }
  }

  async function get(key: string, options: { start?: number; end?: number; signal?: AbortSignal } = {}) {
    if (!(await stat(key))) throw new LifeboatError('E_STORAGE_NOT_FOUND', `storage "${name}" has no ${key}`);
    const args = ['cat', remote(key)];
    if (options.start !== undefined) args.push('--offset', String(options.start));
    if (options.end !== undefined) args.push('--count', String(options.end - (options.start ?? 0) + 1));
    const { child, exited } = start(args, options.signal);
    child.stdin.end();
    exited.catch((err: unknown) => child.stdout.destroy(rcloneError(err, name, key, 'read')));
    return child.stdout;
  }

  async function stat(key: string): Promise<StorageObject | undefined> {
    try {
      const entry = JSON.parse(await run(['lsjson', '--stat', remote(key)])) as LsEntry;
      return entry.IsDir ? undefined : { key, size: entry.Size, modified: new Date(entry.ModTime) };
    } catch (err) {
      if (err instanceof RcloneFailure && (err.exitCode === DIR_NOT_FOUND || err.exitCode === FILE_NOT_FOUND)) return undefined;
      throw rcloneError(err, name, key, 'read');
    }
  }

  /** Every file under the folder part of `prefix`, hidden ones included. */
  async function listAll(prefix: string): Promise<StorageObject[]> {
    const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    let entries: LsEntry[];
    try {
      entries = JSON.parse(await run(['lsjson', '-R', '--files-only', dir ? remote(dir) : base])) as LsEntry[];
    } catch (err) {
      if (err instanceof RcloneFailure && err.exitCode === DIR_NOT_FOUND) return [];
      throw rcloneError(err, name, prefix, 'read');
    }
    return entries
      .map((e) => ({ key: dir ? `${dir}/${e.Path}` : e.Path, size: e.Size, modified: new Date(e.ModTime) }))
      .filter((o) => o.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  async function* list(prefix: string): AsyncIterable<StorageObject> {
    for (const obj of await listAll(prefix)) if (!hiddenKey(obj.key)) yield obj;
  }

  async function remove(key: string) {
    try {
      await run(['deletefile', remote(key)]);
    } catch (err) {
      const gone = err instanceof RcloneFailure && (err.exitCode === DIR_NOT_FOUND || err.exitCode === FILE_NOT_FOUND || /doesn't exist|not found/.test(err.message));
      if (!gone) throw rcloneError(err, name, key, 'write');
    }
  }

  async function space() {
    try {
      const about = JSON.parse(await run(['about', '--json', base])) as { total?: number; free?: number };
      return about.total !== undefined && about.free !== undefined ? { free: about.free, total: about.total } : undefined;
    } catch {
      // Remotes without `about` (many object stores) cannot tell; `quota:` fills in.
      return undefined;
    }
  }

  async function sweep() {
    let removed = 0;
    for (const obj of await listAll('')) {
      const writer = tempWriter(obj.key.split('/').pop()!);
      if (!writer || writer.host !== host || pidAlive(writer.pid)) continue;
      await remove(obj.key);
      removed++;
    }
    return removed;
  }

  return { name, type: 'rclone', put, get, stat, list, delete: remove, space, sweep, close: async () => {} };
}

function rcloneError(err: unknown, storage: string, key: string, op: 'read' | 'write'): LifeboatError {
  if (err instanceof LifeboatError) return err;
  if (isAbort(err)) return asLifeboatError(err);
  const message = (err as Error).message;
  if (/didn't find section in config file|config file not found|unknown backend/i.test(message)) {
    return new LifeboatError('E_CONFIG', `storage "${storage}": rclone does not know that remote: ${message}`, { cause: err, hint: 'check remote: in lifeboat.yaml against `rclone listremotes` (and configFile:)' });
  }
  if (/permission denied|access denied|forbidden|401|403/i.test(message)) {
    return new LifeboatError('E_STORAGE_AUTH', `storage "${storage}": ${op === 'read' ? 'reading' : 'writing'} ${key} was refused: ${message}`, { cause: err, hint: 'check the remote\'s credentials with `rclone about <remote>:` and the folder\'s permissions' });
  }
  if (/quota|no space left|storage full|insufficient/i.test(message)) {
    return new LifeboatError('E_NO_SPACE', `storage "${storage}" is out of space writing ${key}: ${message}`, { cause: err, hint: 'free space on the remote or prune old backups' });
  }
  return new LifeboatError(op === 'read' ? 'E_STORAGE_READ' : 'E_STORAGE_WRITE', `storage "${storage}": cannot ${op} ${key}: ${message}`, { cause: err });
}
