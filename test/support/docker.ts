import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestDocker {
  /** `unix:///tmp/.../docker.sock`: pass as DOCKER_HOST to Lifeboat and to the docker CLI. */
  host: string;
  /** The socket's path, for `{ socketPath }` clients and for mounting into a container. */
  socket: string;
  /** Runs the docker CLI against this engine; resolves stdout, rejects with stderr in the message. */
  docker(args: string[], options?: { input?: string; timeoutMs?: number }): Promise<string>;
  stop(): Promise<void>;
}

const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'];

/**
 * Why a Docker engine cannot run here, or undefined when it can. Tests skip with this message
 * (the only case in which a Docker test may skip): dockerd needs root for its mounts and cgroups.
 */
export function dockerUnavailable(): string | undefined {
  if (!DOCKERD.some((p) => existsSync(p))) return 'dockerd not found: install Debian\'s docker.io (apt-get install -y docker.io; .ci/run does)';
  if (process.getuid?.() !== 0) return 'dockerd needs root: run the Docker tests as root (CI does)';
  if (!existsSync('/usr/local/bin/docker') && !existsSync('/usr/bin/docker')) return 'the docker CLI is missing: apt-get install -y docker.io';
  return undefined;
}

/**
 * A private Docker engine for one test file: its own socket, data and exec roots in a temp dir,
 * and no changes to the host's network (no bridge, no iptables rules, no forwarding), so
 * containers run with `--network host` and reach the test's PostgreSQL and servers on loopback.
 * No registry is reachable: images are made locally with `docker import` (see importImage).
 * stop() removes every container, stops the engine and deletes its data.
 */
export async function startTestDocker(): Promise<TestDocker> {
  const why = dockerUnavailable();
  if (why) throw new Error(why);
  const dockerd = DOCKERD.find((p) => existsSync(p))!;
  // Short path: a unix socket's path must stay under 108 bytes.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdk-'));
  const socket = path.join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const child: ChildProcess = spawn(dockerd, [
    '--host', host,
    '--data-root', path.join(dir, 'data'),
    '--exec-root', path.join(dir, 'exec'),
    '--pidfile', path.join(dir, 'docker.pid'),
    '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none',
    '--storage-driver', 'overlay2',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  });
  const docker: TestDocker['docker'] = async (args, options = {}) => {
    const p = run('docker', args, { env: { ...process.env, DOCKER_HOST: host }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    if (options.input !== undefined) {
      p.child.stdin!.end(options.input);
    }
    try {
      return (await p).stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`docker ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dockerd exited (${child.exitCode}): ${log}`);
    try {
      await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error(`dockerd did not answer within 60 s: ${log}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    host,
    socket,
    docker,
    async stop() {
      try {
        const ids = (await docker(['ps', '-aq'])).split('\n').filter(Boolean);
        if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
      } catch {
        // The engine may already be gone; its data dir is removed below either way.
      }
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      // Overlay mounts left by a killed engine would make rm fail with EBUSY: unmount first.
      await run('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Makes image `tag` from a root file system on this machine, without a registry: `tar` of the
 * given host paths (directories or files, kept at their paths) piped into `docker import`.
 * `changes` are Dockerfile instructions applied on import (ENV, USER, ENTRYPOINT, CMD...).
 * Debian 12 merges /usr: /bin, /lib and /lib64 are symlinks, so list both them and their
 * targets (e.g. '/bin', '/lib', '/lib64', '/usr/bin', '/usr/lib/x86_64-linux-gnu', '/usr/lib64').
 */
export async function importImage(d: TestDocker, tag: string, hostPaths: string[], changes: string[] = []): Promise<void> {
  await importTar(d, tag, ['-C', '/', '--hard-dereference', ...hostPaths.map((p) => p.replace(/^\//, ''))], changes);
}

/** `tar -cf - <tarArgs>` piped into `docker import` as image `tag`, with `changes` applied. */
export async function importTar(d: TestDocker, tag: string, tarArgs: string[], changes: string[] = []): Promise<void> {
  const tar = spawn('tar', ['-cf', '-', ...tarArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const imp = spawn('docker', ['import', ...changes.flatMap((c) => ['--change', c]), '-', tag], { env: { ...process.env, DOCKER_HOST: d.host }, stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  tar.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  imp.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // An import that fails stops reading: its message (below) says why, not an EPIPE.
  imp.stdin!.on('error', () => undefined);
  imp.on('close', () => tar.kill());
  tar.stdout!.pipe(imp.stdin!);
  const [t, i] = await Promise.all([
    new Promise<number | null>((r) => tar.on('close', r)),
    new Promise<number | null>((r) => imp.on('close', r)),
  ]);
  // tar exits 1 when a file changed while read (logs, sockets): harmless for an image of system files.
  if (i !== 0 || (t !== 0 && t !== 1)) throw new Error(`docker import ${tag} failed (tar ${t}, import ${i}): ${err.trim()}`);
}
