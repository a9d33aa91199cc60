import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestDocker } from './docker.ts';

const run = promisify(execFile);

const PODMAN = ['/usr/bin/podman', '/usr/local/bin/podman'];

/**
 * Why a Podman API service cannot run here, or undefined when it can. The Podman tests skip with
 * this message, and only then. The service runs rootful (like the Docker tests' dockerd): the
 * rootless one needs subuids and a user session this machine's test runs do not have.
 */
export function podmanUnavailable(): string | undefined {
  if (!PODMAN.some((p) => existsSync(p))) return 'podman not found: install Debian\'s podman (apt-get install -y podman; .ci/run does)';
  if (process.getuid?.() !== 0) return 'the test Podman service runs as root: run the Podman tests as root (CI does)';
  if (!existsSync('/usr/local/bin/docker') && !existsSync('/usr/bin/docker')) return 'the docker CLI is missing (the tests drive Podman through it): apt-get install -y docker.io';
  return undefined;
}

/**
 * Podman's settings for one test file, all under `dir`: its own storage, state, locks and
 * events, so nothing is shared with a Podman on this host (the default `shm` locks are one
 * segment for every rootful Podman, and a fresh state frees them all). cgroupfs and file events:
 * no systemd here. Containers run with `--network host`, as under the Docker harness; the
 * host's network is never changed.
 */
function writeConfig(dir: string, driver: 'overlay' | 'vfs'): NodeJS.ProcessEnv {
  const containers = path.join(dir, 'containers.conf');
  mkdirSync(path.join(dir, 'no-cni-plugins'));
  const storage = path.join(dir, 'storage.conf');
  writeFileSync(containers, [
    '[containers]',
    'netns = "host"',
    'log_driver = "k8s-file"',
    // Podman as root gives every container 1048576 open files and processes, more than this
    // machine lets it raise to (runc: "error setting rlimit type 7: operation not permitted").
    `default_ulimits = [${(['nofile', 'nproc'] as const).map((n) => `"${n}=${limit(n)}"`).join(', ')}]`,
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${dir}/events.log"`,
    'lock_type = "file"',
    `tmp_dir = "${dir}/tmp"`,
    `static_dir = "${dir}/root/libpod"`,
    `volume_path = "${dir}/root/volumes"`,
    '[network]',
    'network_backend = "cni"',
    `network_config_dir = "${dir}/net"`,
    // No plugins: a container started on Podman's default bridge fails instead of adding a
    // bridge and iptables rules to this machine (the docker CLI's "default" network is that bridge).
    `cni_plugin_dirs = ["${dir}/no-cni-plugins"]`,
    '',
  ].join('\n'));
  writeFileSync(storage, `[storage]\ndriver = "${driver}"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n`);
  return { ...process.env, CONTAINERS_CONF: containers, CONTAINERS_STORAGE_CONF: storage };
}

/**
 * The open files or processes a container may have under the service: its hard limit, which
 * it inherits from this process (for processes, lowered to pid_max: containers/common does
 * that at start). Raising a hard limit is refused here even to root.
 */
