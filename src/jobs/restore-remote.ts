import os from 'node:os';
import type { Catalog } from '../catalog/catalog.ts';
import { refuseUntrusted } from '../bundle/trust.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, EXIT, LifeboatError } from '../errors.ts';
import { parsePgUrl, redactUrl } from '../postgres/connection.ts';
import { Job, type JobListener, type Trigger } from './job.ts';
import { checkRefusal, outcomeOf, parseSummary, type RemoteRestoreReport } from './restore-remote-report.ts';
import { restoreShArgs, runRestoreSh, type OutputSink, type RestoreShOptions } from './restore-remote-run.ts';
import { parseRemote, shq, SshSession, type SshLogin } from './restore-remote-ssh.ts';
import { prepareRemote, uploadAndUnpack, type RemoteWorkDir } from './restore-remote-upload.ts';

export type { RemoteRestoreReport } from './restore-remote-report.ts';

/** A restore onto another machine over SSH, by the bundle's own restore.sh. */
/** restore.sh's own options (files root, globals, clean, jobs, no-owner, only, only-files) are passed on as given. */
export interface RemoteRestoreOptions extends SshLogin, Omit<RestoreShOptions, 'url' | 'password'> {
  /** `ssh://user@host[:port]`. */
  remote: string;
  /** The PostgreSQL server to restore into, as the remote reaches it; default: libpq's defaults there. */
  url?: string;
  /** Where the work directory is made on the remote; default /var/tmp. */
  remoteDir?: string;
  /** Upload and run restore.sh --check only. */
  dryRun?: boolean;
  /** Confirmed beforehand: no question. */
  yes?: boolean;
  /** Asked with restore.sh's plan; without it and without `yes` the restore is refused up front. */
  confirm?: (plan: string) => Promise<boolean>;
  /** Leave the work directory on the remote. */
  keepRemote?: boolean;
  trustForeign?: boolean;
  /** restore.sh's output as it comes. */
  output?: OutputSink;
  listener?: JobListener;
  signal?: AbortSignal;
  requestedBy?: string;
  trigger?: Trigger;
}

/**
 * Restores a backup onto another machine that has no Lifeboat: checks the server's host key,
 * uploads the bundle over SFTP from the first good copy (decrypted here, so the identity never
 * leaves this machine), unpacks it into a fresh work directory, shows restore.sh --check's plan,
 * asks, runs restore.sh with its output streamed, and records the outcome in the restore history.
 * Resolves with the report of a whole restore (or a dry run's plan); a refusal throws
 * E_RESTORE_CHECK (exit 3, nothing changed), a partial or failed restore E_RESTORE_FAILED (exit 1).
 */
