// Credentials (names and types: their data is never in the manifest, so never here), migrations
// (with their compatibility with the code deployed now) and copies of a backup.
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes, Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { ScrollTable } from './scroll-table.tsx';
import type { BackupRecord } from './detail-page.tsx';

function useContents(backupId: string, kind: 'credential' | 'migration') {
  return useQuery({
    queryKey: ['backups', 'contents', backupId, kind],
    queryFn: () => unwrap(api.GET('/api/v1/backups/{id}/contents', { params: { path: { id: backupId }, query: { kind, limit: 200 } } })),
  });
}

export function CredentialsTab({ backupId }: { backupId: string }) {
  const q = useContents(backupId, 'credential');
  if (q.isPending) return <Loading what="credentials" />;
  if (q.error) return <ProblemMessage error={q.error} />;
  const items = q.data.items as { name: string; id: string; type: string | null; updatedAt: string | null }[];
  if (items.length === 0) return <EmptyState title="No credentials in this backup." />;
  return (
    <>
      <p className="muted">Names and types only: the credentials' data stays encrypted inside the dump and is never shown.</p>
      <ScrollTable label="Credentials">
        <table aria-label="Credentials">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id}>
                <td>
                  {c.name}
                  <div className="muted small">{c.id}</div>
                </td>
                <td>{c.type ?? '—'}</td>
                <td>
                  <Time at={c.updatedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollTable>
      {q.data.nextCursor && <p className="muted">The first {items.length} of {q.data.total} are shown.</p>}
    </>
  );
}

export function MigrationsTab({ backupId, profile }: { backupId: string; profile: string }) {
  const q = useContents(backupId, 'migration');
  if (q.isPending) return <Loading what="migrations" />;
  if (q.error) return <ProblemMessage error={q.error} />;
  const items = q.data.items as { name: string; appliedAt: string | null }[];
  if (items.length === 0) return <EmptyState title="No migration state was recorded." />;
  return (
    <>
      <p className="muted">
        The {profile} migrations applied to the database when it was backed up ({q.data.total}); code deployed now expects the same set, or a later one.
      </p>
      <DeployedCompatibility backupId={backupId} />
      <ScrollTable label="Migrations">
        <table aria-label="Migrations">
          <thead>
            <tr>
              <th scope="col">Migration</th>
              <th scope="col">Applied</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.name}>
                <td>
                  <code>{m.name}</code>
                </td>
                <td>
                  <Time at={m.appliedAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollTable>
    </>
  );
}

/** The checks a restore's plan would make of these migrations against the code deployed now. */
function DeployedCompatibility({ backupId }: { backupId: string }) {
  const q = useQuery({
    queryKey: ['backups', 'compatibility', backupId],
    queryFn: () => unwrap(api.GET('/api/v1/backups/{id}/compatibility', { params: { path: { id: backupId } } })),
  });
  return (
    <section aria-labelledby="compat-title" className="card">
      <h3 id="compat-title">Compatibility with the deployed code</h3>
      {q.isPending && <Loading what="the comparison with the deployed code" />}
      <ProblemMessage error={q.error} />
      {q.data && !q.data.checked && <p data-checked="false">Not compared: {q.data.reason}.</p>}
      {q.data?.checked && (
        <>
          <ul className="checks" aria-label="Compatibility checks">
            {q.data.checks.map((c) => (
              <li key={c.name} className={c.ok ? 'check-ok' : 'check-bad'}>
                <strong>{c.name}</strong>
                <span className="sr-only">{c.ok ? ' compatible' : ' not compatible'}</span>: {c.detail}
              </li>
            ))}
          </ul>
          {q.data.checks.some((c) => !c.ok) && <p className="muted small">A restore of this backup is refused until the matching code is deployed, unless forced.</p>}
        </>
      )}
    </section>
  );
}

const TONE = { ok: 'ok', pending: 'info', failed: 'bad', missing: 'bad' } as const;

export function CopiesTab({ backup }: { backup: BackupRecord }) {
  if (backup.locations.length === 0) return <EmptyState title="No stored copy.">{backup.status === 'failed' ? 'The backup failed before anything was stored.' : null}</EmptyState>;
  return (
    <ScrollTable label="Copies">
      <table aria-label="Copies">
        <thead>
          <tr>
            <th scope="col">Storage</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Size</th>
            <th scope="col">Where</th>
          </tr>
        </thead>
        <tbody>
          {backup.locations.map((l) => (
            <tr key={l.storage}>
              <td>{l.storage}</td>
              <td>
                <Badge tone={TONE[l.status]}>{l.status}</Badge>
                {l.error && <div className="problem small">{l.error}</div>}
              </td>
              <td className="num">{formatBytes(l.size)}</td>
              <td>
                <code className="hash">{l.key}</code>
                {l.sha256 && (
                  <div className="muted small">
                    sha256 <code className="hash">{l.sha256}</code>
                  </div>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </ScrollTable>
  );
}
