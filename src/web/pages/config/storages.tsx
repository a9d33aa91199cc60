// Storages: where bundles live, with what is known of their space (as last measured), a test
// that measures it now, and add/edit/remove for those created here.
import { useState } from 'react';
import type { Schema } from '../../api/client.ts';
import { Dialog } from '../../components/dialog.tsx';
import { formatBytes, Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { RemoveButton, SourceBadge, SourceNote, TestButton } from './object-parts.tsx';
import { str, useObjects, type ConfigObject } from './objects.ts';
import { StorageForm } from './storage-form.tsx';
import './config.css';

type Usage = Schema<'StorageUsage'>;

/** Where a storage points, in one line (no secret is ever in the config shown). */
export function storagePlace(c: Record<string, unknown>): string {
  switch (c.type) {
    case 'local': return str(c.path);
    case 's3': return `s3://${str(c.bucket)}/${str(c.prefix)}${c.endpoint ? ` at ${str(c.endpoint)}` : ''}`;
    case 'sftp': return `sftp://${str(c.username)}@${str(c.host)}:${str(c.port)}${str(c.path)}`;
    case 'rclone': return str(c.remote);
    default: return '';
  }
}

export function StoragesPage() {
  const list = useObjects('storage');
  const canWrite = useCan('config.write');
  const canTest = useCan('verify');
  const [editing, setEditing] = useState<ConfigObject | 'new'>();
  return (
    <Page title="Storages" actions={canWrite && <button type="button" className="primary" onClick={() => setEditing('new')}>Add storage</button>}>
      <ProblemMessage error={list.error} />
      {list.isPending && <Loading what="storages" />}
      {list.data?.length === 0 && (
        <EmptyState title="No storage yet.">{canWrite ? <p>Add one (a local path is enough to start), or run the <a href="/welcome">setup wizard</a>.</p> : <p>An admin adds storages here or in lifeboat.yaml.</p>}</EmptyState>
      )}
      <div className="cards">
        {list.data?.map((s) => (
          <article key={`${s.source}-${s.name}`} className="card" aria-labelledby={`storage-${s.name}-${s.source}`}>
            <header className="page-head">
              <h2 id={`storage-${s.name}-${s.source}`}>{s.name}</h2>
              <span><Badge tone="neutral">{str(s.config.type)}</Badge> <SourceBadge object={s} /></span>
            </header>
            <p className="muted small"><code>{storagePlace(s.config)}</code></p>
            <UsageLines usage={s.usage} />
            <SourceNote object={s} />
            <div className="row-actions">
              {canTest && !s.shadowed && <TestButton kind="storage" name={s.name} onReport={() => void list.refetch()} />}
              {canWrite && s.source === 'api' && (
                <>
                  <button type="button" onClick={() => setEditing(s)} aria-label={`Edit storage ${s.name}`}>Edit</button>
                  <RemoveButton kind="storage" name={s.name} />
                </>
              )}
            </div>
          </article>
        ))}
      </div>
      <Dialog open={!!editing} title={editing === 'new' ? 'Add a storage' : `Edit storage ${editing?.name ?? ''}`} onClose={() => setEditing(undefined)} wide>
        {editing && <StorageForm existing={editing === 'new' ? undefined : editing} onSaved={() => setEditing(undefined)} />}
      </Dialog>
    </Page>
  );
}

function UsageLines({ usage }: { usage: Usage | null | undefined }) {
  if (!usage) return null;
  const limit = usage.quotaBytes ?? usage.totalBytes;
  // The last measurement may predate the newest backups the catalog knows there.
  const used = Math.max(usage.usedBytes ?? 0, usage.catalog.bytes);
  return (
    <dl className="kv">
      <dt>Used</dt>
      <dd>
        {formatBytes(used)}
        {limit ? ` of ${formatBytes(limit)}${usage.quotaBytes ? ' (quota)' : ''}` : ''}
        {!!limit && <meter className="meter" min={0} max={limit} value={used} aria-label={`space used of ${formatBytes(limit)}`} />}
      </dd>
      <dt>Free</dt>
      <dd>{usage.freeBytes === null ? <span className="muted">not measured yet: test it</span> : formatBytes(usage.freeBytes)}</dd>
      <dt>Backups</dt>
      <dd>{usage.catalog.backups} ({formatBytes(usage.catalog.bytes)})</dd>
      <dt>Measured</dt>
      <dd><Time at={usage.checkedAt} relative /></dd>
    </dl>
  );
}
