import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Catalog, LocationRecord } from '../catalog/catalog.ts';
import { keysFor, keysForBundle } from '../bundle/codec.ts';
import type { DatabaseManifest, Manifest } from '../bundle/manifest.ts';
import { checkIntegrity } from '../bundle/reader.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { connect, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { runTool } from '../postgres/dump.ts';
import { describeDatabase } from '../postgres/introspect.ts';
import { freshDatabase, type ScratchCluster } from '../postgres/scratch-cluster.ts';
import { startScratchServer } from './scratch-server.ts';
import { openStorage, type StorageDriver } from '../storage/storage.ts';
import { readOrder } from './copies.ts';
import { dumpFile, extractBundle } from './extract.ts';
import { DumpProgress } from './dump-progress.ts';
import { StreamingRestore } from './restore-stream.ts';
import { Job, type JobListener, type Trigger } from './job.ts';
import { createTempDir, removeTempDir } from './resources.ts';

/** One check of a verification: never thrown, always reported. */
export interface VerifyCheck {
  name: string;
  ok: boolean;
  /**
   * A failed check that does not fail the verification: a missing or damaged copy when another
   * copy passed every check. The copy is marked in the catalog (the backup shows `degraded`).
   */
  warning?: boolean;
  expected?: string;
  actual?: string;
}

export interface VerifyReport {
  backupId: string;
  level: 'quick' | 'full';
  ok: boolean;
  startedAt: string;
  durationMs: number;
  checks: VerifyCheck[];
}

/**
 * Proves a backup. `quick`: every stored copy is there with its recorded size, decrypts, and
 * every member matches the manifest. Full (the default) adds a test restore into a throwaway
 * PostgreSQL cluster, compared table by table with the manifest, files restored to a scratch
 * directory, and the target's own SQL checks. The report lists every check; the cluster and temp
 * files are removed on every exit path.
 */
