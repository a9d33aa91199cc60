// Jobs running now, with their live progress. Backups are followed on their target's card, so
// only the other jobs (restores, verifications, prunes, ...) are listed here.
import { useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { JobProgress } from '../../components/job.tsx';
import { Time } from '../../components/format.tsx';
import type { RunningJob } from './types.ts';

export function RunningJobs({ jobs }: { jobs: RunningJob[] }) {
  const client = useQueryClient();
  if (jobs.length === 0) return null;
  return (
    <section aria-labelledby="running-title" className="section">
      <h2 id="running-title">Running now</h2>
      <ul className="running-jobs">
        {jobs.map((j) => (
          <li key={j.id} className="card">
            <Link href={`/jobs/${j.id}`}>
              {j.kind}
              {j.target ? ` of ${j.target}` : ''}
            </Link>{' '}
            <span className="muted small">
              {j.trigger}, started <Time at={j.startedAt} relative />
            </span>
            <JobProgress jobId={j.id} onOutcome={() => void client.invalidateQueries({ queryKey: ['status'] })} />
          </li>
        ))}
      </ul>
    </section>
  );
}
