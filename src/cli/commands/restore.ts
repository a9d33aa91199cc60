import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import { LifeboatError } from '../../errors.ts';
import type { ToastChoice } from '../../postgres/load-settings.ts';
import type { RestorePlan, RestoreReport } from '../../jobs/restore.ts';
import { formatBytes, progressListener, table } from '../output.ts';
import { withCatalog, print, interruptSignal, globals, catalogAction, audited } from '../context.ts';
import { addRemoteOptions, checkRemoteUsage, restoreRemote, type RemoteCliOptions } from './restore-remote.ts';

/** Restore, and its history. */
export function registerRestore(program: Command): void {
  addRemoteOptions(program
    .command('restore')
    .description('restore databases from a backup: plan, check, safety backup, restore, verify')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--database <name...>', 'only these databases (names in the backup)')
    .option('--to <url>', 'restore into another place: a database URL takes one database (created if absent); a server URL without a database (postgres://host:port/) takes every database, each under its own name')
    .option('--table <schema.table...>', 'only these tables of the one database named by --database (in place, or see --rename-to)')
    .option('--rename-to <name>', 'restore the one --table beside the live one under this name')
    .option('--file <selector...>', 'only these files: a set name, set:/path or /path (a file or a directory)')
    .option('--to-dir <dir>', 'restore files under this directory instead of their original places')
    .option('--globals', 'also restore roles and tablespaces (existing ones are kept as they are)')
    .option('--dry-run', 'show the plan and the checks, change nothing')
    .option('--yes', 'confirm replacing existing data without asking')
    .option('--force', 'restore despite schema or server version differences, or from copies a verification marked bad (every member is still checked)')
    .option('--trust-foreign', 'restore a backup no key of this installation vouches for (untrusted): databases, workflows --to-n8n, and files only with --to-dir')
    .option('--no-owner', 'skip object ownership and grants (target server lacks the original roles)')
    .addOption(new Option('--toast-compression <method>', 'how loaded rows are TOAST-compressed: auto (lz4 where the server has it and no method is configured), lz4, or server (the server\'s setting)').choices(['auto', 'lz4', 'server']).default('auto'))
    .option('--workflow <id-or-name...>', 'n8n: only these workflows, written by --as-file (the database is not restored)')
    .option('--all-workflows', 'n8n: every workflow in the backup')
    .option('--as-file <path>', 'with --workflow: write the JSON `n8n import:workflow` reads (- for stdout)')
    .option('--to-n8n', 'with --workflow: create it in the target\'s running n8n (n8n.url, n8n.apiKey), inactive, named <name>_backup_<YYYYMMDD>')
    .option('--name <name>', 'with --to-n8n and one --workflow: the new workflow\'s name')
    .option('--workflow-version <versionId>', 'with one --workflow: that older version, from n8n\'s workflow_history (contents --workflows --json lists them)')
    .action(async (prefix: string, o: { globals?: boolean; database?: string[]; table?: string[]; renameTo?: string; to?: string; file?: string[]; toDir?: string; dryRun?: boolean; yes?: boolean; force?: boolean; trustForeign?: boolean; owner: boolean; toastCompression: ToastChoice; workflow?: string[]; allWorkflows?: boolean; asFile?: string; toN8n?: boolean; name?: string; workflowVersion?: string } & RemoteCliOptions, cmd: Command) => {
      const opts = globals(cmd);
      checkRemoteUsage(o);
      if (o.remote) return restoreRemote(opts, prefix, o);
      if ((o.workflow || o.allWorkflows) && o.toN8n) {
        await withCatalog(opts, (loaded, catalog) => audited(catalog, { action: 'workflow.restore', object: prefix }, async (audit) => {
          const listener = progressListener({ json: opts.json === true });
          audit.detail.workflows = o.allWorkflows ? 'all' : o.workflow;
          const { restoreWorkflowsToN8n } = await import('../../jobs/restore-workflow.ts');
          const r = await restoreWorkflowsToN8n(loaded, catalog, prefix, o.allWorkflows ? 'all' : o.workflow!, { name: o.name, version: o.workflowVersion, trustForeign: o.trustForeign, listener });
          listener.end();
          audit.object = r.backupId;
          audit.detail.created = r.created.map((c) => `${c.name} (${c.id}) from ${c.from}`);
          print(opts, r, () => r.created.map((c) => `created "${c.name}" (${c.id}) in n8n from workflow ${c.from} of ${r.backupId}, inactive`).join('\n'));
        }));
        return;
      }
      if (o.workflow || o.allWorkflows) {
        if (!o.asFile) throw new LifeboatError('E_USAGE', '--workflow needs --as-file <path> (or - for stdout) or --to-n8n', { hint: 'e.g. lifeboat restore <backup> --workflow "My flow" --as-file flow.json, then n8n import:workflow --input=flow.json' });
        await withCatalog(opts, (loaded, catalog) => audited(catalog, { action: 'workflow.export', object: prefix }, async (audit) => {
          const listener = progressListener({ json: opts.json === true || o.asFile === '-' });
          const { exportWorkflows } = await import('../../jobs/restore-workflow.ts');
          const { backupId, workflows } = await exportWorkflows(loaded, catalog, prefix, o.allWorkflows ? 'all' : o.workflow!, { listener, version: o.workflowVersion });
          listener.end();
          audit.object = backupId;
          Object.assign(audit.detail, { workflows: workflows.map((w) => `${w.name} (${w.id})`), to: o.asFile === '-' ? 'stdout' : o.asFile });
          const body = JSON.stringify(workflows.length === 1 && !o.allWorkflows ? workflows[0] : workflows, null, 2) + '\n';
          if (o.asFile === '-') process.stdout.write(body);
          else {
            writeFileSync(o.asFile!, body, { mode: 0o600 });
            print(opts, { backupId, file: o.asFile, workflows: workflows.map((w) => ({ id: w.id, name: w.name })) }, () =>
              `wrote ${workflows.length} workflow(s) from ${backupId} to ${o.asFile} (inactive; checksums match the backup)\nimport them with: n8n import:workflow --input=${o.asFile}`);
          }
        }));
        return;
      }
      // A dry run changes nothing: it is not recorded (the API records the plans it hands out).
      await withCatalog(opts, (loaded, catalog) => audited(catalog, { action: 'restore.run', object: prefix }, async (audit) => {
        const [{ runRestore }, { blockingChecks }, { restorePlanDetail, restoreRequestDetail }] = await Promise.all([import('../../jobs/restore.ts'), import('../../jobs/plan-refusal.ts'), import('../../audit/details.ts')]);
        audit.skip = o.dryRun === true;
        audit.detail.request = restoreRequestDetail(prefix, { databases: o.database, tables: o.table, renameTo: o.renameTo, files: o.file, toDir: o.toDir, to: o.to, globals: o.globals, force: o.force, trustForeign: o.trustForeign });
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { plan, report, refusal } = await runRestore(loaded, catalog, prefix, {
            globals: o.globals, databases: o.database, tables: o.table, renameTo: o.renameTo, to: o.to, files: o.file, toDir: o.toDir, dryRun: o.dryRun, yes: o.yes, force: o.force, trustForeign: o.trustForeign, noOwner: !o.owner, toastCompression: o.toastCompression,
            signal: interrupt.signal, listener,
            confirm: process.stdin.isTTY && !opts.json ? (p) => confirmOnTerminal(p) : undefined,
          });
          listener.end();
          audit.object = plan.backupId;
          audit.detail.plan = restorePlanDetail(plan, report);
          const refused = refusal && { code: refusal.code, message: refusal.message, hint: refusal.hint };
          print(opts, report ?? { plan, ...(refused ? { refused } : {}) }, () => (report ? describeReport(report) : describePlan(plan)));
          if (refusal) {
            // The plan above shows each failed check once; this says what the real run would do.
            const failed = blockingChecks(plan.checks, o.force === true);
            const hint = failed.every((c) => c.overridable) ? 'pass --force to restore anyway' : 'each FAIL check above says what to change; --force overrides only the WARN ones';
            if (!opts.json) process.stderr.write(`error: dry run: the restore would be refused by ${failed.length} failed check(s): ${failed.map((c) => c.name).join(', ')}\nhint: ${hint}\n`);
            process.exitCode = refusal.exitCode;
          }
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }));
    }));

  program
    .command('restores')
    .description('restore history, newest first')
    .action(
      catalogAction(async ({ opts, catalog }) => {
        const restores = catalog.listRestores();
        print(opts, restores, () =>
          restores.length === 0
            ? 'no restores yet'
            : table(['STARTED', 'BACKUP', 'BY', 'STATUS', 'SAFETY BACKUP', 'ERROR'], restores.map((r) => [r.startedAt, r.backupId, r.requestedBy, r.status, r.safetyBackupId ?? '-', r.error ?? ''])),
        );
      }),
    );
}

