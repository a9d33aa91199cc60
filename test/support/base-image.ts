import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importTar, type TestDocker } from './docker.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** The `FROM` images of the repository's Dockerfile, in order (a multi-stage build names one per stage). */
export function dockerfileBases(): string[] {
  const text = readFileSync(path.join(repo, 'Dockerfile'), 'utf8');
  const stages = new Set<string>();
  const bases: string[] = [];
  for (const m of text.matchAll(/^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    // A stage built FROM an earlier stage is not an image to provide.
    if (!stages.has(m[1]!.toLowerCase())) bases.push(m[1]!);
    if (m[2]) stages.add(m[2].toLowerCase());
  }
  return [...new Set(bases)];
}

interface Package {
  name: string;
  /** The dpkg status paragraph, as it stands in /var/lib/dpkg/status. */
  paragraph: string;
  depends: string[][];
  provides: string[];
  essential: boolean;
  required: boolean;
}

function field(paragraph: string, name: string): string {
  const m = new RegExp(`^${name}: ?(.*(?:\\n[ \\t].*)*)`, 'm').exec(paragraph);
  return m ? m[1]!.replace(/\n[ \t]/g, ' ') : '';
}

/** `a (>= 1) | b:any, c` -> [['a', 'b'], ['c']]: names only, alternatives in order. */
function relations(text: string): string[][] {
  if (!text.trim()) return [];
  return text.split(',').map((group) => group.split('|').map((alt) => alt.trim().split(/[\s(]/)[0]!.replace(/:\w+$/, '')));
}

function installedPackages(): Map<string, Package> {
  const out = new Map<string, Package>();
  for (const paragraph of readFileSync('/var/lib/dpkg/status', 'utf8').split(/\n\n+/)) {
    if (!/^Status: install ok installed$/m.test(paragraph)) continue;
    const name = field(paragraph, 'Package');
    out.set(name, {
      name,
      paragraph: paragraph.trim(),
      depends: [...relations(field(paragraph, 'Pre-Depends')), ...relations(field(paragraph, 'Depends'))],
      provides: relations(field(paragraph, 'Provides')).map((g) => g[0]!),
      essential: field(paragraph, 'Essential') === 'yes',
      required: field(paragraph, 'Priority') === 'required',
    });
  }
  return out;
}

/**
 * What debian:bookworm-slim holds: the Essential and required packages (apt among them) and
 * everything they depend on, resolved against what is installed on this machine.
 */
function minimalSystem(): Package[] {
  const all = installedPackages();
  const providers = new Map<string, string>();
  for (const p of all.values()) for (const v of p.provides) if (!providers.has(v)) providers.set(v, p.name);
  const chosen = new Map<string, Package>();
  const queue = [...all.values()].filter((p) => p.essential || p.required);
  while (queue.length) {
    const p = queue.pop()!;
    if (chosen.has(p.name)) continue;
    chosen.set(p.name, p);
    for (const group of p.depends) {
      const hit = group.map((n) => all.get(n) ?? all.get(providers.get(n) ?? '')).find((x) => x !== undefined);
      if (hit) queue.push(hit);
    }
  }
  return [...chosen.values()];
}

/** A package's file list (multi-arch packages name theirs `<pkg>:<arch>.list`). */
function infoFiles(pkg: string): string[] {
  const dir = '/var/lib/dpkg/info';
  return readdirSync(dir).filter((f) => f.startsWith(`${pkg}.`) || f.startsWith(`${pkg}:`)).filter((f) => {
    const stem = f.slice(0, f.lastIndexOf('.'));
    return stem === pkg || stem.startsWith(`${pkg}:`);
  }).map((f) => path.join(dir, f));
}

// Debian 12 merges /usr: dpkg lists /bin/bash, the file is /usr/bin/bash, and /bin is a symlink.
const MERGED = ['bin', 'sbin', 'lib', 'lib64'];

function canonical(p: string): string {
  const parent = path.dirname(p);
  try {
    return path.join(realpathSync(parent), path.basename(p));
  } catch {
    return p;
  }
}

/**
 * Makes `tag` (the Dockerfile's `FROM`, e.g. node:24-bookworm-slim) on a test engine without a
 * registry: a minimal Debian 12 root file system taken from this machine's own packages, with a
 * dpkg database that lists exactly those packages (so `apt-get install` inside a build resolves
 * and installs like on the real image), apt pointed at deb.debian.org, and Node 24 (the binary
 * `npm install` brought into node_modules/node) with the host's npm at /usr/local, where the
 * official node image keeps them. Like the real slim images it has no ca-certificates and no
 * PostgreSQL tools: the Dockerfile's own steps install those. About 250 MB, 10-20 s.
 */
export async function makeNodeBaseImage(d: TestDocker, tag: string): Promise<void> {
  const stage = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-base-'));
  try {
    const packages = minimalSystem();
    const members = new Set<string>();
    const add = (p: string) => {
      if (existsSync(p) || isLink(p)) members.add(canonical(p).replace(/^\//, ''));
    };
    for (const pkg of packages) {
      for (const info of infoFiles(pkg.name)) {
        add(info);
        if (info.endsWith('.list')) for (const line of readFileSync(info, 'utf8').split('\n')) if (line && line !== '/.') add(line);
      }
    }
    // The alternatives (awk -> mawk, pager...) whose choice is in the image: the links that
    // update-alternatives made (no package lists them) and its record of them.
    for (const name of readdirSync('/var/lib/dpkg/alternatives')) {
      const choice = path.join('/etc/alternatives', name);
      if (!isLink(choice) || !members.has(canonical(readlinkSync(choice)).replace(/^\//, ''))) continue;
      add(path.join('/var/lib/dpkg/alternatives', name));
      const lines = readFileSync(path.join('/var/lib/dpkg/alternatives', name), 'utf8').split('\n');
      const end = lines.indexOf('', 2);
      // Line 2 is the master link; then pairs of slave name and slave link.
      const links: [string, string][] = [[name, lines[1]!]];
      for (let i = 2; i + 1 < end; i += 2) links.push([lines[i]!, lines[i + 1]!]);
      for (const [alt, link] of links) {
        if (!isLink(path.join('/etc/alternatives', alt))) continue;
        add(path.join('/etc/alternatives', alt));
        add(link);
      }
    }

    // Files the packages' maintainer scripts made on this machine, written fresh so nothing of
    // this host (its users, its apt credentials and mirrors) reaches the image.
    const write = (rel: string, text: string, mode = 0o644) => {
      mkdirSync(path.join(stage, path.dirname(rel)), { recursive: true });
      writeFileSync(path.join(stage, rel), text, { mode });
    };
    write('var/lib/dpkg/status', `${packages.map((p) => p.paragraph).join('\n\n')}\n`);
    // Diversions (dash's /bin/sh) of the packages in the image; no ownership overrides: they
    // name groups of packages that are not here.
    const diversions = readFileSync('/var/lib/dpkg/diversions', 'utf8').split('\n');
    const chosen = new Set(packages.map((p) => p.name));
    let kept = '';
    for (let i = 0; i + 2 < diversions.length; i += 3) if (chosen.has(diversions[i + 2]!)) kept += `${diversions.slice(i, i + 3).join('\n')}\n`;
    write('var/lib/dpkg/diversions', kept);
    write('var/lib/dpkg/statoverride', '');
    // The system users base-passwd makes, and the official node image's `node` (uid 1000).
    const passwd = `${readFileSync('/usr/share/base-passwd/passwd.master', 'utf8')}node:x:1000:1000::/home/node:/bin/bash\n`;
    const group = `${readFileSync('/usr/share/base-passwd/group.master', 'utf8')}node:x:1000:\n`;
    const names = (text: string) => text.split('\n').filter(Boolean).map((l) => l.split(':')[0]!);
    write('etc/passwd', passwd);
    write('etc/group', group);
    write('etc/shadow', names(passwd).map((n) => `${n}:*:20000:0:99999:7:::\n`).join(''), 0o640);
    write('etc/gshadow', names(group).map((n) => `${n}:*::\n`).join(''), 0o640);
    mkdirSync(path.join(stage, 'home', 'node'), { recursive: true });
    chownSync(path.join(stage, 'home', 'node'), 1000, 1000);
    // What pam-auth-update, update-shells and tzdata write on a fresh Debian with only the unix
    // profile (adduser's chfn, run by packages that add users, needs the PAM stacks).
    const pam = (kind: string, lines: string[]) => write(`etc/pam.d/common-${kind}`, `${lines.join('\n')}\n`);
    pam('auth', ['auth\t[success=1 default=ignore]\tpam_unix.so nullok', 'auth\trequisite\t\t\tpam_deny.so', 'auth\trequired\t\t\tpam_permit.so']);
    pam('account', ['account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so', 'account\trequisite\t\t\tpam_deny.so', 'account\trequired\t\t\tpam_permit.so']);
    pam('password', ['password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt', 'password\trequisite\t\t\tpam_deny.so', 'password\trequired\t\t\tpam_permit.so']);
    const session = ['session\t[default=1]\t\t\tpam_permit.so', 'session\trequisite\t\t\tpam_deny.so', 'session\trequired\t\t\tpam_permit.so', 'session\trequired\tpam_unix.so'];
    pam('session', session);
    pam('session-noninteractive', session);
    write('etc/shells', ['/bin/sh', '/usr/bin/sh', '/bin/bash', '/usr/bin/bash', '/bin/rbash', '/usr/bin/rbash', '/bin/dash', '/usr/bin/dash', ''].join('\n'));
    write('etc/environment', '');
    write('etc/timezone', 'Etc/UTC\n');
    writeLink(path.join(stage, 'etc', 'localtime'), '/usr/share/zoneinfo/Etc/UTC');
    write('etc/apt/sources.list.d/debian.sources', [
      'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
      'Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n',
    ].join('\n'));
    // The staging directory becomes the image's / (mkdtemp made it owner-only).
    chmodSync(stage, 0o755);
    for (const dir of ['tmp', 'var/tmp']) {
      mkdirSync(path.join(stage, dir), { recursive: true });
      chmodSync(path.join(stage, dir), 0o1777);
    }
    for (const dir of ['root', 'run', 'proc', 'sys', 'dev', 'var/lib/apt/lists/partial', 'var/cache/apt/archives/partial', 'var/log', 'usr/local/bin', 'usr/local/lib']) mkdirSync(path.join(stage, dir), { recursive: true });
    // Node 24 and npm where the official image has them.
    cpSync(realpathSync(path.join(repo, 'node_modules', 'node', 'bin', 'node')), path.join(stage, 'usr/local/bin/node'));
    cpSync(npmRoot(), path.join(stage, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    for (const [bin, target] of [['npm', 'npm-cli.js'], ['npx', 'npx-cli.js']] as const) writeLink(path.join(stage, 'usr/local/bin', bin), `../lib/node_modules/npm/bin/${target}`);
    for (const dir of MERGED) writeLink(path.join(stage, dir), `usr/${dir}`);

    // A machine behind a TLS-inspecting proxy trusts its CA through NODE_EXTRA_CA_CERTS; a site's
    // own base images carry that trust the same way, or npm in the build cannot reach the registry.
    const trust = process.env.NODE_EXTRA_CA_CERTS;
    const changes: string[] = [];
    if (trust && existsSync(trust)) {
      write('etc/ssl/host-trust.pem', readFileSync(trust, 'utf8'));
      changes.push('ENV NODE_EXTRA_CA_CERTS=/etc/ssl/host-trust.pem');
    }
    // docker import refuses a path twice: what the stage holds is taken from the stage only.
    for (const p of walk(stage)) members.delete(p);
    const list = path.join(stage, '..', `${path.basename(stage)}.list`);
    writeFileSync(list, [...members].sort().join('\n') + '\n');
    try {
      await tarInto(d, tag, ['--no-recursion', '-C', '/', '-T', list, '--recursion', '-C', stage, '.'], [
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `ENV NODE_VERSION=${process.versions.node}`,
        'CMD ["node"]',
        ...changes,
      ]);
    } finally {
      rmSync(list, { force: true });
    }
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...walk(dir, p));
  }
  return out;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function writeLink(at: string, target: string): void {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
}

/** The npm that runs on this machine (Debian's nodejs or NodeSource's), to copy next to Node 24. */
function npmRoot(): string {
  for (const p of ['/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm', '/usr/share/nodejs/npm']) if (existsSync(path.join(p, 'bin', 'npm-cli.js'))) return p;
  throw new Error('no npm found on this machine to put in the base image (looked in /usr/lib/node_modules/npm, /usr/local/lib/node_modules/npm, /usr/share/nodejs/npm)');
}

async function tarInto(d: TestDocker, tag: string, tarArgs: string[], changes: string[]): Promise<void> {
  await importTar(d, tag, ['--numeric-owner', ...tarArgs], changes);
}