export async function runVerify(
  loaded: LoadedConfig,
  catalog: Catalog,
  prefix: string,
  options: { quick?: boolean; signal?: AbortSignal; listener?: JobListener; trigger?: Trigger } = {},
): Promise<VerifyReport> {
  const signal = options.signal ?? new AbortController().signal;
  catalog.recoverInterrupted();
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}: there is nothing to verify`);
  const level = options.quick ? 'quick' : 'full';
  return Job.run(catalog, { kind: `verify-${level}`, target: backup.target, backupId: backup.id, trigger: options.trigger ?? 'manual' }, options.listener ?? {}, signal, async (job) => {
    const started = new Date();
    const checks: VerifyCheck[] = [];
    const target = loaded.config.targets[backup.target];
    // With the recorded recipients, a damaged age header counts against its copy, not as a wrong key.
    const keys = keysForBundle(keysFor(target?.encryption), catalog.getManifest(backup.id)?.encryption);

    // Every copy the catalog knows, good or not: present, and of the recorded size. A copy's
    // state is written back, so a bad one shows the backup `degraded` and a repaired one clears it.
    const opened: StorageDriver[] = [];
    const present: { storage: StorageDriver; key: string; location: LocationRecord }[] = [];
    try {
      for (const l of readOrder(loaded, backup, { all: true })) {
        const config = loaded.config.storages[l.storage];
        if (!config) {
          checks.push({ name: `stored on ${l.storage}`, ok: false, expected: 'a configured storage', actual: 'not in lifeboat.yaml' });
          continue;
        }
        const storage = await openStorage(l.storage, config);
        opened.push(storage);
        const stat = await storage.stat(l.key).catch(() => undefined);
        const expected = l.size ?? backup.size;
        const ok = stat !== undefined && stat.size === expected;
        checks.push({ name: `stored on ${l.storage}`, ok, expected: `${l.key}, ${expected} bytes`, actual: stat ? `${stat.size} bytes` : 'missing' });
        if (ok) present.push({ storage, key: l.key, location: l });
        else catalog.setLocation(backup.id, { ...l, status: stat ? 'failed' : 'missing', error: stat ? `holds ${stat.size} bytes instead of ${expected}` : 'not found in storage' });
      }

      // The checksums of the first copy that passes them; a failing copy is marked and the next tried.
      let readable: { storage: StorageDriver; key: string } | undefined;
      let manifest: Manifest | undefined;
      // A full verification reads each copy once: the test restore's extraction checks every
      // member against the manifest the catalog recorded as it goes.
      const recorded = level === 'full' ? catalog.getManifest(backup.id) : undefined;
      let tested = false;
      for (const [i, copy] of present.entries()) {
        const name = i === 0 ? 'members match the manifest' : `members match the manifest (copy on ${copy.storage.name})`;
        job.progress({ phase: 'checking checksums', current: copy.storage.name, done: 0, unit: 'bytes' });
        let problem: string | undefined;
        if (recorded) {
          const outcome = await testRestore({ storage: copy.storage, key: copy.key, keys, manifest: recorded, sha256: copy.location.sha256 }, loaded, backup.target, checks, job, name);
          if (outcome.unreadable) {
            checks.push({ name: i === 0 ? 'bundle opens' : `bundle opens (copy on ${copy.storage.name})`, ok: false, actual: outcome.unreadable });
            break;
          }
          problem = outcome.corrupt;
          if (problem === undefined) {
            manifest = recorded;
            tested = true;
          }
        } else try {
          const integrity = await checkIntegrity(await copy.storage.get(copy.key, { signal }), path.basename(copy.key), keys, { sha256: copy.location.sha256 });
          checks.push({ name, ok: integrity.ok, expected: `${integrity.members.length} members with their sha256`, actual: integrity.ok ? 'all match' : integrity.problems.join('; ') });
          if (integrity.ok) manifest = integrity.manifest;
          else problem = integrity.problems.join('; ');
        } catch (err) {
          const e = asLifeboatError(err);
          if (e.code === 'E_ABORTED') throw e;
          checks.push({ name: i === 0 ? 'bundle opens' : `bundle opens (copy on ${copy.storage.name})`, ok: false, actual: e.message });
          // A key that cannot decrypt says nothing about the copy, and would fail on every copy.
          if (e.code === 'E_ENCRYPTION') break;
          problem = e.message;
        }
        if (problem === undefined) {
          catalog.setLocation(backup.id, { ...copy.location, status: 'ok', error: null });
          readable = copy;
          break;
        }
        catalog.setLocation(backup.id, { ...copy.location, status: 'failed', error: problem });
        const next = present[i + 1];
        job.log('warn', `the copy on ${copy.storage.name} is corrupt${next ? `; checking the copy on ${next.storage.name}` : ''}`);
      }

      // A bad copy is a warning when another copy passed: the backup restores, from that one.
      if (readable) for (const c of checks) if (!c.ok && (c.name.startsWith('stored on ') || c.name.startsWith('members match') || c.name.startsWith('bundle opens'))) c.warning = true;

      if (level === 'full' && readable && manifest && !tested) {
        await testRestore({ storage: readable.storage, key: readable.key, keys, manifest }, loaded, backup.target, checks, job);
      } else if (level === 'full' && !readable) {
        checks.push({ name: 'test restore', ok: false, actual: 'skipped: no copy of the bundle passed the checks above' });
      }
    } finally {
      for (const st of opened) await st.close().catch(() => {});
    }
    const report: VerifyReport = {
      backupId: backup.id, level, ok: checks.every((c) => c.ok || c.warning), startedAt: started.toISOString(), durationMs: Date.now() - started.getTime(), checks,
    };
    catalog.recordVerification({ id: job.id, backupId: backup.id, level, startedAt: report.startedAt, ok: report.ok, report });
    if (report.ok) {
      catalog.recordEvent({
        kind: 'verification_passed', severity: 'info', target: backup.target, backupId: backup.id, jobId: job.id,
        message: `${level} verification of ${backup.id} passed: ${checks.length} checks${level === 'full' ? ', test restore included' : ''}`, data: { level },
      });
    } else {
      const failed = checks.filter((c) => !c.ok && !c.warning);
      catalog.recordEvent({
        kind: 'verification_failed', severity: 'error', target: backup.target, backupId: backup.id, jobId: job.id,
        message: `${level} verification of ${backup.id} failed: ${failed.map((c) => `${c.name}${c.actual ? ` (${c.actual})` : ''}`).join('; ')}`,
        data: { level, failed: failed.map((c) => c.name) },
      });
    }
    const warnings = checks.filter((c) => c.warning).length;
    job.log(report.ok ? 'info' : 'warn', `verification ${report.ok ? 'passed' : 'FAILED'}: ${checks.filter((c) => c.ok).length} of ${checks.length} checks passed${warnings ? `, ${warnings} warning(s) about copies` : ''}`);
    // What the failure means for the next restore, and the way back (never a catalog rebuild,
    // which would mark the copies good without checking them).
    const bad = catalog.resolveBackup(backup.id).locations.filter((l) => l.status === 'failed' || l.status === 'missing');
    if (!report.ok && bad.length) {
      job.log('warn', `restores skip the copies marked bad (${bad.map((l) => l.storage).join(', ')}) until \`lifeboat verify ${backup.id} --quick\` passes on one; \`lifeboat restore --force\` reads them anyway, checksums still checked`);
    }
    return report;
  });
}

