// The badges of a backup's row and header: status, verification, protection, pending deletion,
// copies. Each says in words what its colour says, for screen readers and in print.
import type { Schema } from '../../api/client.ts';
import { Badge, type Tone } from '../../components/page.tsx';
import { ago, Time } from '../../components/format.tsx';
import { ShieldIcon } from './icons.tsx';

export type BackupRow = Schema<'BackupRow'>;

const STATUS_TONE: Record<BackupRow['status'], Tone> = { ok: 'ok', degraded: 'warn', failed: 'bad', running: 'info', deleted: 'neutral' };

export function StatusBadge({ status, error }: { status: BackupRow['status']; error?: string | null }) {
  return (
    <Badge tone={STATUS_TONE[status]} title={error ?? undefined}>
      {status}
    </Badge>
  );
}

/** quick/full with the date it passed; failed; or "not verified". */
export function VerifiedBadge({ v }: { v: BackupRow['verification'] }) {
  if (v.status === 'unverified') return <Badge tone="neutral">not verified</Badge>;
  const label = v.status === 'failed' ? `verification failed${v.level ? ` (${v.level})` : ''}` : `verified ${v.level ?? ''}`.trim();
  return (
    <span className="badge-with-date">
      <Badge tone={v.status === 'failed' ? 'bad' : v.level === 'full' ? 'ok' : 'info'} title={v.level === 'full' ? 'a test restore passed' : v.level === 'quick' ? 'every checksum matched' : undefined}>
        {label}
      </Badge>{' '}
      {v.at && (
        <span className="muted small">
          <Time at={v.at} />
        </span>
      )}
    </span>
  );
}

export function ProtectedBadge({ until }: { until: string | null }) {
  return (
    <Badge tone="info" title={until ? `protected until ${until}` : 'protected until unprotected'}>
      <ShieldIcon /> protected{until ? ` until ${new Date(until).toLocaleDateString()}` : ''}
    </Badge>
  );
}

/** "deletes in 18h": when retention will remove it, unless cancelled. */
export function DeletionBadge({ at }: { at: string | null }) {
  return (
    <Badge tone="warn" title={at ? `retention deletes it at ${at} unless the deletion is cancelled` : undefined}>
      deletes {at ? deletesIn(new Date(at)) : 'soon'}
    </Badge>
  );
}

/** "in 18h", "in 2d", "now": short enough for a badge. */
export function deletesIn(at: Date, now = Date.now()): string {
  const h = (at.getTime() - now) / 3_600_000;
  if (h <= 0) return 'now';
  if (h < 1) return `in ${Math.max(1, Math.round(h * 60))}m`;
  if (h < 48) return `in ${Math.round(h)}h`;
  return ago(at, now);
}

/** Copies that are not good: a backup with one is degraded. */
export function CopiesBadge({ locations }: { locations: BackupRow['locations'] }) {
  const bad = locations.filter((l) => l.status === 'failed' || l.status === 'missing');
  if (bad.length === 0) return null;
  return (
    <Badge tone="warn" title={bad.map((l) => `${l.storage}: ${l.status}`).join(', ')}>
      {bad.length} of {locations.length} copies bad
    </Badge>
  );
}