function limit(name: 'nofile' | 'nproc'): string {
  const label = name === 'nofile' ? 'Max open files' : 'Max processes';
  const hard = new RegExp(`^${label}\\s+\\S+\\s+(\\d+)`, 'm').exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  let max = hard === undefined ? 1048576 : Number(hard);
  if (name === 'nproc') max = Math.min(max, Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')));
  return `${max}:${max}`;
}

/**
 * A private Podman engine for one test file, driven like startTestDocker's dockerd: `podman
 * system service` on a socket in a temp dir, answering the Docker Engine API there, so the
 * docker CLI (and with it importImage, postgresImage and runPostgres) and Lifeboat talk to it
 * through DOCKER_HOST. Overlay storage, else vfs where this machine's file system cannot carry
 * overlay. stop() removes every container and volume, stops the service and deletes its data.
 */
export async function startTestPodman(): Promise<TestDocker & { driver: 'overlay' | 'vfs' }> {
  const why = podmanUnavailable();
  if (why) throw new Error(why);
  try {
    return await startService('overlay');
  } catch (err) {
    // c/storage: "'overlay' is not supported over <fs>", "kernel does not support overlay fs".
    if (!/overlay'? is not supported|does not support overlay/i.test((err as Error).message)) throw err;
    return await startService('vfs');
  }
}

async function startService(driver: 'overlay' | 'vfs'): Promise<TestDocker & { driver: 'overlay' | 'vfs' }> {
  const podman = PODMAN.find((p) => existsSync(p))!;
  // Short path: a unix socket's path must stay under 108 bytes.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbpm-'));
  const socket = path.join(dir, 'podman.sock');
  const host = `unix://${socket}`;
  const env = writeConfig(dir, driver);
  // --time=0: the service would otherwise exit after 5 s without a client.
  const child: ChildProcess = spawn(podman, ['system', 'service', '--time=0', host], { env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-8000);
  });
  const docker: TestDocker['docker'] = async (args, options = {}) => {
    if (args[0] === 'commit') return commit(socket, args.slice(1));
    const p = run('docker', args, { env: { ...process.env, DOCKER_HOST: host }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 });
    if (options.input !== undefined) p.child.stdin!.end(options.input);
    try {
      return (await p).stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`docker ${args.join(' ')} (Podman): ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  };
  const stop = async () => {
    // conmon keeps a container running after the service ends: remove them all first.
    try {
      const ids = (await docker(['ps', '-aq'])).split('\n').filter(Boolean);
      if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
      await docker(['volume', 'prune', '-f']);
    } catch {
      // The service may already be gone; its data dir is removed below either way.
    }
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // conmon keeps each exec session's exit code for 5 minutes (exit_command_delay), then runs
    // `podman container cleanup` on this dir: end this service's ones now, before the dir goes.
    for (const pid of processesUsing(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Layers or a container's root left mounted would make rm fail with EBUSY: unmount first.
    await run('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`podman system service exited (${child.exitCode}) with the ${driver} storage driver: ${log}`);
    }
    try {
      await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 });
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`podman system service did not answer within 60 s: ${log}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return { host, socket, docker, stop, driver };
}

/** The pids of processes whose command line names a path under `dir` (the service's conmons). */
function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(pid);
    } catch {
      // Ended while listed.
    }
  }
  return pids;
}

/**
 * `docker commit [--change C]... CONTAINER TAG` through the compat API's POST /commit. Podman
 * 4.3 refuses that call without a JSON body (`Decode(): EOF`, containers/podman#26261), and the
 * docker CLI sends none; postgresImage() commits its image, so the harness sends the same call
 * with `{}` as the body. Resolves the image id, as the CLI prints it.
 */
async function commit(socket: string, args: string[]): Promise<string> {
  const changes: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--change' || args[i] === '-c') changes.push(args[++i]!);
    else rest.push(args[i]!);
  }
  const [container, image] = rest;
  if (!container || rest.length > 2 || rest.some((a) => a.startsWith('-'))) throw new Error(`docker commit ${args.join(' ')} (Podman): only --change CONTAINER [TAG] is supported`);
  const query = new URLSearchParams({ container });
  if (image) {
    const at = image.lastIndexOf(':');
    const tagged = at > image.lastIndexOf('/');
    query.set('repo', tagged ? image.slice(0, at) : image);
    query.set('tag', tagged ? image.slice(at + 1) : 'latest');
  }
  for (const c of changes) query.append('changes', c);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ socketPath: socket, method: 'POST', path: `/v1.41/commit?${query}`, headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end('{}');
  });
  if (status !== 201) throw new Error(`docker commit ${args.join(' ')} (Podman): HTTP ${status}: ${body.trim()}`);
  return `${(JSON.parse(body) as { Id: string }).Id}\n`;
}