export async function runRemoteRestore(loaded: LoadedConfig, catalog: Catalog, prefix: string, o: RemoteRestoreOptions): Promise<RemoteRestoreReport> {
  const remote = parseRemote(o.remote);
  if (o.hostKey !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(o.hostKey)) {
    throw new LifeboatError('E_USAGE', `--host-key ${o.hostKey} is not a fingerprint`, { hint: 'give it as ssh-keygen -lf prints it: SHA256: and 43 characters' });
  }
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}${backup.error ? ` (${backup.error})` : ''}: it cannot be restored`);
  const manifest = catalog.getManifest(backup.id)!;
  const databases = manifest.postgres?.databases.map((d) => d.name) ?? [];
  const sets = [...new Set(manifest.files.map((f) => f.set))];
  for (const db of o.only ?? []) {
    if (!databases.includes(db)) throw new LifeboatError('E_NOT_FOUND', `backup ${backup.id} has no database "${db}"`, { hint: `databases in it: ${databases.join(', ') || 'none'}` });
  }
  for (const set of o.onlyFiles ?? []) {
    if (!sets.includes(set)) throw new LifeboatError('E_NOT_FOUND', `backup ${backup.id} has no file set "${set}"`, { hint: `file sets in it: ${sets.join(', ') || 'none'}` });
  }
  if (o.onlyFiles?.length && !o.filesRoot) throw new LifeboatError('E_USAGE', '--only-files needs --files-root DIR (/ puts every file back at its place)');
  if (o.globals && !manifest.postgres?.globals) throw new LifeboatError('E_NOT_FOUND', `backup ${backup.id} has no roles (databases/globals.sql): its target did not set globals: true`);
  if (o.jobs !== undefined && !(Number.isInteger(o.jobs) && o.jobs >= 1 && o.jobs <= 999)) throw new LifeboatError('E_USAGE', `--jobs takes a number from 1 to 999, not ${o.jobs}`);
  // An untrusted bundle's paths may be forged: its files go under a directory named for them, never to /.
  const files = o.filesRoot ? (o.onlyFiles?.length ? manifest.files.filter((f) => o.onlyFiles!.includes(f.set)).length : manifest.files.length) : 0;
  refuseUntrusted(backup, { trustForeign: o.trustForeign, files, toDir: o.filesRoot && o.filesRoot !== '/' ? o.filesRoot : undefined });
  if (!o.dryRun && !o.yes && !o.confirm) {
    throw new LifeboatError('E_USAGE', `a restore onto ${remote.display} changes that server, and there is no terminal to confirm it on`, {
      hint: 'pass --yes to confirm, or run it on a terminal to be asked; --dry-run uploads the bundle and shows restore.sh --check\'s plan',
    });
  }
  let sh: RestoreShOptions = { globals: o.globals, clean: o.clean, jobs: o.jobs, noOwner: o.noOwner, only: o.only, onlyFiles: o.onlyFiles, filesRoot: o.filesRoot };
  let shownUrl: string | undefined;
  if (o.url) {
    const endpoint = parsePgUrl(o.url);
    sh = { ...sh, url: endpoint.url, password: endpoint.password };
    shownUrl = redactUrl(o.url);
  }
  const signal = o.signal ?? new AbortController().signal;
  return Job.run(catalog, { kind: o.dryRun ? 'restore-plan' : 'restore', target: backup.target, backupId: backup.id, trigger: o.trigger ?? 'manual' }, o.listener ?? {}, signal, async (job) => {
    const ssh = await SshSession.open(remote, o);
    job.log('info', `connected to ${remote.display} (host key trusted by ${ssh.trustedBy})`);
    const lock = `retention:${backup.target}`;
    let work: RemoteWorkDir | undefined;
    let keep = o.keepRemote === true;
    try {
      // Retention waits while the backup it would delete is being read.
      catalog.acquireLock(lock, job.id, `a restore of target "${backup.target}" onto ${remote.display}`);
      work = await prepareRemote(ssh, o.remoteDir ?? '/var/tmp', manifest, { size: backup.size ?? 0, zstd: backup.compression === 'zstd' }, signal);
      const uploaded = await uploadAndUnpack(ssh, work, loaded, catalog, backup, job);
      catalog.releaseLock(lock, job.id);
      const check = await runRestoreSh(ssh, work.bundle, sh, 'check', job, o.output);
      if (check.code !== 0) throw checkRefusal(check, remote.display);
      const report: RemoteRestoreReport = { backupId: backup.id, remote: remote.display, workDir: work.dir, kept: keep, uploaded, plan: check.stdout, dryRun: o.dryRun === true, summary: [], whole: false, exitCode: EXIT.ok };
      if (o.dryRun) return report;
      if (!o.yes && !(await o.confirm!(check.stdout))) {
        throw new LifeboatError('E_USAGE', `not confirmed: nothing was restored on ${remote.display}`, { hint: 'type RESTORE at the question to go ahead, or pass --yes' });
      }
      const requestedBy = o.requestedBy ?? os.userInfo().username;
      const plan = { remote: remote.display, url: shownUrl ?? null, workDir: work.dir, args: restoreShArgs(sh), check: check.stdout };
      catalog.startRestore({ id: job.id, backupId: backup.id, requestedBy, plan });
      const event = { target: backup.target, backupId: backup.id, jobId: job.id };
      catalog.recordEvent({ ...event, kind: 'restore_started', severity: 'warning', message: `${requestedBy} started a restore of ${backup.id} onto ${remote.display}`, data: { requestedBy, remote: remote.display } });
      let run;
      try {
        run = await runRestoreSh(ssh, work.bundle, sh, 'restore', job, o.output);
      } catch (err) {
        const e = asLifeboatError(err);
        keep = true; // restore.sh's state is there: a re-run finishes what it started
        catalog.finishRestore(job.id, { status: e.code === 'E_ABORTED' ? 'cancelled' : 'failed', report, error: e.message });
        catalog.recordEvent({ ...event, kind: 'restore_failed', severity: 'error', message: `restore of ${backup.id} onto ${remote.display} failed: ${e.message}`, data: { requestedBy, remote: remote.display } });
        throw e;
      }
      Object.assign(report, { restoreShExit: run.code, summary: parseSummary(run.stdout), exitCode: outcomeOf(run), whole: run.code === 0 });
      if (report.whole) {
        report.kept = keep;
        catalog.finishRestore(job.id, { status: 'succeeded', report });
        catalog.recordEvent({ ...event, kind: 'restore_finished', severity: 'info', message: `restore of ${backup.id} onto ${remote.display} is whole: every row count and file checksum matches`, data: { requestedBy, remote: remote.display } });
        job.log('info', `restore.sh reports the restore whole on ${remote.display}`);
        return report;
      }
      const refused = report.exitCode === EXIT.refused;
      if (!refused) {
        // A partial restore is finished by restore.sh run again in the same directory (its state is there).
        keep = true;
        report.resume = `ssh ${remote.port === 22 ? '' : `-p ${remote.port} `}${remote.user}@${remote.host} ${shq(`bash ${shq(`${work.bundle}/restore.sh`)} ${restoreShArgs(sh).map(shq).join(' ')}`)}${sh.password !== undefined ? ' (with PGPASSWORD set there: the URL\'s password is not shown)' : ''}`;
      }
      report.kept = keep;
      const failed = report.summary.filter((s) => s.state !== 'ok').map((s) => s.what);
      const what = refused
        ? `restore.sh on ${remote.display} refused at its checks (the server changed since --check): nothing was changed`
        : `the restore on ${remote.display} is PARTIAL (restore.sh exit ${run.code ?? `signal ${run.signal ?? 'unknown'}`})${failed.length ? `: ${failed.join(', ')} failed` : ''}`;
      catalog.finishRestore(job.id, { status: 'failed', report, error: what });
      catalog.recordEvent({ ...event, kind: 'restore_failed', severity: 'error', message: `restore of ${backup.id}: ${what}`, data: { requestedBy, remote: remote.display } });
      throw new LifeboatError(refused ? 'E_RESTORE_CHECK' : 'E_RESTORE_FAILED', what, {
        hint: refused ? 'run it again to see the checks' : `fix what failed (above), then finish it there: ${report.resume}`,
      });
    } finally {
      catalog.releaseLock(lock, job.id);
      if (work && !keep) {
        await ssh.exec(`rm -rf ${shq(work.dir)}`).then((r) => {
          if (r.code !== 0) job.log('warn', `could not remove ${work!.dir} on ${remote.display}: ${r.stderr.trim()}`);
        }, () => job.log('warn', `could not remove ${work!.dir} on ${remote.display}: the connection is gone`));
      } else if (work) {
        job.log('info', `the work directory stays on ${remote.display}: ${work.dir}`);
      }
      ssh.close();
    }
  });
}
