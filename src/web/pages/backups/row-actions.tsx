// What can be done to one backup from its row. Each control is there only for a role that may
// use it, and each names the backup in its accessible name.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { ConfirmDialog, Dialog } from '../../components/dialog.tsx';
import { formatBytes, Time } from '../../components/format.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import type { BackupRow } from './badges.tsx';
import { LockIcon } from './icons.tsx';
import { VerifyDialog } from './verify-dialog.tsx';

/** The parts of a backup the actions need: a list row or a full record. */
export interface ActionTarget {
  id: string;
  target: string;
  status: BackupRow['status'];
  size: number | null;
  startedAt: string;
  protected: boolean;
  pendingDeletion: boolean;
  storages: string[];
}

export function toActionTarget(b: BackupRow): ActionTarget {
  return { id: b.id, target: b.target, status: b.status, size: b.size, startedAt: b.startedAt, protected: b.protected, pendingDeletion: b.deletion.status === 'pending', storages: b.locations.map((l) => l.storage) };
}

export function RowActions({ b }: { b: BackupRow }) {
  const t = toActionTarget(b);
  return (
    <div className="row-actions">
      {(b.status === 'ok' || b.status === 'degraded') && (
        <Link href={`/backups/${encodeURIComponent(b.id)}`} className="button">
          Contents<span className="sr-only"> of {b.id}</span>
        </Link>
      )}
      <BackupActions b={t} />
    </div>
  );
}

/** Verify, protect/unprotect, cancel deletion, download, delete: on a row and on the detail page. */
export function BackupActions({ b }: { b: ActionTarget }) {
  const can = { verify: useCan('verify'), protect: useCan('protect'), download: useCan('download'), delete: useCan('delete') };
  const client = useQueryClient();
  const [verifying, setVerifying] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const stored = b.status === 'ok' || b.status === 'degraded';
  const refresh = () => client.invalidateQueries({ queryKey: ['backups'] });
  const protect = useMutation({
    mutationFn: () =>
      b.protected
        ? unwrap(api.POST('/api/v1/backups/{id}/unprotect', { params: { path: { id: b.id } } }))
        : unwrap(api.POST('/api/v1/backups/{id}/protect', { params: { path: { id: b.id } }, body: {} })),
    onSettled: refresh,
  });
  const keep = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/backups/{id}/cancel-deletion', { params: { path: { id: b.id } } })), onSettled: refresh });
  return (
    <>
      {can.verify && stored && (
        <button type="button" onClick={() => setVerifying(true)}>
          Verify<span className="sr-only"> {b.id}</span>
        </button>
      )}
      {can.protect && stored && (
        <button
          type="button"
          aria-pressed={b.protected}
          title={b.protected ? 'Protected: retention keeps it. Click to let retention decide again.' : 'Keep it whatever retention says'}
          onClick={() => protect.mutate()}
          disabled={protect.isPending}
        >
          <LockIcon open={!b.protected} /> {b.protected ? 'Unprotect' : 'Protect'}
          <span className="sr-only"> {b.id}</span>
        </button>
      )}
      {can.protect && b.pendingDeletion && (
        <button type="button" onClick={() => keep.mutate()} disabled={keep.isPending}>
          Keep<span className="sr-only"> {b.id} (cancel its deletion)</span>
        </button>
      )}
      {can.download && stored && (
        <a className="button" href={`/api/v1/backups/${encodeURIComponent(b.id)}/download`} download>
          Download<span className="sr-only"> {b.id}</span>
        </a>
      )}
      {can.delete && b.status !== 'deleted' && b.status !== 'running' && (
        <button type="button" className="danger-text" onClick={() => setDeleting(true)}>
          Delete<span className="sr-only"> {b.id}</span>
        </button>
      )}
      <ProblemMessage error={protect.error ?? keep.error} />
      {verifying && <VerifyDialog id={b.id} onClose={() => setVerifying(false)} />}
      {deleting && b.protected && <ProtectedNotice b={b} onClose={() => setDeleting(false)} />}
      <ConfirmDialog
        open={deleting && !b.protected}
        title={`Delete backup ${b.id}`}
        confirmLabel="Delete it"
        danger
        onClose={() => setDeleting(false)}
        onConfirm={async () => {
          await unwrap(api.DELETE('/api/v1/backups/{id}', { params: { path: { id: b.id } } }));
          await refresh();
        }}
      >
        <p>
          This deletes backup <code>{b.id}</code> of target <strong>{b.target}</strong> (<Time at={b.startedAt} />, {formatBytes(b.size)}) from{' '}
          {b.storages.length ? `every storage it is on: ${b.storages.join(', ')}` : 'the catalog'}. It cannot be restored afterwards.
        </p>
      </ConfirmDialog>
    </>
  );
}

/** A protected backup is not offered for deletion: it says what to do first. */
function ProtectedNotice({ b, onClose }: { b: ActionTarget; onClose: () => void }) {
  const client = useQueryClient();
  const canProtect = useCan('protect');
  const unprotect = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/backups/{id}/unprotect', { params: { path: { id: b.id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['backups'] }),
  });
  return (
    <Dialog open title={`Backup ${b.id} is protected`} onClose={onClose}>
      <p>A protected backup cannot be deleted. Unprotect it first; then it can be deleted (and retention decides about it again).</p>
      <ProblemMessage error={unprotect.error} />
      <div className="dialog-actions">
        <button type="button" onClick={onClose} data-autofocus>
          Close
        </button>
        {canProtect && (
          <button type="button" className="primary" disabled={unprotect.isPending} onClick={() => unprotect.mutate(undefined, { onSuccess: onClose })}>
            Unprotect {b.id}
          </button>
        )}
      </div>
    </Dialog>
  );
}
