import { existsSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError, Option } from 'commander';
import { Catalog, type BackupRecord } from '../catalog/catalog.ts';
import { configPath, loadConfig, type LoadedConfig } from '../config/load.ts';
import { initialConfig } from '../config/template.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { runBackupFlow } from '../jobs/backup-flow.ts';
import { runDelete, runPrune, type PruneOutcome } from '../jobs/prune.ts';
import { rebuildCatalog } from '../jobs/rebuild.ts';
import { runReplicatePending } from '../jobs/replicate.ts';
import { checkStorage, type StorageHealth } from '../jobs/storage-health.ts';
import { pendingVerifications, runVerify, type VerifyReport } from '../jobs/verify.ts';
import { runRestore, type RestorePlan, type RestoreReport } from '../jobs/restore.ts';
import { exportWorkflows, restoreWorkflowsToN8n } from '../jobs/restore-workflow.ts';
import { VERSION } from '../version.ts';
import { flushNotifications } from '../notify/deliver.ts';
import { runDaemon } from '../scheduler/daemon.ts';
import { configSchedules, LEASE, Scheduler } from '../scheduler/scheduler.ts';
import { toCron } from '../scheduler/schedule.ts';
import { duration, formatBytes, progressListener, table } from './output.ts';

interface GlobalOptions {
  config?: string;
  json?: boolean;
}

/**
 * Loads config and catalog for a command, and closes the catalog afterwards. Before that, the
 * notifications the command raised (or that are due) are sent, within 15 s; a failed send is
 * said on stderr and retried later, never failing the command.
 */
async function withCatalog<T>(opts: GlobalOptions, fn: (loaded: LoadedConfig, catalog: Catalog) => Promise<T>): Promise<T> {
  const loaded = loadConfig(configPath(opts.config));
  const catalog = Catalog.open(loaded.home);
  try {
    catalog.recoverInterrupted();
    return await fn(loaded, catalog);
  } finally {
    try {
      for (const o of await flushNotifications(loaded, catalog, { budgetMs: 15_000 })) {
        if (!o.ok) process.stderr.write(`warn: notification ${o.event} to ${o.channel} failed: ${o.error}${o.retryAt ? `; retrying at ${o.retryAt}` : '; giving up'}\n`);
      }
    } catch (err) {
      process.stderr.write(`warn: notifications could not be sent: ${(err as Error).message}\n`);
    }
    catalog.close();
  }
}

function print(opts: GlobalOptions, json: unknown, text: () => string): void {
  process.stdout.write(opts.json ? JSON.stringify(json, null, 2) + '\n' : text() + '\n');
}

