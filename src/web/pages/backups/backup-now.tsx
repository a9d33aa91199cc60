// Back up now: choose a target, start its backup (with its check and retention, as the scheduler
// runs it) and follow it to the end; the list then shows the new backup.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { Dialog } from '../../components/dialog.tsx';
import { JobProgress, type JobOutcome } from '../../components/job.tsx';
import { ProblemMessage } from '../../components/problem.tsx';

export function BackupNow() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        Back up now
      </button>
      {open && <BackupNowDialog onClose={() => setOpen(false)} />}
    </>
  );
}

function BackupNowDialog({ onClose }: { onClose: () => void }) {
  const client = useQueryClient();
  const selectId = useId();
  const targets = useQuery({ queryKey: ['targets'], queryFn: () => unwrap(api.GET('/api/v1/targets')) });
  const names = (targets.data?.items ?? []).filter((t) => !t.shadowed).map((t) => t.name);
  const [chosen, setChosen] = useState<string>();
  const target = chosen ?? names[0];
  const [outcome, setOutcome] = useState<JobOutcome>();
  const start = useMutation({ mutationFn: (name: string) => unwrap(api.POST('/api/v1/targets/{name}/backups', { params: { path: { name } } })) });
  const newId = (outcome?.result as { backupId?: string } | undefined)?.backupId;
  return (
    <Dialog open title="Back up now" onClose={onClose}>
      {!start.data ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (target) start.mutate(target);
          }}
        >
          {targets.error && <ProblemMessage error={targets.error} />}
          {targets.data && names.length === 0 && <p>No target is configured yet: add one under Configuration → Targets.</p>}
          {names.length > 0 && (
            <>
              <label htmlFor={selectId}>Target</label>
              <select id={selectId} value={target} onChange={(e) => setChosen(e.target.value)}>
                {names.map((n) => (
                  <option key={n}>{n}</option>
                ))}
              </select>
              <p className="muted small">It runs as a scheduled backup would: the target's check and retention follow it.</p>
            </>
          )}
          <ProblemMessage error={start.error} />
          <div className="dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={!target || start.isPending}>
              Start backup
            </button>
          </div>
        </form>
      ) : (
        <>
          <p>
            Backing up <strong>{target}</strong>:
          </p>
          <JobProgress
            jobId={start.data.jobId}
            showLog
            onDone={(o) => {
              setOutcome(o);
              void client.invalidateQueries({ queryKey: ['backups'] });
              void client.invalidateQueries({ queryKey: ['storages'] });
            }}
          />
          {newId && (
            <p>
              New backup: <Link href={`/backups/${encodeURIComponent(newId)}`}>{newId}</Link>
            </p>
          )}
          <div className="dialog-actions">
            <button type="button" onClick={onClose} data-autofocus={outcome ? true : undefined}>
              {outcome ? 'Close' : 'Close (the backup goes on)'}
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