/**
 * Extracts the bundle (checking every member), restores its databases into a scratch cluster
 * and compares them with the manifest. The cluster starts, and each database's rows load into
 * it, while the bundle is still being read (restore-stream.ts). With `integrityCheck`, the
 * extraction's checksum verdict is reported under that name and a damaged copy returns
 * `corrupt` instead of a failed test restore, so the caller can try the next copy.
 */
async function testRestore(
  source: Parameters<typeof extractBundle>[0],
  loaded: LoadedConfig,
  targetName: string,
  checks: VerifyCheck[],
  job: Job,
  integrityCheck?: string,
): Promise<{ corrupt?: string; unreadable?: string }> {
  const manifest = source.manifest;
  const verification = loaded.config.targets[targetName]?.verification;
  const settings = typeof verification === 'object' ? verification : {};
  const temp = await createTempDir(loaded, 'lifeboat-verify-');
  const databases = manifest.postgres?.databases ?? [];
  const streams = new Map<string, StreamingRestore>();
  // What the extraction has written of each dump, for the loads that follow it.
  const progress = new DumpProgress();
  let cluster: ScratchCluster | undefined;
  let tools: Awaited<ReturnType<typeof toolsForServer>> | undefined;
  const ready = (async () => {
    if (!databases.length) return;
    const sourceMajor = Number(manifest.postgres!.serverVersion.split('.')[0]);
    job.log('info', `starting a scratch PostgreSQL cluster (${sourceMajor} or newer)`);
    cluster = await startScratchServer(loaded, targetName, sourceMajor, job);
    const dumpMajor = Number(manifest.postgres!.pgDumpVersion.split('.')[0]);
    // A throwaway container brings its own tools, of its server's version.
    tools = cluster.endpoint.exec ? await cluster.endpoint.exec.tools() : await toolsForServer(Math.max(dumpMajor, cluster.major)).catch(() => toolsForServer(dumpMajor));
    for (const d of databases) {
      await freshDatabase(cluster.endpoint, d.name, d.encoding);
      if (!StreamingRestore.possible(d)) continue;
      // The scratch cluster has none of the source's roles: ownership and grants are left out.
      const stream = new StreamingRestore(tools, withDatabase(cluster.endpoint, d.name), d, dumpFile(temp, d.name), progress, job, true);
      stream.start();
      streams.set(d.name, stream);
    }
  })();
  ready.catch(() => undefined); // its failure is reported below, after the integrity check
  try {
    // The cluster starts first: initdb is on the way to the first row loaded, and reading the
    // bundle beside it slowed it by half on two cores; the reading keeps ahead of the loads anyway.
    await ready.catch(() => undefined);
    let extracted;
    try {
      extracted = await extractBundle(source, { databases, files: manifest.files }, temp, job, databases.some((d) => StreamingRestore.possible(d)) ? progress : undefined);
    } catch (err) {
      const e = asLifeboatError(err);
      if (e.code === 'E_ABORTED' || !integrityCheck) throw e;
      if (e.code === 'E_ENCRYPTION') return { unreadable: e.message };
      checks.push({ name: integrityCheck, ok: false, expected: `${manifest.members.length} members with their sha256`, actual: e.message });
      return { corrupt: e.message };
    }
    if (integrityCheck) checks.push({ name: integrityCheck, ok: true, expected: `${manifest.members.length} members with their sha256`, actual: 'all match' });
    const { dumps, staged } = extracted;
    // Every file came out of the bundle with its recorded sha256 (extractBundle checks as it writes).
    const files = manifest.files.filter((f) => f.type === 'file');
    if (files.length) checks.push({ name: 'files restored to a scratch directory', ok: files.every((f) => staged.has(f.member)), expected: `${files.length} files with their sha256`, actual: `${staged.size} restored and matching` });
    await ready;
    for (const d of databases) {
      job.signal.throwIfAborted();
      const endpoint = withDatabase(cluster!.endpoint, d.name);
      // Counts the streamed load took as each table came in; none after a fallback.
      let counted: ReadonlyMap<string, number> | undefined;
      try {
        const stream = streams.get(d.name);
        const streamed = await stream?.finish().then(
          () => true,
          async (err: unknown) => {
            const e = asLifeboatError(err);
            if (e.code !== 'E_DUMP_INDEX') throw e;
            job.log('warn', `${e.message}; restoring it from the whole dump instead`);
            stream!.abort();
            await freshDatabase(cluster!.endpoint, d.name, d.encoding);
            return false;
          },
        );
        if (!streamed) {
          const run = runTool(tools!.pgRestore, ['--dbname', endpoint.url, '--jobs=2', '--no-owner', '--no-acl', '--exit-on-error', '--no-password', dumps.get(d.name)!], endpoint, job.signal);
          run.stdout.resume();
          await run.done;
        }
        if (streamed) counted = stream!.counted;
        checks.push({ name: `restore of ${d.name}`, ok: true, actual: 'pg_restore succeeded' });
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code === 'E_ABORTED') throw e;
        checks.push({ name: `restore of ${d.name}`, ok: false, actual: e.message });
        continue;
      }
      await compareDatabase(endpoint, d, checks, job.signal, counted);
    }
    for (const c of settings.checks ?? []) {
      const db = c.database ?? databases[0]!.name;
      checks.push(await userCheck(withDatabase(cluster!.endpoint, db), c));
    }
    return {};
  } catch (err) {
    const e = asLifeboatError(err);
    if (e.code === 'E_ABORTED') throw e;
    checks.push({ name: 'test restore', ok: false, actual: e.message });
    return {};
  } finally {
    for (const stream of streams.values()) stream.abort();
    await ready.catch(() => undefined);
    await Promise.all([cluster?.stop(), removeTempDir(temp)]);
  }
}

