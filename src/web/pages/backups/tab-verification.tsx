// The verification reports of a backup (every check with what was expected and what was found)
// and the log of the job that made it.
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.ts';
import { formatDuration, Time } from '../../components/format.tsx';
import { JobLog, JobProgress } from '../../components/job.tsx';
import { Badge, EmptyState, Loading } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import type { BackupRecord } from './detail-page.tsx';
import { ScrollTable } from './scroll-table.tsx';
import { DrillSection } from './drill-section.tsx';

export function VerificationTab({ backup }: { backup: BackupRecord }) {
  return (
    <>
      <DrillSection backupId={backup.id} />
      <VerificationReports backup={backup} />
    </>
  );
}

function VerificationReports({ backup }: { backup: BackupRecord }) {
  const q = useQuery({
    queryKey: ['backups', 'verifications', backup.id],
    queryFn: () => unwrap(api.GET('/api/v1/backups/{id}/verifications', { params: { path: { id: backup.id }, query: {} } })),
  });
  if (q.isPending) return <Loading what="verification reports" />;
  if (q.error) return <ProblemMessage error={q.error} />;
  if (q.data.items.length === 0) return <EmptyState title="This backup has not been verified yet.">Use “Verify” above: quick checks every checksum, full restores it into a scratch database.</EmptyState>;
  return (
    <>
      {q.data.items.map((v, i) => {
        const r = v.report;
        return (
          <details key={v.id} open={i === 0} className="report">
            <summary>
              <Badge tone={v.ok ? 'ok' : 'bad'}>{v.ok ? 'passed' : 'failed'}</Badge> {v.level} verification, <Time at={v.finishedAt} /> ({formatDuration(r.durationMs)}, {r.checks.length} checks)
            </summary>
            <ScrollTable label={`Checks of the ${v.level} verification`}>
              <table aria-label={`Checks of the ${v.level} verification`}>
                <thead>
                  <tr>
                    <th scope="col">Check</th>
                    <th scope="col">Result</th>
                    <th scope="col">Expected</th>
                    <th scope="col">Found</th>
                  </tr>
                </thead>
                <tbody>
                  {r.checks.map((c, j) => (
                    <tr key={j}>
                      <td>{c.name}</td>
                      <td>
                        <span className={c.ok ? 'check-ok' : c.warning ? 'check-warn' : 'check-bad'}>{c.ok ? 'ok' : c.warning ? 'warning' : 'failed'}</span>
                      </td>
                      <td>{c.expected ?? '—'}</td>
                      <td>{c.actual ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </ScrollTable>
          </details>
        );
      })}
    </>
  );
}

export function JobLogTab({ jobId }: { jobId: string | null }) {
  const q = useQuery({
    queryKey: ['jobs', jobId],
    queryFn: () => unwrap(api.GET('/api/v1/jobs/{id}', { params: { path: { id: jobId! } } })),
    enabled: !!jobId,
  });
  if (!jobId) return <EmptyState title="No job is recorded for this backup.">It was imported, or made before jobs were recorded.</EmptyState>;
  if (q.isPending) return <Loading what="the job" />;
  if (q.error) return <ProblemMessage error={q.error} />;
  const job = q.data;
  return (
    <>
      <p>
        Job <code>{job.id}</code> ({job.kind}, {job.trigger}): {job.state}, <Time at={job.startedAt} />
        {job.finishedAt && <> to <Time at={job.finishedAt} /></>}
      </p>
      {job.error && <p className="problem">{job.error}</p>}
      {job.state === 'running' ? <JobProgress jobId={job.id} showLog /> : <JobLog lines={job.log ?? []} />}
      {job.state !== 'running' && (job.log ?? []).length === 0 && <p className="muted">The job wrote no log lines.</p>}
    </>
  );
}