function describePlan(plan: RestorePlan): string {
  const lines = [`restore plan for backup ${plan.backupId} (from ${plan.storage}:${plan.key})`];
  for (const d of plan.databases) {
    lines.push(`  ${d.action === 'replace' ? 'REPLACE' : 'create '} ${d.database} on ${d.server} from ${d.source}: ${d.tables} tables, ${d.rows} rows, ${formatBytes(d.dumpSize)} dump`);
  }
  if (plan.globals) lines.push('  create the roles and tablespaces the target lacks (existing ones are kept as they are)');
  for (const t of plan.tables) {
    const what = t.action === 'replace' ? `REPLACE the rows of ${t.table}` : t.action === 'beside' ? `create ${t.as} beside ${t.table}` : `create ${t.table}`;
    lines.push(`  ${what} in ${t.database}: ${t.rows} rows${t.closure ? '' : ', with its indexes, constraints and owned sequences'}`);
    if (t.closure) lines.push(...describeClosure(t.closure));
  }
  for (const f of plan.files) {
    lines.push(`  ${f.action === 'overwrite' ? 'OVERWRITE' : 'create'} ${f.destination}${f.type === 'directory' ? '/' : f.type === 'symlink' ? ' (symlink)' : ` (${formatBytes(f.size)})`}${f.volume ? ` in volume ${f.volume}` : ''}`);
  }
  if (plan.safetyBackup) lines.push('  a protected safety backup of what is replaced is taken first');
  lines.push('checks');
  for (const c of plan.checks) lines.push(`  ${c.ok ? 'pass' : c.overridable ? 'WARN' : 'FAIL'}  ${c.name}: ${c.detail}`);
  return lines.join('\n');
}

