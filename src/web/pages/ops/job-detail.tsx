// One job: what it is, its outcome and its whole log; live over SSE while it runs, with cancel.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { formatDuration, Time } from '../../components/format.tsx';
import { JobLog, JobProgress } from '../../components/job.tsx';
import { Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { JobState } from './job-state.tsx';

export function JobDetailPage() {
  const { id } = useParams<{ id: string }>();
  const client = useQueryClient();
  const canCancel = useCan('backup');
  const [confirm, setConfirm] = useState(false);
  const job = useQuery({ queryKey: ['jobs', 'one', id], queryFn: () => unwrap(api.GET('/api/v1/jobs/{id}', { params: { path: { id } } })) });
  const j = job.data;
  const name = j ? `${j.kind}${j.target ? ` of ${j.target}` : ''}` : id;
  const running = j?.state === 'running';
  return (
    <Page
      title={j ? `Job: ${name}` : 'Job'}
      actions={
        running && canCancel ? (
          <button type="button" className="danger" onClick={() => setConfirm(true)}>
            Cancel job
          </button>
        ) : undefined
      }
    >
      <p>
        <Link href="/jobs">All jobs</Link>
      </p>
      <ProblemMessage error={job.error} />
      {job.isPending && <Loading what="the job" />}
      {j && (
        <>
          <dl className="facts wide-facts">
            <dt>State</dt>
            <dd>
              <JobState state={j.state} />
            </dd>
            <dt>Id</dt>
            <dd>
              <code>{j.id}</code>
            </dd>
            <dt>Trigger</dt>
            <dd>{j.trigger}</dd>
            <dt>Started</dt>
            <dd>
              <Time at={j.startedAt} />
            </dd>
            <dt>Duration</dt>
            <dd>{j.finishedAt ? formatDuration(Date.parse(j.finishedAt) - Date.parse(j.startedAt)) : 'running'}</dd>
            {j.backupId && (
              <>
                <dt>Backup</dt>
                <dd>
                  <Link href={`/backups/${encodeURIComponent(j.backupId)}`}>{j.backupId}</Link>
                </dd>
              </>
            )}
          </dl>
          {j.error && <ProblemMessage error={new Error(j.error)} title="The job failed" />}
          <h2>Log</h2>
          {running ? (
            // The stream replays every line so far, then follows the job to its end.
            <JobProgress
              jobId={j.id}
              showLog
              onDone={() => {
                void client.invalidateQueries({ queryKey: ['jobs'] });
                void client.invalidateQueries({ queryKey: ['status'] });
              }}
            />
          ) : j.log && j.log.length > 0 ? (
            <JobLog lines={j.log} />
          ) : (
            <p className="muted">This job wrote no log lines.</p>
          )}
        </>
      )}
      {j && (
        <ConfirmDialog
          open={confirm}
          title={`Cancel the ${name}?`}
          confirmLabel="Cancel the job"
          danger
          onClose={() => setConfirm(false)}
          onConfirm={async () => {
            await unwrap(api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: j.id } } }));
            void client.invalidateQueries({ queryKey: ['jobs'] });
          }}
        >
          <p>
            Job <code>{j.id}</code> ({name}, started <Time at={j.startedAt} />) stops, cleans up what it had written and ends as cancelled.
            {j.kind === 'backup' && ' No backup is kept from it.'}
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}
