import { Command } from 'commander';
import type { AuditEntry } from '../../audit/audit.ts';
import { LifeboatError } from '../../errors.ts';
import { emit, table } from '../output.ts';
import { catalogAction, print } from '../context.ts';

/** `lifeboat audit`: who changed what, and `audit verify`: whether the log is intact. */
export function registerAudit(program: Command): void {
  const auditCmd = program
    .command('audit')
    .description('the audit log: every change made from the CLI, the API and the daemon, newest first (`audit verify` checks its chain)')
    .option('--since <when>', 'from this time on: an ISO time (2026-12-01, 2026-12-01T10:00:00Z) or an age (7d, 12h, 30m)')
    .option('--until <when>', 'before this time (same forms)')
    .option('--actor <actor>', 'only this actor (cli:root, daemon, a user name)')
    .option('--action <prefix>', 'only actions starting with this (backup. for every backup action, restore.run)')
    .option('--limit <n>', 'how many rows', '50')
    .action(
      catalogAction(async ({ opts, catalog }, o: { since?: string; until?: string; actor?: string; action?: string; limit: string }) => {
        const limit = Number(o.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new LifeboatError('E_USAGE', `--limit ${o.limit}: give a whole number from 1 to 1000`);
        const { listAudit } = await import('../../audit/audit.ts');
        const page = listAudit(catalog, { since: o.since, until: o.until, actor: o.actor, action: o.action, limit });
        print(opts, page.entries, () =>
          page.entries.length === 0
            ? 'no audit rows match'
            : table(['ID', 'AT', 'ACTOR', 'ACTION', 'OBJECT', 'OUTCOME', 'DETAIL'], page.entries.map(row)) +
              (page.nextCursor ? `\nolder rows exist: raise --limit or narrow with --since/--until` : ''),
        );
      }),
    );

  auditCmd
    .command('verify')
    .description('check the audit log\'s hash chain: exit 0 when intact, 1 naming the first row that was changed, removed or added out of place')
    .action(
      catalogAction(async ({ opts, catalog }) => {
        const { verifyAuditChain } = await import('../../audit/audit.ts');
        const report = verifyAuditChain(catalog);
        if (report.ok) {
          print(opts, report, () =>
            `chain intact, ${report.rows} rows${report.head ? `; last row ${report.head.id}, hash ${report.head.hash}` : ''}${report.anchor ? `; continues rows removed by retention up to ${report.anchor.id}` : ''}`);
          return;
        }
        if (opts.json) print(opts, report, () => '');
        else emit(`error: audit chain broken at row ${report.rowId}: ${report.reason}\nhint: the log was altered outside Lifeboat; keep the catalog file as it is for inspection\n`, process.stderr);
        process.exitCode = 1;
      }),
    );
}

function row(e: AuditEntry): string[] {
  const detail = e.detail ? JSON.stringify(e.detail) : '';
  return [String(e.id), e.at.replace('T', ' ').slice(0, 19), e.actor, e.action, e.object ?? '-', e.outcome === 'ok' ? 'ok' : e.outcome.toUpperCase(), detail.length > 80 ? `${detail.slice(0, 77)}...` : detail];
}
