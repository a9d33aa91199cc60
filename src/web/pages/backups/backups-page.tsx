// The Backups screen: storage use, the pending-deletion banner, filters kept in the URL, the
// history table a page at a time (keyset cursors: page 200 costs what page 1 does), back up now.
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes, formatDuration, Time } from '../../components/format.tsx';
import { EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { BackupNow } from './backup-now.tsx';
import { CopiesBadge, DeletionBadge, ProtectedBadge, StatusBadge, VerifiedBadge, type BackupRow } from './badges.tsx';
import { dayBound, FilterBar, useListFilters, type ListFilters } from './list-filters.tsx';
import { PendingBanner } from './pending-banner.tsx';
import { RowActions } from './row-actions.tsx';

const PAGE = 50;

export function BackupsPage() {
  const [filters, set] = useListFilters();
  const canBackup = useCan('backup');
  return (
    <Page title="Backups" actions={canBackup ? <BackupNow /> : undefined}>
      <StorageLine />
      <PendingBanner onShow={() => set({ pendingDeletion: 'true' })} />
      <FilterBar filters={filters} set={set} />
      <BackupTable filters={filters} />
    </Page>
  );
}

/** "Storage: 45 MB / 100 GB" for each storage: used against its quota (or the disk's size). */
function StorageLine() {
  const q = useQuery({ queryKey: ['storages'], queryFn: () => unwrap(api.GET('/api/v1/storages')) });
  if (!q.data) return null;
  const parts = q.data.items
    .filter((s) => !s.shadowed)
    .map((s) => {
      const u = s.usage as { usedBytes: number | null; quotaBytes: number | null; totalBytes: number | null; catalog: { bytes: number }; checkedAt: string | null } | null | undefined;
      const used = u?.usedBytes ?? u?.catalog.bytes ?? null;
      const of = u?.quotaBytes ?? u?.totalBytes ?? null;
      return { name: s.name, used, of, checkedAt: u?.checkedAt ?? null, quota: u?.quotaBytes != null };
    });
  if (parts.length === 0) return null;
  return (
    <p className="storage-line" aria-label="Storage use">
      <strong>Storage:</strong>{' '}
      {parts.map((p, i) => (
        <span key={p.name} title={p.checkedAt ? `measured ${p.checkedAt}` : 'not measured yet: what the catalog records there'}>
          {i > 0 && ' · '}
          {parts.length > 1 && `${p.name} `}
          {formatBytes(p.used)}
          {p.of !== null ? ` / ${formatBytes(p.of)}${p.quota ? '' : ' disk'}` : ' (no quota)'}
        </span>
      ))}
    </p>
  );
}

function apiQuery(f: ListFilters) {
  return {
    target: f.target,
    status: f.status,
    verified: f.verified,
    protected: f.protected,
    pendingDeletion: f.pendingDeletion,
    from: dayBound(f.from, false),
    to: dayBound(f.to, true),
    sort: f.sort,
    order: f.order,
  };
}

function BackupTable({ filters }: { filters: ListFilters }) {
  const query = apiQuery(filters);
  const list = useInfiniteQuery({
    queryKey: ['backups', 'list', query],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/backups', { params: { query: { ...query, limit: PAGE, cursor: pageParam, total: pageParam ? undefined : 'true' } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    // A running backup changes its row; a list without one is refreshed only when something acts on it.
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.items.some((b) => b.status === 'running')) ? 3000 : false),
  });
  if (list.isPending) return <Loading what="backups" />;
  if (list.error) return <ProblemMessage error={list.error} title="The backups could not be listed" />;
  const rows = list.data.pages.flatMap((p) => p.items);
  const total = list.data.pages[0]?.total;
  if (rows.length === 0) {
    const filtered = Object.keys(filters).some((k) => k !== 'sort' && k !== 'order');
    return (
      <EmptyState title={filtered ? 'No backup matches these filters.' : 'No backups yet.'}>
        {filtered ? 'Clear a filter to see more.' : 'Use “Back up now” above, or add a schedule under Schedules.'}
      </EmptyState>
    );
  }
  return (
    <>
      <div className="table-wrap">
        {/* Explicit roles: on a phone the rows are drawn as cards (display: block), which would otherwise drop the table's semantics. */}
        <table aria-label="Backups" className="stack-narrow" role="table">
          <thead role="rowgroup">
            <tr role="row">
              <th role="columnheader" scope="col">Date</th>
              <th role="columnheader" scope="col">Target</th>
              <th role="columnheader" scope="col" className="num">Size</th>
              <th role="columnheader" scope="col">Status</th>
              <th role="columnheader" scope="col">Verified</th>
              <th role="columnheader" scope="col">Retention</th>
              <th role="columnheader" scope="col">Actions</th>
            </tr>
          </thead>
          <tbody role="rowgroup">
            {rows.map((b) => (
              <Row key={b.id} b={b} />
            ))}
          </tbody>
        </table>
      </div>
      <div className="list-foot">
        <span className="muted" role="status">
          {rows.length}
          {total !== undefined ? ` of ${total}` : ''} backup{(total ?? rows.length) === 1 ? '' : 's'} shown
        </span>
        {list.hasNextPage && (
          <button type="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? 'Loading…' : `Show ${PAGE} more`}
          </button>
        )}
      </div>
    </>
  );
}

function Row({ b }: { b: BackupRow }) {
  return (
    <tr data-backup={b.id} role="row">
      <td className="date" role="cell">
        <Link href={`/backups/${encodeURIComponent(b.id)}`}>
          <Time at={b.startedAt} />
        </Link>
        <div className="muted small">{b.id}</div>
      </td>
      <td role="cell" data-label="Target">
        {b.target}
      </td>
      <td className="num" role="cell" data-label="Size">
        {formatBytes(b.size)}
        {b.durationMs !== null && <div className="muted small">{formatDuration(b.durationMs)}</div>}
      </td>
      <td role="cell" data-label="Status">
        <StatusBadge status={b.status} error={b.error} /> <CopiesBadge locations={b.locations} />
        {b.trust === 'untrusted' && (
          <>
            {' '}
            <span className="badge badge-warn" title="no key of this installation vouches for it">untrusted</span>
          </>
        )}
      </td>
      <td role="cell" data-label="Verified">
        <VerifiedBadge v={b.verification} />
      </td>
      <td role="cell" data-label="Retention" className={b.protected || b.deletion.status === 'pending' ? undefined : 'empty-cell'}>
        {b.protected && <ProtectedBadge until={b.protectedUntil} />}
        {b.deletion.status === 'pending' && <DeletionBadge at={b.deletion.at} />}
      </td>
      <td role="cell" className="actions-cell">
        <RowActions b={b} />
      </td>
    </tr>
  );
}
