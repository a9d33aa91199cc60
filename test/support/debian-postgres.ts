import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { cachedFile, cacheKey, cachePath } from './image-cache.ts';

const run = promisify(execFile);

/**
 * PostgreSQL majors this machine does not have, taken from a Debian release that packages them
 * (no registry and no apt.postgresql.org are reachable from the test machines; deb.debian.org is).
 */
export const DEBIAN_POSTGRES: Record<number, string> = { 17: 'trixie' };
// Not for Lifeboat's own image (Dockerfile, FROM node:24-bookworm-slim): trixie's
// postgresql-client-17 needs libc6 >= 2.38, libssl3t64 and libreadline8t64, which bookworm does
// not have (libc6 2.36), so installing it there drags in half of trixie. The clean route to a
// second major without PGDG is the whole runtime on trixie (node:24-trixie-slim, PGDG=false,
// PG_MAJORS=17), which then has 17 only: Debian ships one major per release.

/** The command that makes the cache ahead of the tests (.ci/run runs it). */
export const PREPARE_COMMAND = 'npm run test:prepare';

const MIRROR = process.env.LIFEBOAT_TEST_DEBIAN_MIRROR || 'http://deb.debian.org/debian';

/**
 * mmdebstrap's arguments for a root file system with PostgreSQL `major`'s server and client tools
 * and nothing to start them: the `essential` variant (no apt, no init) plus the packages, no
 * recommends, no documentation, manuals or translations, no package lists left behind, and no
 * cluster made by the package (the entrypoint makes its own from POSTGRES_*).
 */
function recipe(major: number, out: string): string[] {
  const suite = DEBIAN_POSTGRES[major]!;
  // Not the server's manual pages: its postinst registers psql's as an alternative and fails
  // without them. LLVM (150 MB with z3) only serves JIT: without llvmjit.so the server runs
  // with JIT unavailable, as with jit=off.
  const lib = '/usr/lib/x86_64-linux-gnu';
  const drop = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*', '/usr/share/lintian/*',
    `${lib}/libLLVM*`, `${lib}/libz3.so*`, `/usr/lib/postgresql/${major}/lib/llvmjit*`, `/usr/lib/postgresql/${major}/lib/bitcode/*`];
  return [
    '--variant=essential', '--mode=root', '--format=tar',
    `--include=postgresql-${major},postgresql-client-${major},util-linux`,
    // A tarball in the making needs no fsync per file (dpkg's default): minutes on a busy disk.
    '--dpkgopt=force-unsafe-io',
    ...drop.map((p) => `--dpkgopt=path-exclude=${p}`),
    '--dpkgopt=path-include=/usr/share/doc/*/copyright',
    '--essential-hook=mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/lifeboat.conf"',
    '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*',
    suite, out, MIRROR,
  ];
}

function key(major: number): string {
  return cacheKey(...recipe(major, ''));
}

function name(major: number): string {
  return `${DEBIAN_POSTGRES[major]}-postgresql-${major}-rootfs`;
}

/** The cached root file system's path when it is there (it is keyed by its recipe). */
export function debianRootfsCached(major: number): string | undefined {
  if (!DEBIAN_POSTGRES[major]) return undefined;
  const file = cachePath(name(major), key(major));
  return existsSync(file) ? file : undefined;
}

/**
 * The tarball of a Debian root file system with PostgreSQL `major`, made with mmdebstrap (about
 * 1-3 minutes and 40 MB of downloads from deb.debian.org) and cached for every later run.
 * Throws with what to do when it cannot be made.
 */
export async function debianRootfs(major: number): Promise<string> {
  const suite = DEBIAN_POSTGRES[major];
  if (!suite) throw new Error(`no Debian release with PostgreSQL ${major} is known here (known: ${Object.keys(DEBIAN_POSTGRES).join(', ')})`);
  const cached = debianRootfsCached(major);
  if (cached) return cached;
  if (!existsSync('/usr/bin/mmdebstrap')) throw new Error(`PostgreSQL ${major} for the container tests needs mmdebstrap: apt-get install -y mmdebstrap, then ${PREPARE_COMMAND}`);
  const { file } = await cachedFile(name(major), key(major), async (tmp) => {
    try {
      await run('mmdebstrap', ['--quiet', ...recipe(major, tmp)], { maxBuffer: 64 << 20, timeout: 15 * 60_000 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      const tail = (e.stderr ?? e.message).trim().split('\n').slice(-4).join(' | ');
      throw new Error(`mmdebstrap could not make Debian ${suite} with PostgreSQL ${major} from ${MIRROR} (${tail}); when the mirror is reachable, run ${PREPARE_COMMAND}`, { cause: err });
    }
  });
  return file;
}
