// The dashboard: every target's health with "back up now", storage use, unread alerts, the
// jobs running now. Four requests whatever the catalog holds (targets, storages, status,
// unread events), then one page of backups per target for its chart, loaded after the cards.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { Time } from '../../components/format.tsx';
import { useCan } from '../../session.tsx';
import { EventLine } from './event-line.tsx';
import { inEffect, useStatus, useStorages, useTargets } from './queries.ts';
import { RunningJobs } from './running-jobs.tsx';
import { StorageUsageList } from './storage-usage.tsx';
import { TargetCard } from './target-card.tsx';

export function DashboardPage() {
  const targets = useTargets();
  const storages = useStorages();
  const status = useStatus();
  const running = status.data?.running ?? [];
  const list = inEffect(targets.data);
  useRefreshWhenJobsEnd(running.map((j) => j.id));
  const names = new Set(list.map((t) => t.name));
  const backupOf = (target: string) => running.find((j) => j.kind === 'backup' && j.target === target);
  return (
    <Page title="Dashboard" actions={<DaemonLine />}>
      <ProblemMessage error={targets.error ?? status.error} />
      <RunningJobs jobs={running.filter((j) => !(j.kind === 'backup' && j.target && names.has(j.target)))} />
      <section aria-labelledby="targets-title" className="section">
        <h2 id="targets-title">Targets</h2>
        {targets.isPending ? (
          <Loading what="targets" />
        ) : list.length === 0 ? (
          <NoTargets />
        ) : (
          <div className="cards">
            {list.map((t) => (
              <TargetCard key={t.name} name={t.name} health={t.health} source={t.source} runningJob={backupOf(t.name)} />
            ))}
          </div>
        )}
      </section>
      <UnreadAlerts />
      <section aria-labelledby="storage-title" className="section">
        <h2 id="storage-title">Storage</h2>
        <ProblemMessage error={storages.error} />
        {storages.isPending ? <Loading what="storages" /> : <StorageUsageList storages={inEffect(storages.data)} />}
      </section>
    </Page>
  );
}

/** A job that leaves the running list has changed health, storage use or events: ask again. */
function useRefreshWhenJobsEnd(ids: string[]) {
  const client = useQueryClient();
  const seen = useRef<string[]>([]);
  const key = ids.join(',');
  useEffect(() => {
    const ended = seen.current.some((id) => !ids.includes(id));
    seen.current = ids;
    if (ended) for (const k of ['targets', 'storages', 'events', 'jobs', 'backups']) void client.invalidateQueries({ queryKey: [k] });
  }, [key]);
}

function NoTargets() {
  const canConfigure = useCan('config.write');
  return (
    <EmptyState title="No target yet: nothing is backed up.">
      {canConfigure ? (
        <p>
          <Link href="/welcome">Set up a first target</Link> (connect a database, choose a storage and a schedule), or add one under <Link href="/targets">Targets</Link>. Targets can also be
          written in <code>lifeboat.yaml</code> under <code>targets:</code>.
        </p>
      ) : (
        <p>
          An admin adds targets under <Link href="/targets">Targets</Link> or in <code>lifeboat.yaml</code>.
        </p>
      )}
    </EmptyState>
  );
}

function DaemonLine() {
  const status = useStatus();
  const d = status.data?.daemon;
  if (!d) return null;
  return (
    <p className="muted small daemon-line">
      {d.up ? (
        <>
          Scheduler running ({d.holder}), heartbeat <Time at={d.heartbeatAt} relative />
        </>
      ) : (
        <>Scheduler not running: scheduled backups wait until <code>lifeboat serve</code> or <code>lifeboat daemon</code> runs.</>
      )}
    </p>
  );
}

function UnreadAlerts() {
  const events = useQuery({
    queryKey: ['events', 'list', { unread: true, limit: 5 }],
    queryFn: () => unwrap(api.GET('/api/v1/events', { params: { query: { unread: 'true', limit: 5 } } })),
    refetchInterval: 30_000,
  });
  const items = events.data?.items ?? [];
  return (
    <section aria-labelledby="alerts-title" className="section">
      <h2 id="alerts-title">
        Unread alerts {events.data && <span className="muted">({events.data.unread})</span>}
      </h2>
      <ProblemMessage error={events.error} />
      {events.data && items.length === 0 && <p className="muted">Nothing unread.</p>}
      {items.length > 0 && (
        <>
          <ul className="event-lines">
            {items.map((e) => (
              <EventLine key={e.id} event={e} />
            ))}
          </ul>
          <Link href="/events">All alerts{events.data && events.data.unread > items.length ? ` (${events.data.unread} unread)` : ''}</Link>
        </>
      )}
    </section>
  );
}
