// "Back up now" for one target: starts the backup (POST /api/v1/targets/{name}/backups) and
// follows its progress live where the button was; a backup of the target already running (the
// scheduler's, another user's) shows the progress the catalog saved (StoredProgress).
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { JobProgress } from '../../components/job.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { StoredProgress } from './stored-progress.tsx';
import type { RunningJob } from './types.ts';

/** What a backup changes, refreshed when one ends: health, the chart, storage use, jobs, events. */
const CHANGED_BY_BACKUP = ['targets', 'storages', 'status', 'backups', 'jobs', 'events', 'retention'];

export function BackUpNow({ target, runningJob }: { target: string; runningJob: RunningJob | undefined }) {
  const can = useCan('backup');
  const client = useQueryClient();
  const [started, setStarted] = useState<string>();
  const [ended, setEnded] = useState<ReadonlySet<string>>(new Set());
  const start = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/targets/{name}/backups', { params: { path: { name: target } } })),
    onSuccess: (r) => {
      setStarted(r.jobId);
      void client.invalidateQueries({ queryKey: ['status'] });
    },
  });
  const jobId = started;
  const elsewhere = runningJob && runningJob.id !== started ? runningJob : undefined;
  const running = (!!jobId && !ended.has(jobId)) || !!elsewhere;
  return (
    <div className="backup-now">
      {elsewhere && <StoredProgress job={elsewhere} />}
      {jobId && !elsewhere && (
        <div>
          <JobProgress
            jobId={jobId}
            onDone={() => {
              setEnded((s) => new Set(s).add(jobId));
              for (const key of CHANGED_BY_BACKUP) void client.invalidateQueries({ queryKey: [key] });
            }}
          />
          <Link href={`/jobs/${jobId}`} className="small">
            Log of this backup of {target}
          </Link>
        </div>
      )}
      {can && !running && (
        <button type="button" className="primary" disabled={start.isPending} onClick={() => start.mutate()}>
          {start.isPending ? 'Starting…' : `Back up ${target} now`}
        </button>
      )}
      <ProblemMessage error={start.error} title={`The backup of ${target} did not start`} />
    </div>
  );
}