/** A table's closure, one line per kind of thing, indented under the table. */
function describeClosure(c: NonNullable<RestorePlan['tables'][number]['closure']>): string[] {
  const lines: string[] = [];
  if (c.partitions.length) lines.push(`      partitions: ${c.partitions.map((p) => `${p.as} (${p.rows} rows)`).join(', ')}`);
  if (c.with.length) lines.push(`      with: ${c.with.join(', ')}`);
  for (const n of c.needs) lines.push(`      needs ${n.kind} ${n.name}: ${n.action === 'use' ? 'in the database, identical: used' : n.action === 'create' ? 'missing: created first' : n.action === 'differs' ? `DIFFERS: ${n.detail}` : n.detail}`);
  for (const f of c.foreignKeys) lines.push(`      foreign key ${f.name} (${f.table} -> ${f.references}): ${f.handling}`);
  for (const v of c.views) lines.push(`      ${v.kind} ${v.name}: ${v.handling}`);
  return lines;
}

function describeReport(report: RestoreReport): string {
  const lines = report.restored.map((r) => `restored ${r.database}: ${r.tables} tables, row counts verified${r.terminatedConnections ? `, ${r.terminatedConnections} connection(s) terminated` : ''}`);
  if (report.roles) lines.push(`roles: created ${report.roles.created.join(', ') || 'none'}; kept as they were: ${report.roles.kept.join(', ') || 'none'}`);
  for (const t of report.tables) {
    lines.push(`restored ${t.table}${t.restoredAs !== t.table ? ` as ${t.restoredAs}` : ''}: ${t.rows} rows, row count verified${t.created.length ? `; created first: ${t.created.join(', ')}` : ''}`);
    for (const fk of t.skippedForeignKeys) lines.push(`  foreign key not added: ${fk}`);
  }
  const files = report.files.filter((f) => f.verified);
  if (report.files.length) lines.push(`restored ${report.files.length} file-system entries (${files.length} verified)${report.files.length <= 10 ? ': ' + report.files.map((f) => f.destination).join(', ') : ''}`);
  if (report.safetyBackupId) lines.push(`safety backup: ${report.safetyBackupId} (protected; ${report.undo ? `to undo: ${report.undo}` : 'restore it to undo'})`);
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