/** An AbortSignal that fires on the first Ctrl-C or SIGTERM; a second one exits at once. */
function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    process.stderr.write(`\n${sig}: cancelling, cleaning up (again to quit at once)...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const verification = (b: BackupRecord) => (b.verificationStatus === 'unverified' ? '-' : b.verificationStatus);

function backupRow(b: BackupRecord): string[] {
  const took = b.summary ? duration(b.summary.durationMs) : b.finishedAt ? duration(Date.parse(b.finishedAt) - Date.parse(b.startedAt)) : '-';
  const status = b.deletionStatus === 'pending' ? `${b.status}, deleted at ${b.deleteAfter!.slice(0, 16).replace('T', ' ')}Z` : b.protected ? `${b.status}, protected` : b.status;
  return [b.id, b.target, b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), b.size === null ? '-' : formatBytes(b.size), took, status, verification(b)];
}

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Backup, verification and recovery for PostgreSQL-backed self-hosted apps')
    .version(VERSION)
    .addOption(new Option('-c, --config <file>', 'configuration file (default: $LIFEBOAT_CONFIG or ./lifeboat.yaml)'))
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();

  program
    .command('init')
    .description('write a commented lifeboat.yaml: one local storage, one target from DATABASE_URL or PG* variables')
    .option('--target <name>', 'name of the target', 'app')
    .option('--storage-path <dir>', 'where the local storage keeps bundles', './backups')
    .option('--force', 'overwrite an existing file')
    .action((o: { target: string; storagePath: string; force?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const file = configPath(opts.config);
      if (existsSync(file) && !o.force) {
        throw new LifeboatError('E_USAGE', `${file} already exists`, { hint: 'pass --force to overwrite it, or --config to write another file' });
      }
      if (!/^[a-z0-9][a-z0-9_-]*$/i.test(o.target)) throw new LifeboatError('E_USAGE', `--target "${o.target}": use letters, digits, "-" and "_"`);
      writeFileSync(file, initialConfig(process.env, { target: o.target, storagePath: o.storagePath }));
      print(opts, { file, target: o.target }, () => `wrote ${file}\nnext: lifeboat backup ${o.target}`);
    });

  program
    .command('backup')
    .description('back up a target now')
    .argument('<target>', 'target name from lifeboat.yaml')
    .action(async (targetName: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const flow = await runBackupFlow(loaded, catalog, targetName, { signal: interrupt.signal, listener });
          const r = flow.backup;
          if (flow.check && !flow.check.ok) {
            process.exitCode = 1;
            listener.onLog?.('warn', `the new backup failed its integrity check: ${flow.check.checks.filter((c) => !c.ok && !c.warning).map((c) => `${c.name}: ${c.actual ?? ''}`).join('; ')}`);
          }
          listener.end();
          const failedCopies = r.replicas.filter((c) => c.status === 'failed');
          const pruned = (flow.prune ?? []).filter((o) => o.result !== 'kept');
          print(opts, {
            id: r.id, jobId: r.jobId, status: failedCopies.length ? 'degraded' : 'ok', storage: r.storage, key: r.key, size: r.size, sha256: r.sha256, summary: r.summary, replicas: r.replicas,
            check: flow.check && { ok: flow.check.ok, checks: flow.check.checks }, checkSkipped: flow.checkSkipped, prune: flow.prune, pruneError: flow.pruneError,
          }, () =>
            [`backup ${r.id}: ${formatBytes(r.size)} in ${duration(r.summary.durationMs)} (${r.summary.databases} database(s), ${r.summary.tables} tables, ${r.summary.rows} rows, ${r.summary.files} files)` +
              (r.summary.warnings ? `, ${r.summary.warnings} warning(s)` : ''),
              ...r.replicas.map((c) => (c.status === 'ok' ? `  copied to ${c.storage}` : `  DEGRADED: the copy to ${c.storage} failed: ${c.error}\n  run \`lifeboat replicate --pending\` to retry it`)),
              ...pruned.map((o) => `  retention: ${describeOutcome(o)}`),
            ].join('\n'),
          );
        } finally {
          listener.end();
          interrupt.dispose();
        }
      });
    });

  program
    .command('list')
    .description('list backups, newest first')
    .argument('[target]', 'only this target')
    .option('--all', 'include deleted backups (their records are kept for history)')
    .action(async (target: string | undefined, o: { all?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        if (target && !loaded.config.targets[target] && catalog.listBackups(target).length === 0) {
          throw new LifeboatError('E_NOT_FOUND', `no target named "${target}"`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ')}` });
        }
        const backups = catalog.listBackups(target, { includeDeleted: o.all });
        print(opts, backups.map(({ locations: _l, ...b }) => b), () =>
          backups.length === 0
            ? 'no backups yet; run `lifeboat backup <target>`'
            : table(['ID', 'TARGET', 'STARTED', 'SIZE', 'DURATION', 'STATUS', 'VERIFIED'], backups.map(backupRow)),
        );
      });
    });

  program
    .command('show')
    .description('one backup in detail')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(async (prefix: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        const m = catalog.getManifest(b.id);
        print(opts, { ...b, manifest: m && { ...m, members: undefined } }, () => {
          const lines = [
            `backup      ${b.id}`,
            `target      ${b.target}`,
            `status      ${b.status}${b.error ? ` (${b.error})` : ''}`,
            `trigger     ${b.trigger}`,
            `started     ${b.startedAt}`,
            `finished    ${b.finishedAt ?? '-'}`,
            `size        ${b.size === null ? '-' : `${formatBytes(b.size)} (${b.size} bytes)`}`,
            `format      ${b.compression ?? '-'}${b.encrypted ? ', age-encrypted' : ''}`,
            `sha256      ${b.sha256 ?? '-'}`,
            `verified    ${b.verificationStatus}${b.verificationLevel ? ` (${b.verificationLevel})` : ''}${b.verifiedAt ? ` at ${b.verifiedAt}` : ''}`,
            `protected   ${b.protected ? 'yes' : 'no'}`,
          ];
          for (const l of b.locations) lines.push(`stored      ${l.storage}: ${l.key} (${l.status}${l.error ? `: ${l.error}` : ''})`);
          if (m) {
            if (m.postgres) lines.push(`postgres    server ${m.postgres.serverVersion}, pg_dump ${m.postgres.pgDumpVersion}${m.postgres.globals ? ', with roles' : ''}`);
            if (b.summary) lines.push(`contents    ${b.summary.databases} database(s), ${b.summary.tables} tables, ${b.summary.rows} rows, ${b.summary.files} files, ${b.summary.appItems} app items`);
            for (const w of m.warnings) lines.push(`warning     ${w}`);
          }
          return lines.join('\n');
        });
      });
    });

  program
    .command('contents')
    .description('what a backup holds: databases, tables with row counts, files, app items')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--workflows', 'only the n8n workflows, from the manifest (the bundle is not opened)')
    .option('--search <text>', 'with --workflows: those whose name, id or tags contain this')
    .action(async (prefix: string, o: { workflows?: boolean; search?: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        const m = catalog.getManifest(b.id);
        if (!m) throw new LifeboatError('E_NOT_FOUND', `backup ${b.id} has no contents: it ${b.status === 'failed' ? `failed (${b.error ?? 'unknown error'})` : 'is not complete'}`);
        if (o.workflows || o.search) {
          const needle = o.search?.toLowerCase();
          const all = m.app.items.filter((i) => i.kind === 'workflow');
          const shown = all.filter((i) => !needle || [i.name, i.id, ...((i.details?.tags as string[] | undefined) ?? [])].some((v) => v.toLowerCase().includes(needle)));
          const rows: Record<string, unknown>[] = shown.map((i) => ({ id: i.id, name: i.name, updatedAt: i.updatedAt ?? null, database: i.database ?? null, checksum: i.checksum, ...(i.details ?? {}) }));
          print(opts, rows, () =>
            !all.length
              ? `backup ${b.id} holds no n8n workflows (profile: ${m.app.profile})`
              : table(['ID', 'NAME', 'ACTIVE', 'NODES', 'TAGS', 'UPDATED'], rows.map((r) => [String(r.id), String(r.name), r.active ? 'yes' : 'no', String(r.nodes ?? '-'), ((r.tags as string[] | undefined) ?? []).join(', '), String(r.updatedAt ?? '-').slice(0, 19).replace('T', ' ')])) +
                `\n${shown.length} of ${all.length} workflow(s)`,
          );
          return;
        }
        const contents = {
          id: m.id,
          databases: (m.postgres?.databases ?? []).map((d) => ({
            name: d.name, dumpSize: d.dumpSize, members: d.dumpMembers,
            tables: d.tables.map((t) => ({ schema: t.schema, name: t.name, rows: t.rows, columns: t.columns.length, dataExcluded: t.dataExcluded === true })),
            sequences: d.sequences.length, extensions: d.extensions.map((e) => `${e.name} ${e.version}`),
          })),
          globals: m.postgres?.globals ?? false,
          files: m.files.map((f) => ({ set: f.set, path: f.path, type: f.type, size: f.size, mode: f.mode.toString(8), mtime: f.mtime })),
          skipped: m.skipped,
          app: m.app,
        };
        print(opts, contents, () => {
          const out: string[] = [];
          for (const d of contents.databases) {
            out.push(`database ${d.name} (dump ${formatBytes(d.dumpSize)}${d.members.length > 1 ? ` in ${d.members.length} parts` : ''})`);
            out.push(indent(table(['TABLE', 'ROWS', 'COLUMNS'], d.tables.map((t) => [`${t.schema}.${t.name}`, t.dataExcluded ? '(schema only)' : t.rows === null ? '(partitioned)' : String(t.rows), String(t.columns)]))));
            if (d.extensions.length) out.push(`  extensions: ${d.extensions.join(', ')}`);
          }
          if (contents.globals) out.push('roles and tablespaces (databases/globals.sql)');
          if (contents.files.length) {
            out.push('files');
            out.push(indent(table(['SET', 'PATH', 'SIZE', 'MODE'], contents.files.map((f) => [f.set, f.path + (f.type === 'directory' ? '/' : ''), f.type === 'file' ? formatBytes(f.size) : f.type, f.mode]))));
          }
          for (const s of contents.skipped) out.push(`skipped ${s.path} (${s.reason})`);
          if (contents.app.items.length) {
            out.push(`app items (${contents.app.profile})`);
            out.push(indent(table(['KIND', 'ID', 'NAME'], contents.app.items.map((i) => [i.kind, i.id, i.name]))));
          }
          return out.join('\n') || 'empty backup';
        });
      });
    });

  program
    .command('restore')
    .description('restore databases from a backup: plan, check, safety backup, restore, verify')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--database <name...>', 'only these databases (names in the backup)')
    .option('--to <url>', 'restore one database into this database URL instead (created if absent)')
    .option('--table <schema.table...>', 'only these tables of the one database named by --database (in place, or see --rename-to)')
    .option('--rename-to <name>', 'restore the one --table beside the live one under this name')
    .option('--file <selector...>', 'only these files: a set name, set:/path or /path (a file or a directory)')
    .option('--to-dir <dir>', 'restore files under this directory instead of their original places')
    .option('--globals', 'also restore roles and tablespaces (existing ones are kept as they are)')
    .option('--dry-run', 'show the plan and the checks, change nothing')
    .option('--yes', 'confirm replacing existing data without asking')
    .option('--force', 'restore despite schema or server version differences')
    .option('--no-owner', 'skip object ownership and grants (target server lacks the original roles)')
    .option('--workflow <id-or-name...>', 'n8n: only these workflows, written by --as-file (the database is not restored)')
    .option('--all-workflows', 'n8n: every workflow in the backup')
    .option('--as-file <path>', 'with --workflow: write the JSON `n8n import:workflow` reads (- for stdout)')
    .option('--to-n8n', 'with --workflow: create it in the target\'s running n8n (n8n.url, n8n.apiKey), inactive, named <name>_backup_<YYYYMMDD>')
    .option('--name <name>', 'with --to-n8n and one --workflow: the new workflow\'s name')
    .option('--workflow-version <versionId>', 'with one --workflow: that older version, from n8n\'s workflow_history (contents --workflows --json lists them)')
    .action(async (prefix: string, o: { globals?: boolean; database?: string[]; table?: string[]; renameTo?: string; to?: string; file?: string[]; toDir?: string; dryRun?: boolean; yes?: boolean; force?: boolean; owner: boolean; workflow?: string[]; allWorkflows?: boolean; asFile?: string; toN8n?: boolean; name?: string; workflowVersion?: string }, cmd: Command) => {
      const opts = globals(cmd);
      if ((o.workflow || o.allWorkflows) && o.toN8n) {
        await withCatalog(opts, async (loaded, catalog) => {
          const listener = progressListener({ json: opts.json === true });
          const r = await restoreWorkflowsToN8n(loaded, catalog, prefix, o.allWorkflows ? 'all' : o.workflow!, { name: o.name, version: o.workflowVersion, listener });
          listener.end();
          print(opts, r, () => r.created.map((c) => `created "${c.name}" (${c.id}) in n8n from workflow ${c.from} of ${r.backupId}, inactive`).join('\n'));
        });
        return;
      }
      if (o.workflow || o.allWorkflows) {
        if (!o.asFile) throw new LifeboatError('E_USAGE', '--workflow needs --as-file <path> (or - for stdout) or --to-n8n', { hint: 'e.g. lifeboat restore <backup> --workflow "My flow" --as-file flow.json, then n8n import:workflow --input=flow.json' });
        await withCatalog(opts, async (loaded, catalog) => {
          const listener = progressListener({ json: opts.json === true || o.asFile === '-' });
          const { backupId, workflows } = await exportWorkflows(loaded, catalog, prefix, o.allWorkflows ? 'all' : o.workflow!, { listener, version: o.workflowVersion });
          listener.end();
          const body = JSON.stringify(workflows.length === 1 && !o.allWorkflows ? workflows[0] : workflows, null, 2) + '\n';
          if (o.asFile === '-') process.stdout.write(body);
          else {
            writeFileSync(o.asFile!, body, { mode: 0o600 });
            print(opts, { backupId, file: o.asFile, workflows: workflows.map((w) => ({ id: w.id, name: w.name })) }, () =>
              `wrote ${workflows.length} workflow(s) from ${backupId} to ${o.asFile} (inactive; checksums match the backup)\nimport them with: n8n import:workflow --input=${o.asFile}`);
          }
        });
        return;
      }
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { plan, report } = await runRestore(loaded, catalog, prefix, {
            globals: o.globals, databases: o.database, tables: o.table, renameTo: o.renameTo, to: o.to, files: o.file, toDir: o.toDir, dryRun: o.dryRun, yes: o.yes, force: o.force, noOwner: !o.owner,
            signal: interrupt.signal, listener,
            confirm: process.stdin.isTTY && !opts.json ? (p) => confirmOnTerminal(p) : undefined,
          });
          listener.end();
          print(opts, report ?? { plan }, () => (report ? describeReport(report) : describePlan(plan)));
        } finally {
          listener.end();
          interrupt.dispose();
        }
      });
    });

  program
    .command('verify')
    .description('prove a backup: checksums (--quick), or a test restore into a throwaway cluster compared with the manifest')
    .argument('[backup]', 'backup id or a unique prefix of it')
    .option('--quick', 'only check that every copy is stored, decrypts and matches its checksums')
    .option('--all-pending', 'verify every backup that the targets\' verification policies say is due')
    .action(async (prefix: string | undefined, o: { quick?: boolean; allPending?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      if (!prefix && !o.allPending) throw new LifeboatError('E_USAGE', 'name a backup to verify, or pass --all-pending');
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const ids = prefix ? [prefix] : pendingVerifications(loaded, catalog);
          const reports: VerifyReport[] = [];
          for (const id of ids) reports.push(await runVerify(loaded, catalog, id, { quick: o.quick, signal: interrupt.signal, listener }));
          listener.end();
          print(opts, prefix ? reports[0] : reports, () =>
            reports.length === 0
              ? 'no backup is due for verification'
              : reports.map((report) => [
                ...report.checks.map((c) => `${c.ok ? 'pass' : c.warning ? 'WARN' : 'FAIL'}  ${c.name}${c.ok ? (c.actual ? `: ${c.actual}` : '') : `: expected ${c.expected ?? '-'}, got ${c.actual ?? '-'}`}`),
                `${report.level} verification of ${report.backupId} ${report.ok ? 'passed' : 'FAILED'} in ${duration(report.durationMs)}`,
              ].join('\n')).join('\n\n'),
          );
          if (reports.some((r) => !r.ok)) process.exitCode = 1;
        } finally {
          listener.end();
          interrupt.dispose();
        }
      });
    });

  program
    .command('restores')
    .description('restore history, newest first')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const restores = catalog.listRestores();
        print(opts, restores, () =>
          restores.length === 0
            ? 'no restores yet'
            : table(['STARTED', 'BACKUP', 'BY', 'STATUS', 'SAFETY BACKUP', 'ERROR'], restores.map((r) => [r.startedAt, r.backupId, r.requestedBy, r.status, r.safetyBackupId ?? '-', r.error ?? ''])),
        );
      });
    });

  const catalogCmd = program.command('catalog').description('the catalog: Lifeboat\'s index of backups');
  catalogCmd
    .command('rebuild')
    .description('recreate the catalog from the manifests in every configured storage')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const report = await rebuildCatalog(loaded, catalog, { listener });
        listener.end();
        print(opts, report, () =>
          [`read ${report.storages.length} storage(s): ${report.added.length} backup(s) added, ${report.updated.length} already known`,
            ...report.unreachable.map((u) => `could not list storage ${u.storage}: ${u.error}`),
            ...report.unreadable.map((u) => `could not read ${u.key} on ${u.storage}: ${u.error}`)].join('\n'),
        );
        if (report.unreadable.length || report.unreachable.length) process.exitCode = 1;
      });
    });

  program
    .command('prune')
    .description('apply retention: delete what the rules no longer keep (see README, "Retention")')
    .option('--target <name>', 'only this target')
    .option('--dry-run', 'show each backup\'s decision and its reasons; change nothing')
    .action(async (o: { target?: string; dryRun?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const outcomes = await runPrune(loaded, catalog, { target: o.target, dryRun: o.dryRun, listener });
        listener.end();
        const label: Record<PruneOutcome['result'], string> = { kept: 'keep', deleted: 'DELETED', pending: 'PENDING', cancelled: 'keep (cancelled)', 'would-delete': 'DELETE', failed: 'FAILED' };
        print(opts, outcomes, () =>
          outcomes.length === 0
            ? 'no backups'
            : table(['BACKUP', 'DECISION', 'WHY'], outcomes.map((x) => [x.id, label[x.result], [x.deleteAt ? `at ${x.deleteAt}` : '', x.error ?? '', x.reasons.join('; ')].filter(Boolean).join(': ')])) +
              (o.dryRun ? '\ndry run: nothing was changed' : ''),
        );
        if (outcomes.some((x) => x.result === 'failed')) process.exitCode = 1;
      });
    });

  program
    .command('delete')
    .description('delete one backup now, from every storage (a protected backup must be unprotected first)')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--yes', 'do not ask')
    .action(async (prefix: string, o: { yes?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        if (!o.yes) {
          if (!process.stdin.isTTY || opts.json) throw new LifeboatError('E_USAGE', `deleting ${b.id} cannot be undone`, { hint: 'pass --yes to confirm, or run it on a terminal to be asked' });
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Delete ${b.id} (${b.size === null ? '-' : formatBytes(b.size)}) from ${b.locations.map((l) => l.storage).join(', ') || 'the catalog'}? Type its id to confirm: `).finally(() => rl.close());
          if (answer.trim() !== b.id) throw new LifeboatError('E_USAGE', 'not confirmed: nothing was deleted');
        }
        const deleted = await runDelete(loaded, catalog, b.id, { listener: progressListener({ json: opts.json === true }) });
        print(opts, { id: deleted.id, status: deleted.status }, () => `deleted ${deleted.id}`);
      });
    });

  program
    .command('protect')
    .description('keep a backup whatever retention says (and cancel a pending deletion)')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--days <n>', 'only for this many days (default: until unprotected)')
    .action(async (prefix: string, o: { days?: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        if (b.status === 'deleted') throw new LifeboatError('E_USAGE', `backup ${b.id} is deleted`);
        const days = o.days === undefined ? undefined : Number(o.days);
        if (days !== undefined && !(days > 0)) throw new LifeboatError('E_USAGE', `--days ${o.days}: give a positive number of days`);
        const until = days === undefined ? null : new Date(Date.now() + days * 86_400_000);
        catalog.setProtection(b.id, until);
        print(opts, { id: b.id, protected: true, protectedUntil: until?.toISOString() ?? null }, () => `protected ${b.id}${until ? ` until ${until.toISOString()}` : ''}`);
      });
    });

  program
    .command('unprotect')
    .description('let retention decide about a backup again')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(async (prefix: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        catalog.unprotect(b.id);
        print(opts, { id: b.id, protected: false }, () => `unprotected ${b.id}: retention decides about it again at the next prune`);
      });
    });

  program
    .command('cancel-deletion')
    .description('keep a backup whose deletion is pending: it is protected, so retention leaves it alone until `unprotect`')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(async (prefix: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const b = catalog.resolveBackup(prefix);
        if (b.deletionStatus !== 'pending') throw new LifeboatError('E_USAGE', `backup ${b.id} has no pending deletion`);
        // Only cancelling would let the next prune announce it again: keeping it means protecting it.
        catalog.setProtection(b.id, null);
        print(opts, { id: b.id, deletionStatus: 'none', protected: true }, () => `deletion of ${b.id} cancelled; it is protected now (\`lifeboat unprotect ${b.id}\` lets retention decide again)`);
      });
    });

  program
    .command('serve')
    .description('run the daemon: scheduled backups, retention every hour, alerts; stops gracefully on SIGTERM/Ctrl-C')
    .option('--grace <seconds>', 'on stop, how long running backups may finish before they are cancelled', '300')
    .addOption(new Option('--tick <seconds>', 'time between scheduler ticks').default('15').hideHelp())
    .action(async (o: { grace: string; tick: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const controller = new AbortController();
        const onSignal = (sig: NodeJS.Signals) => {
          if (controller.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
          process.stderr.write(`${sig}: stopping (again to quit at once)\n`);
          controller.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const log = (level: string, message: string) => process.stderr.write(`${new Date().toISOString()} ${level}: ${message}\n`);
        try {
          await runDaemon(loaded, catalog, controller.signal, { tickMs: Number(o.tick) * 1000, graceMs: Number(o.grace) * 1000, log });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });

  program
    .command('status')
    .description('the daemon, next runs, running jobs, the last result per target, storage use')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const now = new Date();
        catalog.syncSchedules(configSchedules(loaded));
        const lease = catalog.getLease(LEASE);
        const up = lease !== undefined && new Date(lease.expiresAt) > now;
        const upcoming = Scheduler.upcoming(catalog, now);
        const running = catalog.runningJobs();
        const targets = Object.keys(loaded.config.targets).map((name) => {
          const last = catalog.listBackups(name)[0];
          const lastOk = catalog.listBackups(name).find((b) => b.status === 'ok' || b.status === 'degraded');
          return { target: name, last: last && { id: last.id, status: last.status, startedAt: last.startedAt }, lastSuccess: lastOk?.startedAt ?? null };
        });
        const usage = catalog.storageUsage();
        const report = { daemon: { up, holder: lease?.holder ?? null, heartbeatAt: lease?.heartbeatAt ?? null, mode: loaded.config.daemon.schedulerMode }, schedules: upcoming.map((u) => ({ ...u.schedule, next: u.next?.toISOString() ?? null })), running, targets, storage: usage };
        print(opts, report, () => [
          `daemon      ${up ? `up: ${lease!.holder}, heartbeat ${duration(now.getTime() - Date.parse(lease!.heartbeatAt))} ago` : 'not running (start it with `lifeboat serve`)'}; scheduler mode ${loaded.config.daemon.schedulerMode}`,
          '',
          upcoming.length ? table(['ID', 'TARGET', 'SCHEDULE', 'ZONE', 'NEXT RUN'], upcoming.map((u) => [String(u.schedule.id), u.schedule.target, u.schedule.spec, u.schedule.timezone, u.next ? u.next.toISOString() : 'paused'])) : 'no schedules',
          '',
          running.length ? table(['RUNNING', 'TARGET', 'TRIGGER', 'STARTED'], running.map((j) => [j.kind, j.target ?? '-', j.trigger, j.startedAt])) : 'nothing running',
          '',
          table(['TARGET', 'LAST BACKUP', 'STATUS', 'LAST SUCCESS'], targets.map((t) => [t.target, t.last?.id ?? '-', t.last?.status ?? '-', t.lastSuccess ? `${duration(now.getTime() - Date.parse(t.lastSuccess))} ago` : 'never'])),
          ...(usage.length ? ['', table(['STORAGE', 'USED BY LIFEBOAT', 'FREE', 'CHECKED'], usage.map((u) => [u.storage, formatBytes(u.usedBytes), u.freeBytes === null ? '-' : formatBytes(u.freeBytes), u.checkedAt]))] : []),
        ].join('\n'));
      });
    });

  const scheduleCmd = program.command('schedule').description('the daemon\'s schedules: seeded from lifeboat.yaml, editable here');
  const schedules = (catalog: Catalog, loaded: LoadedConfig) => {
    catalog.syncSchedules(configSchedules(loaded));
    return catalog.listSchedules();
  };
  const scheduleId = (text: string) => {
    const id = Number(text);
    if (!Number.isInteger(id) || id < 1) throw new LifeboatError('E_USAGE', `"${text}" is not a schedule id`, { hint: 'run `lifeboat schedule list`' });
    return id;
  };
  const zoneOf = (zone: string | undefined) => {
    if (zone === undefined) return Intl.DateTimeFormat().resolvedOptions().timeZone;
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
    } catch {
      throw new LifeboatError('E_USAGE', `--timezone ${zone}: not an IANA time zone`, { hint: 'e.g. Europe/Amsterdam or UTC' });
    }
    return zone;
  };
  scheduleCmd
    .command('list')
    .description('every schedule with its next run')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        schedules(catalog, loaded);
        const upcoming = Scheduler.upcoming(catalog, new Date());
        print(opts, upcoming.map((u) => ({ ...u.schedule, next: u.next?.toISOString() ?? null })), () =>
          upcoming.length === 0
            ? 'no schedules: add one with `lifeboat schedule add <target> "daily at 02:00"` or schedule: in lifeboat.yaml'
            : table(['ID', 'TARGET', 'SCHEDULE', 'CRON', 'ZONE', 'FROM', 'NEXT RUN'], upcoming.map((u) => [String(u.schedule.id), u.schedule.target, u.schedule.spec, u.schedule.cron, u.schedule.timezone, u.schedule.configKey ? 'config' : 'added', u.next ? u.next.toISOString() : 'PAUSED'])),
        );
      });
    });
  scheduleCmd
    .command('add')
    .description('add a schedule: a cron expression or a preset (hourly, "daily at 02:00", "weekly on sunday at 03:00", "monthly on day 1")')
    .argument('<target>', 'target name')
    .argument('<schedule>', 'cron expression or preset')
    .option('--timezone <zone>', 'IANA time zone (default: the system\'s)')
    .action(async (target: string, spec: string, o: { timezone?: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        if (!loaded.config.targets[target]) throw new LifeboatError('E_NOT_FOUND', `no target named "${target}"`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ')}` });
        const cron = usageError(() => toCron(spec));
        const id = catalog.addSchedule({ target, spec, cron, timezone: zoneOf(o.timezone) });
        print(opts, catalog.getSchedule(id), () => `added schedule ${id}: ${target} ${spec} (${cron}); next run ${Scheduler.upcoming(catalog, new Date()).find((u) => u.schedule.id === id)!.next!.toISOString()}`);
      });
    });
  scheduleCmd
    .command('edit')
    .description('change a schedule\'s expression or zone (a schedule from lifeboat.yaml changes back when the file changes it)')
    .argument('<id>', 'schedule id')
    .argument('[schedule]', 'new cron expression or preset')
    .option('--timezone <zone>', 'new IANA time zone')
    .action(async (idText: string, spec: string | undefined, o: { timezone?: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        schedules(catalog, loaded);
        const id = scheduleId(idText);
        if (spec === undefined && o.timezone === undefined) throw new LifeboatError('E_USAGE', 'give a new schedule, --timezone, or both');
        catalog.updateSchedule(id, { spec, cron: spec === undefined ? undefined : usageError(() => toCron(spec)), timezone: o.timezone === undefined ? undefined : zoneOf(o.timezone) });
        print(opts, catalog.getSchedule(id), () => `schedule ${id}: ${catalog.getSchedule(id).spec} (${catalog.getSchedule(id).timezone})`);
      });
    });
  for (const [name, paused] of [['pause', true], ['resume', false]] as const) {
    scheduleCmd
      .command(name)
      .description(paused ? 'stop a schedule from starting backups (its missed runs are not caught up)' : 'let a paused schedule start backups again')
      .argument('<id>', 'schedule id')
      .action(async (idText: string, _o: unknown, cmd: Command) => {
        const opts = globals(cmd);
        await withCatalog(opts, async (loaded, catalog) => {
          schedules(catalog, loaded);
          const id = scheduleId(idText);
          catalog.updateSchedule(id, { paused });
          print(opts, catalog.getSchedule(id), () => `schedule ${id} ${paused ? 'paused' : 'resumed'}`);
        });
      });
  }
  scheduleCmd
    .command('remove')
    .description('remove a schedule added here (one from lifeboat.yaml: remove it there, or pause it)')
    .argument('<id>', 'schedule id')
    .action(async (idText: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        schedules(catalog, loaded);
        const id = scheduleId(idText);
        if (catalog.getSchedule(id).configKey) throw new LifeboatError('E_USAGE', `schedule ${id} comes from ${loaded.file}`, { hint: `remove it there, or \`lifeboat schedule pause ${id}\`` });
        catalog.removeSchedule(id);
        print(opts, { id, removed: true }, () => `removed schedule ${id}`);
      });
    });
  scheduleCmd
    .command('run-now')
    .description('run a schedule\'s backup now, in this process (with its check and retention), as the daemon would')
    .argument('<id>', 'schedule id')
    .action(async (idText: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        schedules(catalog, loaded);
        const s = catalog.getSchedule(scheduleId(idText));
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const flow = await runBackupFlow(loaded, catalog, s.target, { trigger: 'schedule', signal: interrupt.signal, listener });
          listener.end();
          print(opts, { id: flow.backup.id, schedule: s.id }, () => `backup ${flow.backup.id} of ${s.target} (schedule ${s.id})`);
        } finally {
          listener.end();
          interrupt.dispose();
        }
      });
    });

  const notifyCmd = program.command('notify').description('notification channels');
  notifyCmd
    .command('test')
    .description('send a test event to one channel now and print the outcome')
    .argument('<channel>', 'channel name under notifications: in lifeboat.yaml')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const channel = loaded.config.notifications?.[name];
        if (!channel) {
          const names = Object.keys(loaded.config.notifications ?? {});
          throw new LifeboatError('E_NOT_FOUND', `no notification channel named "${name}" in ${loaded.file}`, { hint: names.length ? `configured channels: ${names.join(', ')}` : 'add one under notifications:' });
        }
        const { eventId } = catalog.recordDirectEvent({ kind: 'test', severity: 'info', message: `test notification from lifeboat to channel ${name} (${channel.type})` }, name, 1);
        const [outcome] = await flushNotifications(loaded, catalog, { only: { eventId } });
        print(opts, outcome, () => (outcome!.ok ? `sent a test event to ${name} (${channel.type})${outcome!.statusCode ? `: HTTP ${outcome!.statusCode}` : ''}` : `FAILED to send to ${name} (${channel.type}): ${outcome!.error}`));
        if (!outcome!.ok) process.exitCode = 1;
      });
    });

  program
    .command('events')
    .description('the event log (what notifications are sent from), newest first')
    .option('--unread', 'only events not marked read')
    .option('--mark-read', 'mark the events shown as read')
    .option('--limit <n>', 'how many', '50')
    .action(async (o: { unread?: boolean; markRead?: boolean; limit: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (_loaded, catalog) => {
        const events = catalog.listEvents({ unread: o.unread, limit: Number(o.limit) }).filter((e) => e.kind !== 'test');
        if (o.markRead) catalog.markEventsRead(events.map((e) => e.id));
        print(opts, events, () =>
          events.length === 0 ? 'no events' : table(['AT', 'EVENT', 'SEVERITY', 'TARGET', 'MESSAGE'], events.map((e) => [e.at.replace('T', ' ').slice(0, 19), e.kind, e.severity, e.target ?? '-', e.message])),
        );
      });
    });

  program
    .command('replicate')
    .description('copy backups to every storage their target names that lacks a good copy (failed replicas, new replicas, a lost primary)')
    .requiredOption('--pending', 'copy everything pending (the only mode for now)')
    .option('--target <name>', 'only this target')
    .action(async (o: { target?: string }, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const report = await runReplicatePending(loaded, catalog, { target: o.target, signal: interrupt.signal, listener });
          listener.end();
          const failed = report.copies.filter((c) => c.status === 'failed');
          print(opts, report, () =>
            report.copies.length === 0 && report.lost.length === 0
              ? 'nothing pending: every backup is on every storage its target names'
              : [
                  ...report.copies.map((c) => (c.status === 'ok' ? `copied ${c.backupId} to ${c.storage} (${formatBytes(c.bytes ?? 0)} from ${c.from})` : `FAILED ${c.backupId} to ${c.storage}: ${c.error}`)),
                  ...report.lost.map((id) => `LOST ${id}: no good copy left anywhere`),
                ].join('\n'),
          );
          if (failed.length || report.lost.length) process.exitCode = 1;
        } finally {
          listener.end();
          interrupt.dispose();
        }
      });
    });

  const storageCmd = program.command('storage').description('the storages bundles are kept on');
  const space = (h: StorageHealth) => (h.freeBytes === null ? '-' : `${formatBytes(h.freeBytes)} of ${formatBytes(h.totalBytes ?? 0)}`);
  storageCmd
    .command('list')
    .description('every configured storage: reachable, free space, what Lifeboat keeps there')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const report: StorageHealth[] = [];
        for (const name of Object.keys(loaded.config.storages)) report.push(await checkStorage(loaded, catalog, name));
        print(opts, report, () =>
          table(['NAME', 'TYPE', 'REACHABLE', 'FREE', 'USED BY LIFEBOAT', 'BUNDLES', 'PROBLEM'], report.map((h) => [
            h.name, h.type, h.reachable ? 'yes' : 'NO', space(h), h.usedBytes === null ? '-' : formatBytes(h.usedBytes), h.bundles === null ? '-' : String(h.bundles), h.error ?? '',
          ])),
        );
        if (report.some((h) => !h.reachable)) process.exitCode = 1;
      });
    });
  storageCmd
    .command('test')
    .description('prove a storage works: list it, write, read back and delete a probe object, read its free space')
    .argument('<name>', 'storage name from lifeboat.yaml')
    .action(async (name: string, _o: unknown, cmd: Command) => {
      const opts = globals(cmd);
      await withCatalog(opts, async (loaded, catalog) => {
        const h = await checkStorage(loaded, catalog, name, { write: true });
        print(opts, h, () => [
          `storage ${h.name} (${h.type}), checked in ${duration(h.ms)}`,
          `  reachable   ${h.reachable ? 'yes' : 'NO'}`,
          `  writable    ${h.writable ? 'yes (probe written, read back and deleted)' : h.writable === false ? 'NO' : '-'}`,
          `  free        ${h.freeBytes === null ? 'not reported by this backend (set quota: to cap use)' : space(h)}`,
          `  used        ${h.usedBytes === null ? '-' : `${formatBytes(h.usedBytes)} in ${h.objects} objects, ${h.bundles} bundles`}`,
          ...(h.error ? [`  problem     ${h.error}`] : []),
        ].join('\n'));
        if (!h.reachable || !h.writable) process.exitCode = 1;
      });
    });

  return program;
}

