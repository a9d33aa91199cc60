// Jobs: every run of an operation, newest first, filtered by state and kind, a page at a time.
import { useInfiniteQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { Link, useSearchParams } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { formatDuration, Time } from '../../components/format.tsx';
import { EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { JobState } from './job-state.tsx';

const STATES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
type State = (typeof STATES)[number];
/** The kinds of job the engine runs (src/jobs/). */
const KINDS = ['backup', 'restore', 'verify', 'prune', 'delete', 'replicate', 'import', 'rebuild', 'workflow-restore'];

export function JobsPage() {
  const [params, setParams] = useSearchParams();
  const state = STATES.find((s) => s === params.get('state')) as State | undefined;
  const kind = params.get('kind') || undefined;
  const target = params.get('target') || undefined;
  const id = useId();
  const jobs = useInfiniteQuery({
    queryKey: ['jobs', 'list', { state, kind, target }],
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/jobs', { params: { query: { state, kind, target, limit: 50, cursor: pageParam } } })),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    refetchInterval: (q) => (q.state.data?.pages.some((p) => p.items.some((j) => j.state === 'running')) ? 3_000 : false),
  });
  const set = (key: string, value: string) =>
    setParams((p) => {
      if (value) p.set(key, value);
      else p.delete(key);
      return p;
    });
  const items = jobs.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Page title="Jobs">
      <form className="filters" aria-label="Filter jobs" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor={`${id}-state`}>State</label>
          <select id={`${id}-state`} value={state ?? ''} onChange={(e) => set('state', e.target.value)}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor={`${id}-kind`}>Kind</label>
          <select id={`${id}-kind`} value={kind ?? ''} onChange={(e) => set('kind', e.target.value)}>
            <option value="">any</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </div>
        {target && (
          <p>
            Target <code>{target}</code>{' '}
            <button type="button" onClick={() => set('target', '')}>
              Show every target
            </button>
          </p>
        )}
      </form>
      <ProblemMessage error={jobs.error} />
      {jobs.isPending ? (
        <Loading what="jobs" />
      ) : items.length === 0 ? (
        <EmptyState title={state || kind || target ? 'No job matches these filters.' : 'No job has run yet.'}>
          {state || kind || target ? <p>Clear the filters to see every job.</p> : <p>Jobs appear here when a backup, verification, restore or prune runs: start one from the dashboard.</p>}
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Target</th>
                <th scope="col">Trigger</th>
                <th scope="col">State</th>
                <th scope="col">Started</th>
                <th scope="col" className="num">
                  Duration
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((j) => (
                <tr key={j.id} data-job={j.id}>
                  <td>
                    <Link href={`/jobs/${j.id}`} aria-label={`${j.kind} job ${j.id}`}>
                      {j.kind}
                    </Link>
                  </td>
                  <td>{j.target ?? <span className="muted">—</span>}</td>
                  <td>{j.trigger}</td>
                  <td>
                    <JobState state={j.state} />
                  </td>
                  <td>
                    <Time at={j.startedAt} />
                  </td>
                  <td className="num">{j.finishedAt ? formatDuration(Date.parse(j.finishedAt) - Date.parse(j.startedAt)) : <span className="muted">running</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {jobs.hasNextPage && (
        <p>
          <button type="button" onClick={() => void jobs.fetchNextPage()} disabled={jobs.isFetchingNextPage}>
            {jobs.isFetchingNextPage ? 'Loading…' : 'Show older jobs'}
          </button>
        </p>
      )}
    </Page>
  );
}
