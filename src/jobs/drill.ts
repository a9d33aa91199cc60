import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { keysFor } from '../bundle/codec.ts';
import type { Catalog, DrillPhases } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { startScratchCluster, type ScratchCluster } from '../postgres/scratch-cluster.ts';
import { compareRestore } from './drill-compare.ts';
import { runRestoreSh } from './drill-restore.ts';
import { lastLine, SYSTEM_PATH, toolVersions, unpackBundle, which } from './drill-room.ts';
import { readGoodCopy } from './export-stream.ts';
import { Job, type JobListener, type Trigger } from './job.ts';
import { createTempDir, removeTempDir, tempRoot } from './resources.ts';
import type { VerifyCheck } from './verify.ts';
import { seconds } from '../util/format.ts';

/** What a drill found and how long each part took. */
export interface DrillReport {
  id: string;
  backupId: string;
  target: string;
  ok: boolean;
  startedAt: string;
  /** The RTO: fetch to validation, the sum of `phases`; null when it stopped before restoring. */
  rtoMs: number | null;
  phases: Partial<DrillPhases>;
  bundleSize: number | null;
  storage: string | null;
  tools: Record<string, string>;
  /** restore.sh's exit status (0 whole, 1 partial, 2 refused) and summary lines. */
  restoreSh: { code: number | null; summary: string[] } | null;
  /** The drill's own comparison with the manifest, and what went wrong before it. */
  checks: VerifyCheck[];
  /** Why the drill stopped early, when it did. */
  error?: string;
}

/**
 * The bare-metal drill: the bundle fetched from storage as a file, decrypted and unpacked into
 * an empty directory with the system's tools, its restore.sh run with an empty environment
 * (drill-room.ts) into a fresh throwaway cluster and an empty files root, then the restore
 * compared with the manifest. Records the RTO by part, the bundle's size and the tools'
 * versions in the catalog, and a `drill_passed` or `drill_failed` event. The cluster and the
 * directory go on every exit path (Ctrl-C included; a kill -9 leaves them to the next command's
 * reaper, as for a verification).
 */
