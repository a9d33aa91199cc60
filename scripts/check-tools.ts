// Checks, before the tests run, that the system tools they need are here, and says how to get
// any that is missing. .ci/run installs them; on a developer machine this names the package.
import { execFileSync } from 'node:child_process';
import { serverBinariesFound } from '../test/support/postgres.ts';
import { chromiumPath } from '../test/support/browser.ts';

const missing: string[] = [];
const has = (cmd: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
if (!process.env.TEST_DATABASE_URL && !serverBinariesFound()) missing.push('PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set TEST_DATABASE_URL');
if (!has('pg_dump')) missing.push('pg_dump, pg_restore, psql: apt-get install postgresql-client');
if (!has('age')) missing.push('age (to prove bundles open with the standard CLI): apt-get install age');
if (!has('shellcheck')) missing.push('shellcheck (the test of restore.sh runs it on the script bundles carry): apt-get install shellcheck');
if (!has('zstd')) missing.push('zstd (to prove bundles open with the standard CLI): apt-get install zstd');
if (!has('/usr/sbin/sshd') || !has('ssh-keygen')) missing.push('sshd and ssh-keygen (the SFTP storage tests run a real sshd on loopback): apt-get install openssh-server');
if (!has('rclone')) missing.push('rclone (the rclone storage tests use a local-filesystem remote): apt-get install rclone');
if (!has('openssl')) missing.push('openssl (the HTTPS test of lifeboat serve makes a self-signed certificate): apt-get install openssl');
if (!chromiumPath()) missing.push('chromium (the web UI tests drive a real browser; playwright-core cannot download one offline): apt-get install chromium, or set CHROMIUM_PATH');
// The container lane (npm run test:containers, --containers here): Docker cannot run without
// root here, so its tests skip then; as root a missing engine is a gap.
const containers = process.argv.includes('--containers');
if (containers && process.getuid?.() === 0 && !has('/usr/sbin/dockerd')) missing.push('dockerd (the container tests start a private Docker engine): apt-get install docker.io');
if (containers && process.getuid?.() === 0 && !has('podman')) missing.push('podman (the Podman test drives its Docker-compatible socket): apt-get install podman');
if (process.getuid?.() === 0 && !has('runuser')) missing.push('runuser (to run PostgreSQL as the postgres user): apt-get install util-linux');
if (missing.length) {
  console.error('The tests need tools that are not installed:\n' + missing.map((m) => `  - ${m}`).join('\n') + '\n`bash .ci/run` installs all of them on Debian/Ubuntu (as root).');
  process.exit(2);
}
