// The audit log: every change, by whom, from where, with its outcome; filters by actor, action
// and date; "verify chain" checks the hash chain as `lifeboat audit verify` does.
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { Field } from './fields.tsx';
import { TableWrap } from './table.tsx';
import './config.css';

interface Filters { actor: string; action: string; since: string; until: string }

/** A day picked in the browser's zone, as the ISO time its start (or, for `until`, its end) is. */
function dayBound(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

export function AuditPage() {
  const [draft, setDraft] = useState<Filters>({ actor: '', action: '', since: '', until: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const log = useInfiniteQuery({
    queryKey: ['audit', filters],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/audit', { params: { query: {
      limit: 100, cursor: pageParam, actor: filters.actor || undefined, action: filters.action || undefined, since: dayBound(filters.since, false), until: dayBound(filters.until, true),
    } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
  });
  const verify = useMutation({ mutationFn: () => unwrap(api.GET('/api/v1/audit/verify')) });
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];
  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));
  return (
    <Page title="Audit log" actions={<button type="button" onClick={() => verify.mutate()} disabled={verify.isPending}>{verify.isPending ? 'Verifying…' : 'Verify chain'}</button>}>
      {verify.data && (
        <p role="status" className={verify.data.ok ? 'notice' : 'problem'}>
          {verify.data.ok ? `The chain is intact: ${verify.data.rows} entries, none changed or removed.` : `The chain is broken at entry ${verify.data.rowId}: ${verify.data.reason}.`}
        </p>
      )}
      <ProblemMessage error={verify.error} />
      <form className="filters" onSubmit={(e) => { e.preventDefault(); setFilters(draft); }}>
        <Field label="Actor" value={draft.actor} onChange={set('actor')} placeholder="user or token" />
        <Field label="Action" value={draft.action} onChange={set('action')} placeholder="e.g. token. or backup.start" />
        <Field label="From" type="date" value={draft.since} onChange={set('since')} />
        <Field label="To" type="date" value={draft.until} onChange={set('until')} />
        <button type="submit">Filter</button>
      </form>
      <ProblemMessage error={log.error} />
      {log.isPending && <Loading what="the audit log" />}
      {log.data && rows.length === 0 && <EmptyState title="No entry matches."><p>Widen the filters: the action is a prefix (<code>user.</code> for every user change).</p></EmptyState>}
      {rows.length > 0 && (
        <TableWrap label="audit log entries">
          <table>
            <thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Object</th><th>Outcome</th><th>From</th><th>Detail</th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td><Time at={r.at} /></td>
                  <td>{r.actor}</td>
                  <td><code>{r.action}</code></td>
                  <td>{r.object ?? '—'}</td>
                  <td><Badge tone={r.outcome === 'ok' ? 'ok' : r.outcome === 'refused' ? 'warn' : 'bad'}>{r.outcome}</Badge></td>
                  <td>{r.address ?? '—'}</td>
                  <td className="small">{r.detail ? <code>{JSON.stringify(r.detail)}</code> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {log.hasNextPage && <p><button type="button" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>Show older entries</button></p>}
    </Page>
  );
}
