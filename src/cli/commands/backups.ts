import { existsSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import type { BackupRecord } from '../../catalog/catalog.ts';
import { LifeboatError } from '../../errors.ts';
import { duration, formatBytes, progressListener, table } from '../output.ts';
import { print, interruptSignal, globals, indent, catalogAction, auditedAction } from '../context.ts';
import { describeOutcome } from './retention.ts';
import { drillLines } from './drill.ts';
import { initDocker } from './discover.ts';

/** Backing up and looking: init, backup, list, show, contents. */
export function registerBackups(program: Command): void {
  program
    .command('init')
    .description('write a commented lifeboat.yaml: one local storage, one target from DATABASE_URL or PG* variables')
    .option('--target <name>', 'name of the target', 'app')
    .option('--storage-path <dir>', 'where the local storage keeps bundles', './backups')
    .option('--force', 'overwrite an existing file')
    .option('--docker', 'one target per PostgreSQL container on the Docker engine (see lifeboat discover)')
    .action(async (o: { target: string; storagePath: string; force?: boolean; docker?: boolean }, cmd: Command) => {
      const opts = globals(cmd);
      const [{ configPath }, { initialConfig }] = await Promise.all([import('../../config/load.ts'), import('../../config/template.ts')]);
      const file = configPath(opts.config);
      if (o.docker) {
        const containers = await initDocker(file, o);
        return print(opts, { file, containers }, () => `wrote ${file} for ${containers.join(', ')}\nnext: lifeboat config check`);
      }
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
    .action(
      auditedAction({ action: 'backup.start' }, async ({ opts, loaded, catalog, audit }, targetName: string) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { runBackupFlow } = await import('../../jobs/backup-flow.ts');
          const flow = await runBackupFlow(loaded, catalog, targetName, { signal: interrupt.signal, listener });
          const r = flow.backup;
          audit.detail.backup = { id: r.id, size: r.size, storage: r.storage, replicas: r.replicas.map((c) => `${c.storage}: ${c.status}`), pruned: flow.prune?.filter((o) => o.result === 'deleted').map((o) => o.id) };
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
      }),
    );

  program
    .command('list')
    .description('list backups, newest first')
    .argument('[target]', 'only this target')
    .option('--all', 'include deleted backups (their records are kept for history)')
    .action(
      catalogAction(async ({ opts, loaded, catalog }, target: string | undefined, o: { all?: boolean }) => {
        if (target && !loaded.config.targets[target] && catalog.listBackups(target).length === 0) {
          throw new LifeboatError('E_NOT_FOUND', `no target named "${target}"`, { hint: `configured targets: ${Object.keys(loaded.config.targets).join(', ')}` });
        }
        const backups = catalog.listBackups(target, { includeDeleted: o.all });
        print(opts, backups.map(({ locations: _l, ...b }) => b), () =>
          backups.length === 0
            ? 'no backups yet; run `lifeboat backup <target>`'
            : table(['ID', 'TARGET', 'STARTED', 'SIZE', 'DURATION', 'STATUS', 'VERIFIED'], backups.map(backupRow)),
        );
      }),
    );

  program
    .command('show')
    .description('one backup in detail')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(
      catalogAction(async ({ opts, catalog }, prefix: string) => {
        const b = catalog.resolveBackup(prefix);
        const m = catalog.getManifest(b.id);
        const drill = catalog.listDrills(b.id, 1)[0];
        print(opts, { ...b, manifest: m && { ...m, members: undefined }, lastDrill: drill ?? null }, () => {
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
            `trust       ${b.trust === 'trusted' ? 'trusted (made by this installation)' : `UNTRUSTED: ${b.trustReason ?? 'no key of this installation vouches for it'}; restore needs --trust-foreign, files only with --to-dir`}`,
          ];
          for (const l of b.locations) lines.push(`stored      ${l.storage}: ${l.key} (${l.status}${l.error ? `: ${l.error}` : ''})`);
          lines.push(...(drill ? drillLines(drill) : ['drill       never (`lifeboat drill ' + b.id + '`)']));
          if (m) {
            if (m.postgres) lines.push(`postgres    server ${m.postgres.serverVersion}, pg_dump ${m.postgres.pgDumpVersion}${m.postgres.globals ? ', with roles' : ''}`);
            if (b.summary) lines.push(`contents    ${b.summary.databases} database(s), ${b.summary.tables} tables, ${b.summary.rows} rows, ${b.summary.files} files, ${b.summary.appItems} app items`);
            for (const w of m.warnings) lines.push(`warning     ${w}`);
          }
          return lines.join('\n');
        });
      }),
    );

  program
    .command('contents')
    .description('what a backup holds: databases, tables with row counts, files, app items')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--workflows', 'only the n8n workflows, from the manifest (the bundle is not opened)')
    .option('--search <text>', 'with --workflows: those whose name, id or tags contain this')
    .action(
      catalogAction(async ({ opts, catalog }, prefix: string, o: { workflows?: boolean; search?: string }) => {
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
          if (contents.app.migrations?.length) out.push(...describeMigrations(contents.app.profile, contents.app.migrations));
          return out.join('\n') || 'empty backup';
        });
      }),
    );
}

/**
 * The migration state a profile recorded: Django's per app (its latest migration), others' as
 * the latest ones applied.
 */
function describeMigrations(profile: string, migrations: { name: string; appliedAt?: string }[]): string[] {
  const at = (m: { appliedAt?: string }) => (m.appliedAt ? m.appliedAt.slice(0, 19).replace('T', ' ') : '-');
  const head = `migrations (${profile}): ${migrations.length} applied`;
  if (profile === 'django') {
    const apps = new Map<string, { count: number; latest: { name: string; appliedAt?: string } }>();
    for (const m of migrations) {
      const dot = m.name.indexOf('.');
      const app = m.name.slice(0, dot);
      const a = apps.get(app);
      apps.set(app, { count: (a?.count ?? 0) + 1, latest: { ...m, name: m.name.slice(dot + 1) } });
    }
    return [head, indent(table(['APP', 'APPLIED', 'LATEST', 'AT'], [...apps].map(([app, a]) => [app, String(a.count), a.latest.name, at(a.latest)])))];
  }
  const shown = migrations.slice(-10);
  return [head, indent(table(['MIGRATION', 'APPLIED AT'], shown.map((m) => [m.name, at(m)]))), ...(migrations.length > shown.length ? [`  and ${migrations.length - shown.length} earlier`] : [])];
}

const verification = (b: BackupRecord) => (b.verificationStatus === 'unverified' ? '-' : b.verificationStatus);

function backupRow(b: BackupRecord): string[] {
  const took = b.summary ? duration(b.summary.durationMs) : b.finishedAt ? duration(Date.parse(b.finishedAt) - Date.parse(b.startedAt)) : '-';
  const status = b.deletionStatus === 'pending' ? `${b.status}, deleted at ${b.deleteAfter!.slice(0, 16).replace('T', ' ')}Z` : b.protected ? `${b.status}, protected` : b.status;
  return [b.id, b.target, b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), b.size === null ? '-' : formatBytes(b.size), took, b.trust === 'untrusted' ? `${status}, UNTRUSTED` : status, verification(b)];
}
