// `npm run test:prepare`: makes the Docker tests' cached images ahead of `npm test` (.ci/run runs
// it), so the Debian download and the image builds are not in the suite's time. The tests make
// whatever is missing themselves; this only moves the cost. Safe to run again: what is cached and
// current is kept.
import { statSync } from 'node:fs';
import { DEBIAN_POSTGRES, debianRootfs } from './debian-postgres.ts';
import { dockerUnavailable, startTestDocker } from './docker.ts';
import { cacheDir } from './image-cache.ts';
import { postgresImage } from './postgres-image.ts';

const mb = (file: string) => `${(statSync(file).size / 1e6).toFixed(0)} MB`;
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

let failed = false;
for (const major of Object.keys(DEBIAN_POSTGRES).map(Number)) {
  const t = performance.now();
  try {
    const file = await debianRootfs(major);
    console.log(`PostgreSQL ${major} root file system: ${file} (${mb(file)}, ${seconds(t)})`);
  } catch (err) {
    console.error((err as Error).message);
    failed = true;
  }
}

const why = dockerUnavailable();
if (why) {
  console.log(`images not made (${why}): the Docker tests skip here anyway`);
} else {
  const d = await startTestDocker();
  try {
    for (const major of [15, ...Object.keys(DEBIAN_POSTGRES).map(Number)]) {
      const t = performance.now();
      try {
        const image = await postgresImage(d, major);
        console.log(`${image.tag} image: cached in ${cacheDir()} (${seconds(t)})`);
      } catch (err) {
        console.error(`postgres:${major}: ${(err as Error).message}`);
        failed = true;
      }
    }
  } finally {
    await d.stop();
  }
}
process.exitCode = failed ? 1 : 0;