/** Runs `fn`, turning a config error (a bad schedule typed on the command line) into a usage error. */
function usageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = asLifeboatError(err);
    throw e.code === 'E_CONFIG' ? new LifeboatError('E_USAGE', e.message, { hint: e.hint }) : e;
  }
}

function describeOutcome(o: PruneOutcome): string {
  const why = o.reasons.join('; ');
  switch (o.result) {
    case 'deleted':
      return `deleted ${o.id} (${why})`;
    case 'pending':
      return `${o.id} will be deleted at ${o.deleteAt} (${why})`;
    case 'cancelled':
      return `${o.id}: pending deletion cancelled (kept: ${why})`;
    case 'would-delete':
      return `would delete ${o.id} (${why})`;
    case 'failed':
      return `could not delete ${o.id}: ${o.error}`;
    case 'kept':
      return `kept ${o.id} (${why})`;
  }
}

function describePlan(plan: RestorePlan): string {
  const lines = [`restore plan for backup ${plan.backupId} (from ${plan.storage}:${plan.key})`];
  for (const d of plan.databases) {
    lines.push(`  ${d.action === 'replace' ? 'REPLACE' : 'create '} ${d.database} on ${d.server} from ${d.source}: ${d.tables} tables, ${d.rows} rows, ${formatBytes(d.dumpSize)} dump`);
  }
  if (plan.globals) lines.push('  create the roles and tablespaces the target lacks (existing ones are kept as they are)');
  for (const t of plan.tables) {
    const what = t.action === 'replace' ? `REPLACE the rows of ${t.table}` : t.action === 'beside' ? `create ${t.as} beside ${t.table}` : `create ${t.table}`;
    lines.push(`  ${what} in ${t.database}: ${t.rows} rows, with its indexes, constraints and owned sequences`);
  }
  for (const f of plan.files) {
    lines.push(`  ${f.action === 'overwrite' ? 'OVERWRITE' : 'create'} ${f.destination}${f.type === 'directory' ? '/' : f.type === 'symlink' ? ' (symlink)' : ` (${formatBytes(f.size)})`}`);
  }
  if (plan.safetyBackup) lines.push('  a protected safety backup of what is replaced is taken first');
  lines.push('checks');
  for (const c of plan.checks) lines.push(`  ${c.ok ? 'pass' : c.overridable ? 'WARN' : 'FAIL'}  ${c.name}: ${c.detail}`);
  return lines.join('\n');
}

