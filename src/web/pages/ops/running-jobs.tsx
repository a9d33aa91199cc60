// Jobs running now, with their progress. Backups are shown on their target's card, so only the
// other jobs (restores, verifications, prunes, ...) are listed here.
import { Link } from 'wouter';
import { Time } from '../../components/format.tsx';
import { StoredProgress } from './stored-progress.tsx';
import type { RunningJob } from './types.ts';

export function RunningJobs({ jobs }: { jobs: RunningJob[] }) {
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
            <StoredProgress job={j} />
          </li>
        ))}
      </ul>
    </section>
  );
}
