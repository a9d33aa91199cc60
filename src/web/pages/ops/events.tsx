// The alert log: every event notifications are sent from, newest first, unread ones marked;
// mark some or all read (permission events.ack).
import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { Time } from '../../components/format.tsx';
import { EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { EventLinks, EventSeverity } from './event-line.tsx';

const SEVERITIES = ['info', 'warning', 'error', 'critical'] as const;
type Severity = (typeof SEVERITIES)[number];

export function EventsPage() {
  const client = useQueryClient();
  const canAck = useCan('events.ack');
  const id = useId();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [severity, setSeverity] = useState<Severity | ''>('');
  const [chosen, setChosen] = useState<ReadonlySet<number>>(new Set());
  const events = useInfiniteQuery({
    queryKey: ['events', 'list', { unreadOnly, severity }],
    queryFn: ({ pageParam }) =>
      unwrap(api.GET('/api/v1/events', { params: { query: { unread: unreadOnly ? 'true' : undefined, severity: severity || undefined, limit: 50, cursor: pageParam } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: 30_000,
  });
  const mark = useMutation({
    mutationFn: (which: { ids: number[] } | { upTo: number }) => unwrap(api.POST('/api/v1/events/read', { body: which })),
    onSuccess: () => {
      setChosen(new Set());
      void client.invalidateQueries({ queryKey: ['events'] });
    },
  });
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  const unread = events.data?.pages[0]?.unread ?? 0;
  const newest = events.data?.pages[0]?.items[0]?.id;
  const toggle = (eventId: number) =>
    setChosen((s) => {
      const n = new Set(s);
      if (n.has(eventId)) n.delete(eventId);
      else n.add(eventId);
      return n;
    });
  return (
    <Page
      title="Events"
      actions={
        canAck && unread > 0 ? (
          <>
            <button type="button" disabled={chosen.size === 0 || mark.isPending} onClick={() => mark.mutate({ ids: [...chosen] })}>
              Mark {chosen.size || ''} selected read
            </button>
            {/* Up to the newest one shown: an event that arrives meanwhile stays unread. */}
            <button type="button" className="primary" disabled={mark.isPending || newest === undefined} onClick={() => newest !== undefined && mark.mutate({ upTo: newest })}>
              Mark all read
            </button>
          </>
        ) : undefined
      }
    >
      <p data-field="unread" aria-live="polite">
        {unread === 0 ? 'Nothing unread.' : `${unread} unread event${unread === 1 ? '' : 's'}.`}
      </p>
      <form className="filters" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <label className="inline">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => setUnreadOnly(e.target.checked)} /> Unread only
        </label>
        <div>
          <label htmlFor={`${id}-sev`}>Severity</label>
          <select id={`${id}-sev`} value={severity} onChange={(e) => setSeverity(e.target.value as Severity | '')}>
            <option value="">any</option>
            {SEVERITIES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
      </form>
      <ProblemMessage error={events.error ?? mark.error} />
      {events.isPending ? (
        <Loading what="events" />
      ) : items.length === 0 ? (
        <EmptyState title={unreadOnly || severity ? 'No event matches these filters.' : 'No event yet.'}>
          <p>Failures, verifications, pending deletions and low space are recorded here and sent to the notification channels.</p>
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Events, newest first</caption>
            <thead>
              <tr>
                {canAck && (
                  <th scope="col">
                    <span className="sr-only">Select</span>
                  </th>
                )}
                <th scope="col">When</th>
                <th scope="col">Severity</th>
                <th scope="col">Event</th>
                <th scope="col">Target</th>
                <th scope="col">Concerns</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr key={e.id} className={e.readAt ? 'read' : 'unread'} data-event={e.id}>
                  {canAck && (
                    <td>
                      {!e.readAt && <input type="checkbox" aria-label={`select event ${e.id}: ${e.message}`} checked={chosen.has(e.id)} onChange={() => toggle(e.id)} />}
                    </td>
                  )}
                  <td>
                    <Time at={e.at} />
                    {!e.readAt && (
                      <>
                        {' '}
                        <strong className="unread-dot">unread</strong>
                      </>
                    )}
                  </td>
                  <td>
                    <EventSeverity event={e} />
                  </td>
                  <td>
                    <div>{e.message}</div>
                    <div className="muted small">{e.kind}</div>
                  </td>
                  <td>{e.target ?? <span className="muted">—</span>}</td>
                  <td>
                    <EventLinks event={e} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {events.hasNextPage && (
        <p>
          <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
            {events.isFetchingNextPage ? 'Loading…' : 'Show older events'}
          </button>
        </p>
      )}
    </Page>
  );
}
