// One target on the dashboard: how it is doing (last backup and its age, next run, last
// verification, success rate over 30 days), its size and duration over time, "back up now".
import { lazy, memo, Suspense } from 'react';
import { Link } from 'wouter';
import { Badge, type Tone } from '../../components/page.tsx';
import { formatBytes, Time } from '../../components/format.tsx';
import { BackUpNow } from './backup-now.tsx';
import type { RunningJob, TargetHealth } from './types.ts';

// uPlot stays out of the initial bundle: the cards render before the charts load.
const TimelineChart = lazy(() => import('./timeline-chart.tsx'));

export const STATUS_TONE: Record<string, Tone> = { ok: 'ok', degraded: 'warn', failed: 'bad', running: 'info', deleted: 'neutral' };

/** Memoised: the dashboard re-renders as each of its other questions is answered; a card only when its own data changes. */
export const TargetCard = memo(function TargetCard({ name, health, source, runningJob }: { name: string; health: TargetHealth | null | undefined; source: string; runningJob: RunningJob | undefined }) {
  const h = health;
  const rate = h?.successRate;
  const headingId = `target-${name}`;
  return (
    <article className="card target-card" aria-labelledby={headingId} data-target={name}>
      <header className="card-head">
        <h2 id={headingId}>{name}</h2>
        {source === 'api' && <Badge tone="neutral" title="created over the API or in this UI">UI</Badge>}
        <HealthBadge health={h} />
      </header>
      {!h ? (
        <p className="muted">No health known yet.</p>
      ) : (
        <dl className="facts">
          <dt>Last backup</dt>
          <dd data-field="last-backup">
            {h.lastBackup ? (
              <>
                <Link href={`/backups/${encodeURIComponent(h.lastBackup.id)}`}>{h.lastBackup.id}</Link>{' '}
                <Badge tone={STATUS_TONE[h.lastBackup.status] ?? 'neutral'}>{h.lastBackup.status}</Badge>
                <div className="muted small">
                  <Time at={h.lastBackup.startedAt} relative />
                </div>
              </>
            ) : (
              <span className="muted">none yet</span>
            )}
          </dd>
          {h.lastSuccess && h.lastSuccess.id !== h.lastBackup?.id && (
            <>
              <dt>Last success</dt>
              <dd>
                <Time at={h.lastSuccess.startedAt} relative />
              </dd>
            </>
          )}
          <dt>Next run</dt>
          <dd>{h.nextRun ? <Time at={h.nextRun} relative /> : <Link href="/schedules">no schedule</Link>}</dd>
          <dt>Last verification</dt>
          <dd>
            {h.lastVerification ? (
              <>
                <Badge tone={h.lastVerification.ok ? 'ok' : 'bad'}>{h.lastVerification.ok ? `${h.lastVerification.level}: passed` : `${h.lastVerification.level}: failed`}</Badge>{' '}
                <Time at={h.lastVerification.at} relative />
              </>
            ) : (
              <span className="muted">never verified</span>
            )}
          </dd>
          <dt>Success, {rate?.days ?? 30} days</dt>
          <dd title={rate ? `${rate.succeeded} succeeded, ${rate.failed} failed` : undefined}>
            {rate?.rate === null || rate?.rate === undefined ? <span className="muted">no finished backup</span> : `${Math.round(rate.rate * 100)}% (${rate.succeeded} of ${rate.finished})`}
          </dd>
          <dt>Held</dt>
          <dd>
            {h.backups} backup{h.backups === 1 ? '' : 's'}, {formatBytes(h.totalBytes)}
            {h.protected > 0 && `, ${h.protected} protected`}
          </dd>
        </dl>
      )}
      {h && h.backups > 1 && (
        <Suspense fallback={<div className="chart-box" />}>
          <TimelineChart target={name} />
        </Suspense>
      )}
      <BackUpNow target={name} runningJob={runningJob} />
    </article>
  );
});

function HealthBadge({ health }: { health: TargetHealth | null | undefined }) {
  if (!health?.lastBackup) return <Badge tone="neutral">no backup yet</Badge>;
  if (health.lastBackup.status === 'failed') return <Badge tone="bad">last backup failed</Badge>;
  if (health.lastVerification && !health.lastVerification.ok) return <Badge tone="bad">verification failed</Badge>;
  if (health.lastBackup.status === 'running') return <Badge tone="info">backing up</Badge>;
  return <Badge tone="ok">healthy</Badge>;
}
