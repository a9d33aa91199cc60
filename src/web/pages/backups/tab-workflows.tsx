// n8n workflows in a backup: list and search (from the manifest), download one as the JSON
// `n8n import:workflow` reads, or create it in the target's running n8n (inactive, renamed).
import { useMutation, useQuery } from '@tanstack/react-query';
import { useDeferredValue, useId, useState } from 'react';
import { api, ApiError, unwrap } from '../../api/client.ts';
import { Dialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { JobProgress } from '../../components/job.tsx';
import { EmptyState, Loading } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { ScrollTable } from './scroll-table.tsx';
import type { BackupRecord } from './detail-page.tsx';

/**
 * Why "restore to n8n" cannot be used for this target now (no n8n configured, not reachable,
 * key refused: GET /api/v1/targets/{name}/n8n asks it), or undefined when it can be tried.
 */
function useN8nBlocker(target: string, enabled: boolean): string | undefined {
  const t = useQuery({
    queryKey: ['targets', target, 'n8n'],
    queryFn: () => unwrap(api.GET('/api/v1/targets/{name}/n8n', { params: { path: { name: target } } })),
    enabled,
    staleTime: 30_000,
    retry: false,
  });
  if (t.error) return t.error instanceof ApiError && t.error.status === 404 ? `target ${target} is not configured any more` : t.error.message;
  if (!t.data) return 'checking whether n8n is reachable…';
  if (!t.data.reachable) return t.data.hint ? `${t.data.detail}: ${t.data.hint}` : t.data.detail;
  return undefined;
}

export function WorkflowsTab({ backup }: { backup: BackupRecord }) {
  const searchId = useId();
  const [text, setText] = useState('');
  const q = useDeferredValue(text.trim());
  const canExport = useCan('workflows.restore');
  const blocker = useN8nBlocker(backup.target, canExport);
  const [pushing, setPushing] = useState<{ id: string; name: string }>();
  const list = useQuery({
    queryKey: ['backups', 'workflows', backup.id, q],
    queryFn: () => unwrap(api.GET('/api/v1/backups/{id}/workflows', { params: { path: { id: backup.id }, query: { q: q || undefined } } })),
    placeholderData: (prev) => prev,
  });
  if (list.isPending) return <Loading what="workflows" />;
  if (list.error) return <ProblemMessage error={list.error} />;
  const { items, total } = list.data;
  if (total === 0) return <EmptyState title="This backup holds no n8n workflows." />;
  const day = backup.startedAt.slice(0, 10).replaceAll('-', '');
  return (
    <>
      {canExport && (
        <p className="notice">
          “Restore to n8n” creates the workflow in the target's running n8n as <code>{'{name}'}_backup_{day}</code>, inactive: the live workflow is not touched.
          {blocker && (
            <>
              {' '}
              It is not available now: {blocker}.
            </>
          )}
        </p>
      )}
      <div className="filters">
        <div>
          <label htmlFor={searchId}>Search workflows</label>
          <input id={searchId} type="search" value={text} placeholder="name, id or tag" onChange={(e) => setText(e.target.value)} />
        </div>
        <span className="muted" role="status">
          {items.length} of {total}
        </span>
      </div>
      <ScrollTable label="Workflows">
        <table aria-label="Workflows">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Active</th>
              <th scope="col">Tags</th>
              <th scope="col" className="num">Nodes</th>
              <th scope="col">Updated</th>
              {canExport && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={w.id}>
                <td>
                  {w.name}
                  <div className="muted small">{w.id}</div>
                </td>
                <td>{w.active === undefined ? '—' : w.active ? 'active' : 'inactive'}</td>
                <td>{(w.tags ?? []).map((t) => <span key={t} className="badge badge-neutral">{t}</span>)}</td>
                <td className="num">{w.nodes ?? '—'}</td>
                <td>
                  <Time at={w.updatedAt} />
                </td>
                {canExport && (
                  <td>
                    <div className="row-actions">
                      <a className="button" href={`/api/v1/backups/${encodeURIComponent(backup.id)}/workflows/export?workflow=${encodeURIComponent(w.id)}`} download>
                        Download JSON<span className="sr-only"> of {w.name}</span>
                      </a>
                      <button type="button" disabled={!!blocker} title={blocker} onClick={() => setPushing({ id: w.id, name: w.name })}>
                        Restore to n8n<span className="sr-only"> ({w.name})</span>
                      </button>
                    </div>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollTable>
      {pushing && <PushDialog backupId={backup.id} day={day} w={pushing} onClose={() => setPushing(undefined)} />}
    </>
  );
}

function PushDialog({ backupId, day, w, onClose }: { backupId: string; day: string; w: { id: string; name: string }; onClose: () => void }) {
  const push = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/backups/{id}/workflows/restore', { params: { path: { id: backupId } }, body: { workflows: [w.id] } })) });
  return (
    <Dialog open title={`Restore “${w.name}” to n8n`} onClose={onClose}>
      {!push.data ? (
        <>
          <p>
            This creates a new, inactive workflow <code>{w.name}_backup_{day}</code> in the target's running n8n from backup <code>{backupId}</code>. The live “{w.name}” is not changed.
          </p>
          <ProblemMessage error={push.error} />
          <div className="dialog-actions">
            <button type="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" className="primary" disabled={push.isPending} onClick={() => push.mutate()} data-autofocus>
              Create it in n8n
            </button>
          </div>
        </>
      ) : (
        <>
          <JobProgress jobId={push.data.jobId} showLog />
          <div className="dialog-actions">
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
