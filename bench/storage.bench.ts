// Storage throughput: Lifeboat's drivers against the standard tools on the same servers, as ratios.
//
//   npm run bench:storage                  # a 1 GB bundle-sized file
//   BENCH_SIZE_MB=200 npm run bench:storage
//
// The S3 server (s3rver), sshd and the rclone remote are the test suite's loopback peers. Needs
// GNU time (/usr/bin/time) for peak RSS, and rclone and OpenSSH's sftp client as the peers.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestS3 } from '../test/support/s3.ts';
import { startTestSshd } from '../test/support/sshd.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, 'bench', 'out', 'storage');
const sizeMb = Number(process.env.BENCH_SIZE_MB ?? 1000);

interface Run { name: string; seconds: number; peakRssMb: number }

/** Best of two runs, each after `sync` so one run's dirty pages do not slow the next. */
function measure(name: string, argv: string[], env: NodeJS.ProcessEnv = {}): Run {
  const runs = [once(name, argv, env), once(name, argv, env)];
  return runs[0]!.seconds <= runs[1]!.seconds ? runs[0]! : runs[1]!;
}

function once(name: string, argv: string[], env: NodeJS.ProcessEnv): Run {
  execFileSync('sync');
  const timeFile = path.join(out, 'time.txt');
  const started = process.hrtime.bigint();
  // rclone's S3 backend refuses a CA bundle given by AWS_CA_BUNDLE for plain-HTTP endpoints.
  const inherited = { ...process.env };
  delete inherited.AWS_CA_BUNDLE;
  const r = spawnSync('/usr/bin/time', ['-o', timeFile, '-f', '%M', '--', ...argv], { env: { ...inherited, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr.toString().slice(-2000)}`);
  const peak = Number(execFileSync('tail', ['-1', timeFile], { encoding: 'utf8' }).trim());
  return { name, seconds, peakRssMb: peak / 1024 };
}

async function main(): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // A bundle is compressed (and often encrypted): random bytes are what it looks like to storage.
  const file = path.join(out, 'bundle.bin');
  execFileSync('sh', ['-c', `head -c ${sizeMb * 1_000_000} /dev/urandom > ${file}`]);
  const back = path.join(out, 'back.bin');
  const op = (what: 'put' | 'get', options: object, key: string) => [process.execPath, path.join(root, 'bench', 'storage-op.ts'), what, JSON.stringify(options), key, what === 'put' ? file : back];

  const [s3, sshd] = await Promise.all([startTestS3(), startTestSshd()]);
  try {
    // The default part size (16MB), not the tests' 5MiB.
    const s3opts = { ...(await s3.storage('bench')), partSize: '16MB' };
    const rcloneConf = path.join(out, 'rclone.conf');
    writeFileSync(rcloneConf, [
      '[vault]', 'type = local', '',
      '[s3peer]', 'type = s3', 'provider = Other', 'access_key_id = S3RVER', 'secret_access_key = S3RVER', `endpoint = ${s3.endpoint}`, 'force_path_style = true', 'chunk_size = 16M', '',
    ].join('\n'));
    // --ignore-times: a second run must transfer again, not skip the file it finds already there.
    const rclone = (...args: string[]) => ['rclone', '--config', rcloneConf, '--ignore-times', ...args];
    const sftpBatch = (cmd: string) => {
      const batch = path.join(out, 'sftp.batch');
      writeFileSync(batch, cmd + '\n');
      return ['sftp', '-q', '-b', batch, '-P', String(sshd.port), '-i', String(sshd.storage.privateKey), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', `${String(sshd.storage.username)}@127.0.0.1`];
    };
    const localDir = path.join(out, 'local');
    const rcloneDir = path.join(out, 'rclone');
    mkdirSync(localDir);
    mkdirSync(rcloneDir);

    const pairs: [string, Run, Run][] = [];
    const pair = (label: string, peer: Run, ours: Run) => {
      pairs.push([label, peer, ours]);
      process.stderr.write(`${label}: peer ${peer.seconds.toFixed(1)}s, lifeboat ${ours.seconds.toFixed(1)}s\n`);
    };
    // Lifeboat's local put fsyncs before publishing: the peer is cp then sync of that file.
    pair('local put', measure('cp + sync', ['sh', '-c', `cp ${file} ${path.join(localDir, 'peer.bin')} && sync ${path.join(localDir, 'peer.bin')}`]), measure('lifeboat local', op('put', { type: 'local', path: localDir }, 'ours.bin')));
    pair('local get', measure('cp', ['cp', path.join(localDir, 'peer.bin'), back]), measure('lifeboat local', op('get', { type: 'local', path: localDir }, 'ours.bin')));
    pair('s3 put', measure('rclone copyto (s3)', rclone('copyto', file, 's3peer:bench/peer.bin')), measure('lifeboat s3', op('put', s3opts, 'ours.bin')));
    pair('s3 get', measure('rclone copyto (s3)', rclone('copyto', 's3peer:bench/peer.bin', back)), measure('lifeboat s3', op('get', s3opts, 'ours.bin')));
    pair('sftp put', measure('OpenSSH sftp', sftpBatch(`put ${file} ${sshd.root}/peer.bin`)), measure('lifeboat sftp', op('put', sshd.storage, 'ours.bin')));
    pair('sftp get', measure('OpenSSH sftp', sftpBatch(`get ${sshd.root}/peer.bin ${back}`)), measure('lifeboat sftp', op('get', sshd.storage, 'ours.bin')));
    pair('rclone put', measure('rclone copyto', rclone('copyto', file, `vault:${rcloneDir}/peer.bin`)), measure('lifeboat rclone', op('put', { type: 'rclone', remote: `vault:${rcloneDir}`, configFile: rcloneConf }, 'ours.bin')));
    pair('rclone get', measure('rclone copyto', rclone('copyto', `vault:${rcloneDir}/peer.bin`, back)), measure('lifeboat rclone', op('get', { type: 'rclone', remote: `vault:${rcloneDir}`, configFile: rcloneConf }, 'ours.bin')));

    const mbps = (r: Run) => (sizeMb / r.seconds).toFixed(0);
    const rows = pairs.map(([label, peer, ours]) => [label, peer.name, `${mbps(peer)} MB/s`, `${mbps(ours)} MB/s`, `${(ours.seconds / peer.seconds).toFixed(2)}x`, `${ours.peakRssMb.toFixed(0)} MB`]);
    const header = ['operation', 'peer', 'peer', 'lifeboat', 'time vs peer', 'lifeboat peak RSS'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    console.log(`${sizeMb} MB, 2 loopback servers:`);
    console.log([header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
    writeFileSync(path.join(root, 'bench', 'out', `storage-${sizeMb}MB.json`), JSON.stringify({ date: new Date().toISOString(), sizeMb, pairs }, null, 2));
  } finally {
    await Promise.all([s3.stop(), sshd.stop()]);
    rmSync(out, { recursive: true, force: true });
  }
}

await main();
