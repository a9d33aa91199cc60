// Restore history: who restored what, when, how it ended, and the safety backup to undo it.
// Paged like the backups list: the API's keyset cursor, "Show 25 more".
import { useInfiniteQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api, unwrap, type Schema } from '../../api/client.ts';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import type { Plan } from './restore-plan-view.tsx';

/** The plan is as it was recorded when the restore ran. */
type RestoreRecord = Omit<Schema<'RestoreRecord'>, 'plan'> & { plan: Plan };

const TONE = { running: 'info', succeeded: 'ok', failed: 'bad', cancelled: 'neutral' } as const;

/** What a plan wrote, in a few words. */
function what(p: Plan | undefined): string {
  if (!p) return '—';
  const parts = [
    ...(p.databases ?? []).map((d) => `${d.action} database ${d.database}`),
    ...(p.tables ?? []).map((t) => (t.action === 'beside' ? `${t.table} beside as ${t.as}` : `${t.action} ${t.table}`)),
  ];
  if (p.files?.length) parts.push(`${p.files.length} file(s)`);
  return parts.join(', ') || '—';
}

const PAGE = 25;

export function RestoresPage() {
  const q = useInfiniteQuery({
    queryKey: ['restores'],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/restores', { params: { query: { limit: PAGE, cursor: pageParam } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // Only while one runs: refreshing every page of a long history for nothing would be waste.
    refetchInterval: (query) => (query.state.data?.pages.some((p) => (p.items as RestoreRecord[]).some((r) => r.status === 'running')) ? 5_000 : false),
  });
  const rows = (q.data?.pages.flatMap((p) => p.items) ?? []) as RestoreRecord[];
  return (
    <Page title="Restores">
      {q.isPending ? (
        <Loading what="restores" />
      ) : q.error ? (
        <ProblemMessage error={q.error} />
      ) : rows.length === 0 ? (
        <EmptyState title="Nothing has been restored yet.">
          To restore, open a backup under <Link href="/backups">Backups</Link> and choose “Restore…”.
        </EmptyState>
      ) : (
        <>
          <div className="table-wrap">
            {/* Explicit roles: on a phone the rows are drawn as cards (display: block), which would otherwise drop the table's semantics. */}
            <table aria-label="Restores" className="stack-narrow" role="table">
              <thead role="rowgroup">
                <tr role="row">
                  <th role="columnheader" scope="col">Started</th>
                  <th role="columnheader" scope="col">From backup</th>
                  <th role="columnheader" scope="col">What</th>
                  <th role="columnheader" scope="col">By</th>
                  <th role="columnheader" scope="col">Status</th>
                  <th role="columnheader" scope="col">Safety backup</th>
                </tr>
              </thead>
              <tbody role="rowgroup">
                {rows.map((r) => (
                  <tr key={r.id} data-restore={r.id} role="row">
                    <td className="date" role="cell">
                      <Time at={r.startedAt} />
                    </td>
                    <td role="cell" data-label="From backup">
                      <Link href={`/backups/${encodeURIComponent(r.backupId)}`}>{r.backupId}</Link>
                    </td>
                    <td role="cell" data-label="What">{what(r.plan)}</td>
                    <td role="cell" data-label="By">{r.requestedBy}</td>
                    <td role="cell" data-label="Status">
                      <Badge tone={TONE[r.status]}>{r.status}</Badge>
                      {r.error && <div className="problem small">{r.error}</div>}
                    </td>
                    <td role="cell" data-label="Safety backup">
                      {r.safetyBackupId ? <Link href={`/backups/${encodeURIComponent(r.safetyBackupId)}`}>{r.safetyBackupId}</Link> : <span className="muted">none</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="list-foot">
            <span className="muted" role="status">
              {rows.length} restore{rows.length === 1 ? '' : 's'} shown{q.hasNextPage ? '' : ' (all)'}
            </span>
            {q.hasNextPage && (
              <button type="button" onClick={() => void q.fetchNextPage()} disabled={q.isFetchingNextPage}>
                {q.isFetchingNextPage ? 'Loading…' : `Show ${PAGE} more`}
              </button>
            )}
          </div>
        </>
      )}
    </Page>
  );
}