export async function runDrill(
  loaded: LoadedConfig,
  catalog: Catalog,
  prefix: string,
  options: { jobs?: number; signal?: AbortSignal; listener?: JobListener; trigger?: Trigger } = {},
): Promise<DrillReport> {
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}: there is nothing to drill`);
  if (backup.trust === 'untrusted') {
    // The drill runs the bundle's own restore.sh, as root where Lifeboat runs as root: from a
    // bundle no key of this installation vouches for, that is running whatever a forger wrote.
    throw new LifeboatError('E_RESTORE_CHECK', `backup ${backup.id} is untrusted (${backup.trustReason ?? 'no key of this installation vouches for it'}): the drill would run its restore.sh, which may not be Lifeboat's`, {
      hint: '`lifeboat key import` the key of the installation that made it, then `lifeboat catalog rebuild`; or unpack it by hand on a machine of no value and read restore.sh first',
    });
  }
  const manifest = catalog.getManifest(backup.id);
  if (!manifest) throw new LifeboatError('E_NOT_FOUND', `the catalog holds no manifest for ${backup.id}`, { hint: 'run `lifeboat catalog rebuild`' });
  const target = loaded.config.targets[backup.target];
  const encryption = target?.encryption;
  const keys = { ...keysFor(encryption), identityFile: (encryption && 'identityFile' in encryption ? encryption.identityFile : undefined) ?? process.env.LIFEBOAT_AGE_IDENTITY_FILE };
  const verification = typeof target?.verification === 'object' ? target.verification : {};
  const databases = manifest.postgres?.databases ?? [];

  return Job.run(catalog, { kind: 'drill', target: backup.target, backupId: backup.id, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, async (job) => {
    const report: DrillReport = {
      id: job.id, backupId: backup.id, target: backup.target, ok: false, startedAt: new Date().toISOString(), rtoMs: null, phases: {},
      bundleSize: null, storage: null, tools: {}, restoreSh: null, checks: [],
    };
    const room = await createTempDir(loaded, 'lifeboat-drill-');
    let cluster: ScratchCluster | undefined;
    const time = async <T>(phase: keyof DrillPhases, fn: () => Promise<T>): Promise<T> => {
      const t = Date.now();
      try {
        return await fn();
      } finally {
        report.phases[phase] = Date.now() - t;
      }
    };
    try {
      // The cluster starts beside the fetch: on a new server it would be running already.
      const clusterReady = databases.length
        ? startScratchCluster({ minMajor: Number(manifest.postgres!.serverVersion.split('.')[0]), binDir: verification.binDir, tempDir: tempRoot(loaded), templateDir: path.join(loaded.home, 'cache') })
        : Promise.resolve(undefined);
      clusterReady.then((c) => (cluster = c), () => undefined);
      try {
        job.log('info', `fetching ${backup.id} from storage`);
        const fetched = await time('fetch', () => readGoodCopy(loaded, catalog, backup, async (read) => {
          const file = path.join(room, read.name);
          await pipeline(read.stream, createWriteStream(file, { mode: 0o600 }), { signal });
          return file;
        }, { signal, log: (level, message) => job.log(level, message), onProgress: (done, total) => job.progress({ phase: 'fetching', done, total, unit: 'bytes' }) }));
        report.storage = fetched.copy.storage.name;
        report.bundleSize = (await fs.stat(fetched.result)).size;
        const unpacked = path.join(room, 'bundle');
        await fs.mkdir(unpacked);
        job.progress({ phase: 'unpacking', done: 0, unit: 'items' });
        const { tools } = await time('unpack', () => unpackBundle(fetched.result, unpacked, keys, signal));
        // The bundle file is no longer needed: its room goes to the restore.
        await fs.rm(fetched.result, { force: true });
        job.log('info', `unpacked with ${tools.join(', ')} in ${report.phases.unpack} ms`);

        cluster = await clusterReady;
        const pgTools = cluster ? await toolsForServer(Math.max(Number(manifest.postgres!.pgDumpVersion.split('.')[0]), cluster.major)) : undefined;
        report.tools = await toolVersions([
          { name: 'bash', bin: '/bin/bash' },
          ...(await Promise.all([...tools, 'sha256sum'].map(async (t) => ({ name: t, bin: (await which(t)) ?? t })))),
          ...(pgTools ? [{ name: 'psql', bin: pgTools.psql }, { name: 'pg_restore', bin: pgTools.pgRestore }, { name: 'postgres', bin: path.join(cluster!.binDir, 'postgres') }] : []),
        ]);

        const filesRoot = manifest.files.length ? path.join(room, 'root') : undefined;
        if (filesRoot) await fs.mkdir(filesRoot);
        const tmpDir = path.join(room, 'tmp');
        await fs.mkdir(tmpDir);
        job.progress({ phase: 'running restore.sh', done: 0, unit: 'items' });
        job.log('info', `running restore.sh with an empty environment (PATH=${pgTools ? `${pgTools.dir}:` : ''}${SYSTEM_PATH})${cluster ? ` into a fresh PostgreSQL ${cluster.major} cluster` : ''}${filesRoot ? ' and an empty files root' : ''}`);
        const sh = await runRestoreSh(unpacked, {
          server: cluster?.endpoint, pgBinDir: pgTools?.dir, globals: manifest.postgres?.globals === true, filesRoot, tmpDir, signal,
          jobs: options.jobs ?? 2,
          onLine: (line, stream) => {
            if (line.trim()) job.log(stream === 'stdout' ? 'info' : 'warn', `restore.sh: ${line}`);
          },
        });
        report.phases.checks = sh.checksMs;
        report.phases.databases = sh.databasesMs;
        report.phases.files = sh.filesMs;
        report.restoreSh = { code: sh.code, summary: sh.summary };
        const verdict = sh.code === 0 ? 'the restore is whole' : sh.code === 1 ? 'the restore is PARTIAL' : sh.code === 2 ? 'refused' : `exit status ${sh.code}`;
        report.checks.push({ name: 'restore.sh', ok: sh.code === 0, expected: 'exit status 0: whole', actual: sh.code === 0 ? verdict : `${verdict}: ${lastLine(sh.stderr) || sh.summary.find((l) => l.startsWith('FAILED')) || ''}` });

        if (sh.code === 0 || sh.code === 1) {
          job.progress({ phase: 'comparing with the manifest', done: 0, unit: 'items' });
          report.checks.push(...(await time('validation', () => compareRestore(manifest, cluster?.endpoint, filesRoot, signal))));
        }
        const phases = report.phases;
        report.rtoMs = ['fetch', 'unpack', 'checks', 'databases', 'files', 'validation'].reduce((n, p) => n + (phases[p as keyof DrillPhases] ?? 0), 0);
      } finally {
        cluster = await clusterReady.catch(() => cluster);
      }
    } catch (err) {
      const e = asLifeboatError(err);
      if (e.code === 'E_ABORTED') throw e;
      report.error = e.message;
      report.checks.push({ name: 'drill', ok: false, actual: e.message });
    } finally {
      await Promise.all([cluster?.stop(), removeTempDir(room)]);
    }

    report.ok = report.error === undefined && report.checks.length > 0 && report.checks.every((c) => c.ok);
    catalog.recordDrill({
      id: job.id, backupId: backup.id, target: backup.target, startedAt: report.startedAt, ok: report.ok, rtoMs: report.rtoMs,
      phases: report.phases, bundleSize: report.bundleSize, storage: report.storage, tools: report.tools, report,
    });
    const failed = report.checks.filter((c) => !c.ok);
    if (report.ok) {
      catalog.recordEvent({
        kind: 'drill_passed', severity: 'info', target: backup.target, backupId: backup.id, jobId: job.id,
        message: `the bare-metal drill of ${backup.id} passed: restored in ${seconds(report.rtoMs!)} (RTO)`, data: { rtoMs: report.rtoMs, phases: report.phases },
      });
    } else {
      catalog.recordEvent({
        kind: 'drill_failed', severity: 'error', target: backup.target, backupId: backup.id, jobId: job.id,
        message: `the bare-metal drill of ${backup.id} failed: ${failed.slice(0, 5).map((c) => `${c.name}${c.actual ? ` (${c.actual})` : ''}`).join('; ')}${failed.length > 5 ? `; and ${failed.length - 5} more` : ''}`,
        data: { failed: failed.map((c) => c.name) },
      });
    }
    job.log(report.ok ? 'info' : 'warn', `drill ${report.ok ? 'passed' : 'FAILED'}${report.rtoMs !== null ? `: RTO ${seconds(report.rtoMs)}` : ''}`);
    return report;
  });
}

