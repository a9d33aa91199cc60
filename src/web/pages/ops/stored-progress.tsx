// A running job's progress as the catalog last saved it (GET /api/v1/status, asked every few
// seconds), for jobs the page did not start. Browsers hold at most six connections to a server
// over HTTP/1.1: a live event stream per job would leave none for the page's own requests when
// many backups run at once (every target's schedule at 02:00), so only jobs started from this
// page are followed live.
import { Link } from 'wouter';
import { formatBytes } from '../../components/format.tsx';
import type { JobProgressData } from '../../components/job.tsx';
import type { RunningJob } from './types.ts';

export function StoredProgress({ job }: { job: RunningJob }) {
  const p = job.progress as JobProgressData | null;
  const fraction = p?.total ? Math.min(1, p.done / p.total) : undefined;
  const amount = p && (p.unit === 'bytes' ? formatBytes(p.done) + (p.total ? ` of ${formatBytes(p.total)}` : '') : `${p.done}${p.total ? ` of ${p.total}` : ''}`);
  return (
    <div className="job-progress" data-job={job.id} data-state="running">
      <div className="progress-line">
        <progress max={1} value={fraction} aria-label={`job ${job.id} progress`} />
        <span className="muted">{p ? `${p.phase}${p.current ? `: ${p.current}` : ''} · ${amount}` : 'starting…'}</span>
      </div>
      <Link href={`/jobs/${job.id}`} className="small">
        Follow the {job.kind}
        {job.target ? ` of ${job.target}` : ''} live
      </Link>
    </div>
  );
}
