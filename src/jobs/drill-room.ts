// The drill's clean room: what a person does on a bare machine, with the tools a bare machine
// has. Every command runs with an empty environment (`env -i`): PATH holds the system's
// directories and the PostgreSQL client tools' only, never Lifeboat's or Node's.
import { execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { decrypt, type DecryptionKeys } from '../bundle/codec.ts';
import { LifeboatError } from '../errors.ts';
import { spawnGuarded } from '../util/process-group.ts';

const run = promisify(execFile);

/** The system's tool directories: what PATH holds on a fresh Debian, Ubuntu, RHEL or Alpine. */
export const SYSTEM_PATH = '/usr/bin:/bin';

/** What a command run in the room printed, and how it ended. */
export interface RoomRun {
  code: number | null;
  stderr: string;
}

/**
 * Runs `bin args` in its own process group with only `env` for an environment; `onLine` hears
 * each line of stdout (stderr is kept, and handed to `onLine` too when `stderrLines`). An abort
 * kills the whole group (a restore.sh and its pg_restore workers).
 */
export async function runInRoom(
  bin: string,
  args: string[],
  env: Record<string, string>,
  o: { signal: AbortSignal; stdin?: Readable; onLine?: (line: string, stream: 'stdout' | 'stderr') => void },
): Promise<RoomRun> {
  o.signal.throwIfAborted();
  const child = spawnGuarded(bin, args, { env, stdio: [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const kill = () => killGroup(child);
  o.signal.addEventListener('abort', kill, { once: true });
  let stderr = '';
  const lines = (stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        if (name === 'stderr') stderr = (stderr + line + '\n').slice(-64 * 1024);
        o.onLine?.(line, name);
      });
      rl.on('close', resolve);
    });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  const feeding = o.stdin ? pipeline(o.stdin, child.stdin!).catch((err: unknown) => err) : Promise.resolve(undefined);
  try {
    const [code, fed] = await Promise.all([exited, feeding, lines(child.stdout!, 'stdout'), lines(child.stderr!, 'stderr')]);
    o.signal.throwIfAborted();
    // What was fed failing (a damaged payload) matters more than the tool's complaint about it.
    if (fed instanceof Error && (fed as NodeJS.ErrnoException).code !== 'EPIPE') throw fed;
    return { code, stderr };
  } catch (err) {
    kill();
    if (o.signal.aborted) throw new LifeboatError('E_ABORTED', 'the drill was cancelled');
    throw err;
  } finally {
    o.signal.removeEventListener('abort', kill);
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** The decompressor command for a bundle's file name: `zstd -dc`, `gzip -dc`, or none. */
export function decompressCommand(name: string): string | undefined {
  const base = name.replace(/\.age$/, '');
  if (base.endsWith('.tar.zst')) return 'zstd -dc';
  if (base.endsWith('.tar.gz')) return 'gzip -dc';
  return undefined;
}

/**
 * Decrypts and unpacks the fetched bundle into `dir` (empty): `age -d -i IDENTITY` when the
 * target names an identity file and the age CLI is installed, else Lifeboat's own age reader
 * (a passphrase cannot be given to the CLI without a terminal); then the decompressor's CLI and
 * `tar -x`, as the bundle's README.txt says. Returns the tools it used.
 */
export async function unpackBundle(file: string, dir: string, keys: DecryptionKeys & { identityFile?: string }, signal: AbortSignal): Promise<{ tools: string[] }> {
  const name = path.basename(file);
  const encrypted = name.endsWith('.age');
  const decompress = decompressCommand(name);
  const tools = ['tar', ...(decompress ? [decompress.split(' ')[0]!] : [])];
  for (const t of tools) await requireTool(t);
  const unpack = `${decompress ? `${decompress} | ` : ''}tar -x -f - -C "$1"`;
  const env = { PATH: SYSTEM_PATH };
  let r: RoomRun;
  if (encrypted && keys.identityFile && (await which('age'))) {
    tools.push('age');
    r = await runInRoom('/bin/bash', ['-c', `set -o pipefail; age -d -i "$2" "$3" | ${unpack}`, 'unpack', dir, keys.identityFile, file], env, { signal });
  } else {
    const { createReadStream } = await import('node:fs');
    const stored = createReadStream(file, { highWaterMark: 1 << 20 });
    const stdin = encrypted ? await decrypt(stored, keys) : stored;
    r = await runInRoom('/bin/bash', ['-c', `set -o pipefail; ${unpack}`, 'unpack', dir], env, { signal, stdin });
  }
  if (r.code !== 0) throw new LifeboatError('E_BUNDLE_CORRUPT', `the bundle does not unpack with ${tools.join(', ')}: ${lastLine(r.stderr) || `exit status ${r.code}`}`);
  if (!existsSync(path.join(dir, 'restore.sh'))) throw new LifeboatError('E_BUNDLE_CORRUPT', 'the unpacked bundle holds no restore.sh');
  return { tools };
}

export const lastLine = (s: string) => s.trim().split('\n').at(-1) ?? '';

/** The full path of `tool` on the room's PATH, or undefined. */
export async function which(tool: string, dirs = SYSTEM_PATH): Promise<string | undefined> {
  for (const d of dirs.split(':')) if (existsSync(path.join(d, tool))) return path.join(d, tool);
  return undefined;
}

async function requireTool(tool: string): Promise<void> {
  if (await which(tool)) return;
  throw new LifeboatError('E_PG_TOOL', `${tool} is not installed (not in ${SYSTEM_PATH}): a bare-metal restore needs it to unpack the bundle`, {
    hint: `install it (Debian/Ubuntu and RHEL/Fedora: the package "${tool}"), as the new server will need it too`,
  });
}

/** The first line of `tool --version` for each tool found (bash, tar, zstd, age, psql...). */
export async function toolVersions(tools: { name: string; bin: string }[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(tools.map(async (t) => {
    try {
      const { stdout, stderr } = await run(t.bin, [t.name === 'zstd' ? '-V' : '--version'], { timeout: 10_000, env: { PATH: SYSTEM_PATH } });
      // zstd frames its banner in asterisks and signs it: the version is what matters.
      out[t.name] = ((stdout || stderr).trim().split('\n')[0] ?? '').replace(/^\*+\s*|\s*\*+$/g, '').replace(/, by [^,]*$/, '').slice(0, 200);
    } catch {
      out[t.name] = 'unknown';
    }
  }));
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}
