// Verify now: quick (every checksum of every copy) or full (a test restore), followed live.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { Dialog } from '../../components/dialog.tsx';
import { JobProgress } from '../../components/job.tsx';
import { ProblemMessage } from '../../components/problem.tsx';

export function VerifyDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const client = useQueryClient();
  const [level, setLevel] = useState<'quick' | 'full'>('full');
  const start = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/backups/{id}/verify', { params: { path: { id } }, body: { level } })) });
  return (
    <Dialog open title={`Verify ${id}`} onClose={onClose}>
      {!start.data ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            start.mutate();
          }}
        >
          <fieldset>
            <legend>How</legend>
            <label className="inline">
              <input type="radio" name="level" checked={level === 'full'} onChange={() => setLevel('full')} /> Full: restore it into a scratch database and compare every table
            </label>
            <label className="inline">
              <input type="radio" name="level" checked={level === 'quick'} onChange={() => setLevel('quick')} /> Quick: check every copy's checksums
            </label>
          </fieldset>
          <ProblemMessage error={start.error} />
          <div className="dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={start.isPending}>
              Start verification
            </button>
          </div>
        </form>
      ) : (
        <>
          <JobProgress jobId={start.data.jobId} showLog onDone={() => void client.invalidateQueries({ queryKey: ['backups'] })} />
          <div className="dialog-actions">
            <button type="button" onClick={onClose} data-autofocus>
              Close
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
