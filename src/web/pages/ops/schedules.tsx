// Schedules: every schedule with its next run; add, edit, pause, resume, run now, remove.
// Those from lifeboat.yaml can be paused and run here, but are changed in the file.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { JobProgress } from '../../components/job.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { inEffect, useTargets } from './queries.ts';
import { ScheduleForm, type ScheduleDraft } from './schedule-form.tsx';
import type { Schedule } from './types.ts';

export function SchedulesPage() {
  const client = useQueryClient();
  const canWrite = useCan('config.write');
  const canRun = useCan('backup');
  const targets = useTargets();
  const schedules = useQuery({ queryKey: ['schedules', 'list'], queryFn: async () => (await unwrap(api.GET('/api/v1/schedules'))).items });
  const [editing, setEditing] = useState<Schedule | 'new'>();
  const [removing, setRemoving] = useState<Schedule>();
  const [runs, setRuns] = useState<Record<number, string>>({});
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['schedules'] });
    void client.invalidateQueries({ queryKey: ['targets'] });
  };
  const pause = useMutation({
    mutationFn: (s: { id: number; paused: boolean }) => unwrap(api.PATCH('/api/v1/schedules/{id}', { params: { path: { id: s.id } }, body: { paused: s.paused } })),
    onSuccess: refresh,
  });
  const run = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/v1/schedules/{id}/run', { params: { path: { id } } })),
    onSuccess: (r, id) => setRuns((m) => ({ ...m, [id]: r.jobId })),
  });
  const save = async (d: ScheduleDraft) => {
    if (editing && editing !== 'new') await unwrap(api.PATCH('/api/v1/schedules/{id}', { params: { path: { id: editing.id } }, body: { spec: d.spec, timezone: d.timezone || undefined } }));
    else await unwrap(api.POST('/api/v1/schedules', { body: { target: d.target, spec: d.spec, timezone: d.timezone || undefined } }));
    refresh();
  };
  const items = schedules.data ?? [];
  const names = inEffect(targets.data).map((t) => t.name);
  return (
    <Page
      title="Schedules"
      actions={
        canWrite && names.length > 0 ? (
          <button type="button" className="primary" onClick={() => setEditing('new')}>
            New schedule
          </button>
        ) : undefined
      }
    >
      <ProblemMessage error={schedules.error ?? pause.error ?? run.error} />
      {schedules.isPending ? (
        <Loading what="schedules" />
      ) : items.length === 0 ? (
        <EmptyState title="No schedule: backups run only when started by hand.">
          {canWrite ? <p>Add one with “New schedule”, or give a target <code>schedule:</code> in lifeboat.yaml.</p> : <p>An admin adds schedules here or in lifeboat.yaml.</p>}
        </EmptyState>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Schedules</caption>
            <thead>
              <tr>
                <th scope="col">Target</th>
                <th scope="col">When</th>
                <th scope="col">Time zone</th>
                <th scope="col">Next run</th>
                <th scope="col">Defined in</th>
                {(canWrite || canRun) && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <tr key={s.id} data-schedule={s.id}>
                  <td>{s.target}</td>
                  <td>
                    {s.spec}
                    {s.spec !== s.cron && (
                      <div className="muted small">
                        <code>{s.cron}</code>
                      </div>
                    )}
                  </td>
                  <td>{s.timezone}</td>
                  <td>{s.paused ? <Badge tone="warn">paused</Badge> : <Time at={s.next} />}</td>
                  <td>
                    {s.source === 'file' ? (
                      <span title="change or remove it in lifeboat.yaml; pausing here is kept in the catalog">
                        lifeboat.yaml <code className="small">{s.configKey}</code>
                      </span>
                    ) : (
                      'here'
                    )}
                  </td>
                  {(canWrite || canRun) && (
                    <td>
                      <div className="row-actions">
                        {canWrite && (
                          <button type="button" disabled={pause.isPending} onClick={() => pause.mutate({ id: s.id, paused: !s.paused })} aria-label={`${s.paused ? 'Resume' : 'Pause'}: schedule ${s.id} of ${s.target}`}>
                            {s.paused ? 'Resume' : 'Pause'}
                          </button>
                        )}
                        {canRun && (
                          <button type="button" disabled={run.isPending} onClick={() => run.mutate(s.id)} aria-label={`Run now: schedule ${s.id} of ${s.target}`}>
                            Run now
                          </button>
                        )}
                        {canWrite && s.source === 'api' && (
                          <>
                            <button type="button" onClick={() => setEditing(s)} aria-label={`Edit: schedule ${s.id} of ${s.target}`}>
                              Edit
                            </button>
                            <button type="button" onClick={() => setRemoving(s)} aria-label={`Remove: schedule ${s.id} of ${s.target}`}>
                              Remove
                            </button>
                          </>
                        )}
                      </div>
                      {runs[s.id] && (
                        <div>
                          <JobProgress jobId={runs[s.id]!} onDone={refresh} />
                          <Link href={`/jobs/${runs[s.id]}`} className="small">
                            Log of this run
                          </Link>
                        </div>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {items.some((s) => s.source === 'file') && (
        <p className="notice small">
          Schedules from lifeboat.yaml (<code>targets.&lt;name&gt;.schedule</code>) are changed or removed in that file; here they can be paused, resumed and run now.
        </p>
      )}
      <ScheduleForm open={editing !== undefined} schedule={editing === 'new' ? undefined : editing} targets={names} onClose={() => setEditing(undefined)} onSave={save} />
      <ConfirmDialog
        open={removing !== undefined}
        title={removing ? `Remove schedule ${removing.id} of ${removing.target}?` : ''}
        confirmLabel="Remove schedule"
        danger
        onClose={() => setRemoving(undefined)}
        onConfirm={async () => {
          await unwrap(api.DELETE('/api/v1/schedules/{id}', { params: { path: { id: removing!.id } } }));
          refresh();
        }}
      >
        {removing && (
          <p>
            The schedule “{removing.spec}” ({removing.timezone}) of target <strong>{removing.target}</strong> is removed: it will no longer start backups. Its backups stay.
          </p>
        )}
      </ConfirmDialog>
    </Page>
  );
}
