import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import type { PruneOutcome } from '../../jobs/prune.ts';
import { formatBytes, progressListener, table } from '../output.ts';
import { print, interruptSignal, auditedAction } from '../context.ts';

interface PruneOptions {
  target?: string;
  dryRun?: boolean;
  wait: boolean;
}

/** Retention: prune, delete, protect, unprotect, cancel-deletion. */
export function registerRetention(program: Command): void {
  program
    .command('prune')
    .description('apply retention: delete what the rules no longer keep (see README, "Retention")')
    .option('--target <name>', 'only this target')
    .option('--dry-run', 'show each backup\'s decision and its reasons; change nothing')
    .option('--no-wait', 'when a restore of the target holds its lock, fail at once (E_LOCKED) instead of waiting for it')
    .action(
      auditedAction({ action: (o: PruneOptions) => (o.dryRun ? undefined : 'prune.run'), object: (o: PruneOptions) => o.target }, async ({ opts, loaded, catalog, audit }, o: PruneOptions) => {
        const listener = progressListener({ json: opts.json === true });
        let outcomes: PruneOutcome[];
        const { notePrune } = await import('../../audit/details.ts');
        if (o.dryRun) {
          const { retentionPreview } = await import('../../reports/retention.ts');
          // The same preview the API serves: nothing changes, no job is recorded.
          const preview = await retentionPreview(loaded, catalog, { target: o.target });
          for (const w of preview.flatMap((t) => t.warnings)) listener.onLog?.('warn', w);
          outcomes = preview.flatMap((t) => t.decisions);
        } else {
          const interrupt = interruptSignal();
          try {
            const { runPrune } = await import('../../jobs/prune.ts');
            outcomes = await runPrune(loaded, catalog, { target: o.target, wait: o.wait, listener, signal: interrupt.signal });
          } finally {
            interrupt.dispose();
          }
        }
        listener.end();
        notePrune(audit, outcomes);
        const label: Record<PruneOutcome['result'], string> = { kept: 'keep', deleted: 'DELETED', pending: 'PENDING', cancelled: 'keep (cancelled)', 'would-delete': 'DELETE', failed: 'FAILED' };
        print(opts, outcomes, () =>
          outcomes.length === 0
            ? 'no backups'
            : table(['BACKUP', 'DECISION', 'WHY'], outcomes.map((x) => [x.id, label[x.result], [x.deleteAt ? `at ${x.deleteAt}` : '', x.error ?? '', x.reasons.join('; ')].filter(Boolean).join(': ')])) +
              (o.dryRun ? '\ndry run: nothing was changed' : ''),
        );
        if (outcomes.some((x) => x.result === 'failed')) process.exitCode = 1;
      }),
    );

  program
    .command('delete')
    .description('delete one backup now, from every storage (a protected backup must be unprotected first)')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--yes', 'do not ask')
    .action(
      auditedAction({ action: 'backup.delete' }, async ({ opts, loaded, catalog, audit }, prefix: string, o: { yes?: boolean }) => {
        const b = catalog.resolveBackup(prefix);
        audit.object = b.id;
        if (!o.yes) {
          if (!process.stdin.isTTY || opts.json) throw new LifeboatError('E_USAGE', `deleting ${b.id} cannot be undone`, { hint: 'pass --yes to confirm, or run it on a terminal to be asked' });
          const rl = createInterface({ input: process.stdin, output: process.stderr });
          const answer = await rl.question(`Delete ${b.id} (${b.size === null ? '-' : formatBytes(b.size)}) from ${b.locations.map((l) => l.storage).join(', ') || 'the catalog'}? Type its id to confirm: `).finally(() => rl.close());
          if (answer.trim() !== b.id) throw new LifeboatError('E_USAGE', 'not confirmed: nothing was deleted');
        }
        const { runDelete } = await import('../../jobs/prune.ts');
        const deleted = await runDelete(loaded, catalog, b.id, { listener: progressListener({ json: opts.json === true }) });
        print(opts, { id: deleted.id, status: deleted.status }, () => `deleted ${deleted.id}`);
      }),
    );

  program
    .command('protect')
    .description('keep a backup whatever retention says (and cancel a pending deletion)')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .option('--days <n>', 'only for this many days (default: until unprotected)')
    .action(
      auditedAction({ action: 'backup.protect' }, async ({ opts, catalog, audit }, prefix: string, o: { days?: string }) => {
        const days = o.days === undefined ? undefined : Number(o.days);
        if (days !== undefined && !(days > 0)) throw new LifeboatError('E_USAGE', `--days ${o.days}: give a positive number of days`);
        const { protectBackup } = await import('../../jobs/protection.ts');
        const b = protectBackup(catalog, prefix, days);
        audit.object = b.id;
        audit.detail.until = b.protectedUntil;
        print(opts, { id: b.id, protected: true, protectedUntil: b.protectedUntil }, () => `protected ${b.id}${b.protectedUntil ? ` until ${b.protectedUntil}` : ''}`);
      }),
    );

  program
    .command('unprotect')
    .description('let retention decide about a backup again')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(
      auditedAction({ action: 'backup.unprotect' }, async ({ opts, catalog, audit }, prefix: string) => {
        const { unprotectBackup } = await import('../../jobs/protection.ts');
        const b = unprotectBackup(catalog, prefix);
        audit.object = b.id;
        print(opts, { id: b.id, protected: false }, () => `unprotected ${b.id}: retention decides about it again at the next prune`);
      }),
    );

  program
    .command('cancel-deletion')
    .description('keep a backup whose deletion is pending: it is protected, so retention leaves it alone until `unprotect`')
    .argument('<backup>', 'backup id or a unique prefix of it')
    .action(
      auditedAction({ action: 'backup.cancel-deletion' }, async ({ opts, catalog, audit }, prefix: string) => {
        audit.object = catalog.resolveBackup(prefix).id;
        const { cancelDeletion } = await import('../../jobs/protection.ts');
        const b = cancelDeletion(catalog, prefix);
        print(opts, { id: b.id, deletionStatus: 'none', protected: true }, () => `deletion of ${b.id} cancelled; it is protected now (\`lifeboat unprotect ${b.id}\` lets retention decide again)`);
      }),
    );
}

export function describeOutcome(o: PruneOutcome): string {
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
