// A backup: what it is, what it holds (read from its manifest: the bundle is not opened), its
// copies, its verification reports and its job's log; with the actions of its row and restore.
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'wouter';
import { api, unwrap, type Schema } from '../../api/client.ts';
import { formatBytes, formatDuration, Time } from '../../components/format.tsx';
import { Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { DeletionBadge, ProtectedBadge, StatusBadge, VerifiedBadge } from './badges.tsx';
import { BackupActions } from './row-actions.tsx';
import { DatabasesTab } from './tab-databases.tsx';
import { FilesTab } from './tab-files.tsx';
import { CopiesTab, CredentialsTab, MigrationsTab } from './tab-records.tsx';
import { JobLogTab, VerificationTab } from './tab-verification.tsx';
import { WorkflowsTab } from './tab-workflows.tsx';
import { Tabs, type TabDef } from './tabs.tsx';

export type BackupRecord = Schema<'Backup'>;

export function useBackup(id: string) {
  return useQuery({ queryKey: ['backups', 'one', id], queryFn: () => unwrap(api.GET('/api/v1/backups/{id}', { params: { path: { id } } })) });
}

export function BackupDetailPage() {
  const { id } = useParams<{ id: string }>();
  const q = useBackup(id);
  const canRestore = useCan('restore');
  if (q.isPending) return <Loading what="the backup" />;
  if (q.error)
    return (
      <Page title={`Backup ${id}`}>
        <ProblemMessage error={q.error} />
        <Link href="/backups">Back to the backups</Link>
      </Page>
    );
  const b = q.data.backup;
  const m = q.data.manifest ?? undefined;
  const stored = b.status === 'ok' || b.status === 'degraded';
  const tabs: TabDef[] = [];
  if (m) {
    tabs.push({ id: 'databases', label: `Databases (${m.postgres?.databases.length ?? 0})`, render: () => <DatabasesTab backupId={b.id} manifest={m} /> });
    tabs.push({ id: 'files', label: `Files (${m.files.length})`, render: () => <FilesTab manifest={m} /> });
    if (m.app.profile === 'n8n' || m.app.items.some((i) => i.kind === 'workflow')) tabs.push({ id: 'workflows', label: 'Workflows', render: () => <WorkflowsTab backup={b} /> });
    if (m.app.items.some((i) => i.kind === 'credential')) tabs.push({ id: 'credentials', label: 'Credentials', render: () => <CredentialsTab backupId={b.id} /> });
    if (m.app.migrations?.length) tabs.push({ id: 'migrations', label: 'Migrations', render: () => <MigrationsTab backupId={b.id} profile={m.app.profile} /> });
  }
  tabs.push({ id: 'copies', label: `Copies (${b.locations.length})`, render: () => <CopiesTab backup={b} /> });
  tabs.push({ id: 'verification', label: 'Verification', render: () => <VerificationTab backup={b} /> });
  tabs.push({ id: 'job', label: 'Job log', render: () => <JobLogTab jobId={b.jobId} /> });
  return (
    <Page
      title={`Backup ${b.id}`}
      actions={
        <>
          {canRestore && stored && (
            <Link href={`/backups/${encodeURIComponent(b.id)}/restore`} className="button primary">
              Restore…
            </Link>
          )}
          <BackupActions
            b={{ id: b.id, target: b.target, status: b.status, size: b.size, startedAt: b.startedAt, protected: b.protected, pendingDeletion: b.deletionStatus === 'pending', storages: b.locations.map((l) => l.storage) }}
          />
        </>
      }
    >
      <p>
        <Link href="/backups">← Backups</Link>
      </p>
      <div className="card detail-head">
        <p className="badges">
          <StatusBadge status={b.status} error={b.error} />{' '}
          <VerifiedBadge v={{ status: b.verificationStatus, level: b.verificationLevel, at: b.verifiedAt }} /> {b.protected && <ProtectedBadge until={b.protectedUntil} />}{' '}
          {b.deletionStatus === 'pending' && <DeletionBadge at={b.deleteAfter} />}
          {b.trust === 'untrusted' && <span className="badge badge-warn">untrusted: {b.trustReason}</span>}
        </p>
        {b.error && <p className="problem">{b.error}</p>}
        <dl className="facts">
          <dt>Target</dt>
          <dd>{b.target}</dd>
          <dt>Started</dt>
          <dd>
            <Time at={b.startedAt} /> ({b.trigger})
          </dd>
          <dt>Took</dt>
          <dd>{formatDuration(b.summary?.durationMs)}</dd>
          <dt>Size</dt>
          <dd>
            {formatBytes(b.size)}
            {b.compression ? `, ${b.compression}` : ''}
            {b.encrypted ? ', encrypted' : ''}
          </dd>
          {b.summary && (
            <>
              <dt>Holds</dt>
              <dd>
                {b.summary.databases} database(s), {b.summary.tables} tables, {b.summary.rows.toLocaleString()} rows, {b.summary.files} files
                {b.summary.appItems ? `, ${b.summary.appItems} app items` : ''}
                {b.summary.warnings ? `, ${b.summary.warnings} warning(s)` : ''}
              </dd>
            </>
          )}
          {m && (
            <>
              <dt>Profile</dt>
              <dd>{m.app.profile}</dd>
              <dt>Made by</dt>
              <dd>
                Lifeboat {m.lifeboatVersion} on {m.host.hostname}
                {m.postgres ? `, PostgreSQL ${m.postgres.serverVersion}` : ''}
              </dd>
            </>
          )}
          {b.sha256 && (
            <>
              <dt>SHA-256</dt>
              <dd>
                <code className="hash">{b.sha256}</code>
              </dd>
            </>
          )}
        </dl>
        {m && m.warnings.length > 0 && (
          <ul className="checks">
            {m.warnings.map((w) => (
              <li key={w} className="check-warn">
                {w}
              </li>
            ))}
          </ul>
        )}
      </div>
      <Tabs tabs={tabs} label="What the backup holds" />
    </Page>
  );
}
