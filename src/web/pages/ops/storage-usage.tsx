// Storage use on the dashboard: per storage what Lifeboat keeps there against the quota, and
// the free space the backend reported at its last measurement.
import { Badge } from '../../components/page.tsx';
import { formatBytes, Time } from '../../components/format.tsx';
import type { StorageWithUsage } from './queries.ts';

export function StorageUsageList({ storages }: { storages: StorageWithUsage[] }) {
  return (
    <div className="cards">
      {storages.map((s) => (
        <StorageCard key={`${s.source}:${s.name}`} storage={s} />
      ))}
    </div>
  );
}

function StorageCard({ storage }: { storage: StorageWithUsage }) {
  const u = storage.usage;
  const used = u?.usedBytes ?? u?.catalog.bytes ?? 0;
  const quota = u?.quotaBytes ?? null;
  const share = quota ? used / quota : u?.totalBytes ? (u.totalBytes - (u.freeBytes ?? 0)) / u.totalBytes : undefined;
  const tone = share === undefined ? 'neutral' : share >= 0.9 ? 'bad' : share >= 0.75 ? 'warn' : 'ok';
  const id = `storage-${storage.name}`;
  return (
    <article className="card storage-card" aria-labelledby={id}>
      <header className="card-head">
        <h3 id={id}>{storage.name}</h3>
        <Badge tone="neutral">{u?.type ?? String(storage.config.type ?? '')}</Badge>
      </header>
      <p data-field="usage">
        <strong>{formatBytes(used)}</strong>
        {quota ? ` of ${formatBytes(quota)} quota` : ' used'}
        {u && ` · ${u.catalog.backups} backup${u.catalog.backups === 1 ? '' : 's'}`}
      </p>
      {share !== undefined && (
        <meter className={`meter meter-${tone}`} min={0} max={1} low={0.75} high={0.9} optimum={0} value={Math.min(1, share)} aria-label={`${storage.name}: ${Math.round(share * 100)}% ${quota ? 'of its quota' : 'of the disk'} used`} />
      )}
      <p className="muted small">
        {u?.freeBytes !== null && u?.freeBytes !== undefined ? `${formatBytes(u.freeBytes)} free${u.totalBytes ? ` of ${formatBytes(u.totalBytes)}` : ''}` : 'free space not measured yet'}
        {u?.checkedAt ? (
          <>
            {' '}· measured <Time at={u.checkedAt} relative />
          </>
        ) : (
          <> · measured by each backup, or <code>lifeboat storage check</code></>
        )}
      </p>
    </article>
  );
}