/** Tables with their columns, types and row counts; sequences and extensions: all as the manifest says. */
export async function compareDatabase(endpoint: PgEndpoint, d: DatabaseManifest, checks: VerifyCheck[], signal: AbortSignal, counted?: ReadonlyMap<string, number>): Promise<void> {
  const client = await connect(endpoint);
  try {
    const restored = await describeDatabase(client, signal, { known: counted });
    const byName = new Map(restored.tables.map((t) => [`${t.schema}.${t.name}`, t]));
    const cols = (t: { columns: { name: string; type: string }[] }) => t.columns.map((c) => `${c.name} ${c.type}`).join(', ');
    for (const t of d.tables) {
      const name = `${t.schema}.${t.name}`;
      const got = byName.get(name);
      if (!got) {
        checks.push({ name: `${d.name}: table ${name}`, ok: false, expected: `${t.rows ?? 0} rows`, actual: 'missing' });
      } else if (cols(got) !== cols(t)) {
        checks.push({ name: `${d.name}: table ${name} columns`, ok: false, expected: cols(t), actual: cols(got) });
      } else {
        checks.push({ name: `${d.name}: table ${name}`, ok: got.rows === t.rows, expected: `${t.rows ?? 'partitioned'} rows`, actual: `${got.rows ?? 'partitioned'} rows` });
      }
    }
    const sequences = new Map(restored.sequences.map((s) => [`${s.schema}.${s.name}`, s.lastValue]));
    const missingSeq = d.sequences.filter((s) => !sequences.has(`${s.schema}.${s.name}`) || sequences.get(`${s.schema}.${s.name}`) !== s.lastValue);
    checks.push({ name: `${d.name}: sequences`, ok: missingSeq.length === 0, expected: `${d.sequences.length} with their values`, actual: missingSeq.length ? `differ: ${missingSeq.map((s) => s.name).join(', ')}` : 'all present and equal' });
    const extensions = new Set(restored.extensions.map((e) => e.name));
    const missingExt = d.extensions.filter((e) => !extensions.has(e.name));
    checks.push({ name: `${d.name}: extensions`, ok: missingExt.length === 0, expected: d.extensions.map((e) => e.name).join(', ') || 'none', actual: missingExt.length ? `missing: ${missingExt.map((e) => e.name).join(', ')}` : 'all present' });
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function userCheck(endpoint: PgEndpoint, c: { name: string; sql: string; expect: string | number | boolean | null }): Promise<VerifyCheck> {
  let client;
  try {
    client = await connect(endpoint);
    const r = await client.query({ text: c.sql, rowMode: 'array' });
    const value: unknown = (r.rows[0] as unknown[] | undefined)?.[0] ?? null;
    const actual = value === null ? null : typeof c.expect === 'number' ? Number(value) : typeof c.expect === 'boolean' ? value === true || value === 't' : String(value);
    return { name: `check: ${c.name}`, ok: actual === c.expect, expected: JSON.stringify(c.expect), actual: JSON.stringify(actual) };
  } catch (err) {
    return { name: `check: ${c.name}`, ok: false, expected: JSON.stringify(c.expect), actual: `error: ${(err as Error).message}` };
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/**
 * The backups a target's verification policy says are due: with `every: N` every Nth good backup
 * (counted oldest first, safety backups left out), with `percentage: P` a stable sample of P%
 * (chosen by the id's hash, so the same backups stay chosen); full-verified ones are skipped.
 * `cron` schedules are the daemon's; `manual` is never due.
 */
export function pendingVerifications(loaded: LoadedConfig, catalog: Catalog): string[] {
  const due: string[] = [];
  for (const [name, t] of Object.entries(loaded.config.targets)) {
    const policy = t.verification;
    if (!policy || policy === 'manual') continue;
    const good = catalog.listBackups(name).filter((b) => b.status === 'ok' && b.trigger !== 'pre-restore').reverse();
    good.forEach((b, i) => {
      if (b.verificationStatus !== 'unverified' && b.verificationLevel === 'full') return;
      const byCount = policy.every !== undefined && (i + 1) % policy.every === 0;
      const bySample = policy.percentage !== undefined && (createHash('sha256').update(b.id).digest().readUInt16BE(0) / 65536) * 100 < policy.percentage;
      if (byCount || bySample) due.push(b.id);
    });
  }
  return due;
}