function describeReport(report: RestoreReport): string {
  const lines = report.restored.map((r) => `restored ${r.database}: ${r.tables} tables, row counts verified${r.terminatedConnections ? `, ${r.terminatedConnections} connection(s) terminated` : ''}`);
  if (report.roles) lines.push(`roles: created ${report.roles.created.join(', ') || 'none'}; kept as they were: ${report.roles.kept.join(', ') || 'none'}`);
  for (const t of report.tables) {
    lines.push(`restored ${t.table}${t.restoredAs !== t.table ? ` as ${t.restoredAs}` : ''}: ${t.rows} rows, row count verified`);
    for (const fk of t.skippedForeignKeys) lines.push(`  foreign key not added: ${fk}`);
  }
  const files = report.files.filter((f) => f.verified);
  if (report.files.length) lines.push(`restored ${report.files.length} file-system entries (${files.length} verified)${report.files.length <= 10 ? ': ' + report.files.map((f) => f.destination).join(', ') : ''}`);
  if (report.safetyBackupId) lines.push(`safety backup: ${report.safetyBackupId} (protected; restore it to undo)`);
  return lines.join('\n');
}

/** Shows the plan and asks for the word RESTORE before existing data is replaced. */
async function confirmOnTerminal(plan: RestorePlan): Promise<boolean> {
  process.stderr.write(describePlan(plan) + '\n');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('This replaces existing data. Type RESTORE to continue: ');
    return answer.trim() === 'RESTORE';
  } finally {
    rl.close();
  }
}

function indent(s: string): string {
  return s.replace(/^/gm, '  ');
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const e = asLifeboatError(err);
    if (json) {
      process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint } }, null, 2) + '\n');
    } else {
      process.stderr.write(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
      if (e.code === 'E_INTERNAL' && process.env.LIFEBOAT_DEBUG) process.stderr.write(`${(e.cause as Error)?.stack ?? ''}\n`);
    }
    return e.exitCode;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
