// "2 backups pending deletion": retention announced them (preDeletionNoticeHours) and deletes
// them when the notice runs out, unless someone keeps them.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { useCan } from '../../session.tsx';

export function PendingBanner({ onShow }: { onShow: () => void }) {
  const canKeep = useCan('protect');
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const pending = useQuery({
    queryKey: ['backups', 'pending'],
    queryFn: () => unwrap(api.GET('/api/v1/backups', { params: { query: { pendingDeletion: 'true', limit: 200, total: 'true', sort: 'startedAt', order: 'asc' } } })),
  });
  const items = pending.data?.items ?? [];
  const n = pending.data?.total ?? items.length;
  if (n === 0) return null;
  const first = items.map((b) => b.deletion.at).filter((a): a is string => !!a).sort()[0];
  return (
    <div className="banner" role="region" aria-label="Pending deletion">
      <span>
        <strong>
          {n} backup{n === 1 ? '' : 's'} pending deletion
        </strong>
        {first && (
          <>
            {' '}
            (the first <Time at={first} relative />)
          </>
        )}
      </span>
      <button type="button" onClick={onShow}>
        Show {n === 1 ? 'it' : 'them'}
      </button>
      {canKeep && (
        <button type="button" onClick={() => setOpen(true)}>
          Cancel deletion
        </button>
      )}
      <ConfirmDialog
        open={open}
        title={`Keep ${n} backup${n === 1 ? '' : 's'}`}
        confirmLabel={`Cancel deletion of ${n}`}
        onClose={() => setOpen(false)}
        onConfirm={async () => {
          try {
            for (const b of items) await unwrap(api.POST('/api/v1/backups/{id}/cancel-deletion', { params: { path: { id: b.id } } }));
          } finally {
            await client.invalidateQueries({ queryKey: ['backups'] });
          }
        }}
      >
        <p>Retention will not delete these backups. Each becomes protected; unprotect one later to let retention decide about it again.</p>
        <ul>
          {items.map((b) => (
            <li key={b.id}>
              <code>{b.id}</code>
            </li>
          ))}
        </ul>
        {n > items.length && <p className="muted">The first {items.length} are kept now; come back for the rest.</p>}
      </ConfirmDialog>
    </div>
  );
}
