import type { Catalog, EventRecord } from '../catalog/catalog.ts';

/** Every event Lifeboat raises; the payload's `event` field is one of these. */
export const EVENT_KINDS = [
  'backup_succeeded', 'backup_failed', 'backup_degraded', 'backup_missing',
  'verification_passed', 'verification_failed',
  'pending_deletion', 'deleted',
  'low_space', 'critical_space',
  'restore_started', 'restore_finished', 'restore_failed',
  'resources_reaped',
  'test',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What a channel gets when it lists no `on:`: failures and emergencies. */
export const DEFAULT_EVENTS: readonly EventKind[] = [
  'backup_failed', 'backup_degraded', 'backup_missing', 'verification_failed', 'low_space', 'critical_space', 'restore_failed',
];

/** Names a channel's `on:` may use for several events: `failure` (as in DESIGN.md's example). */
export const EVENT_GROUPS: Record<string, readonly EventKind[]> = {
  failure: ['backup_failed', 'backup_degraded', 'verification_failed', 'restore_failed'],
};

/** Events that always reach channels marked `emergency: true`, whatever their `on:` says. */
export const EMERGENCY_EVENTS: readonly EventKind[] = ['critical_space', 'backup_missing'];

/**
 * The stable JSON every channel carries (webhook bodies verbatim), version 1. Fields are only
 * ever added within a version.
 */
export interface EventPayload {
  version: 1;
  id: number;
  event: string;
  severity: string;
  at: string;
  target: string | null;
  backup: { id: string; status: string; startedAt: string; size: number | null } | null;
  message: string;
  /** Event-specific details, e.g. `deleteAt` and `reasons` for pending_deletion. */
  data: unknown;
}

export function payloadOf(catalog: Catalog, e: EventRecord): EventPayload {
  const b = e.backupId ? catalog.getBackup(e.backupId) : undefined;
  return {
    version: 1,
    id: e.id,
    event: e.kind,
    severity: e.severity,
    at: e.at,
    target: e.target,
    backup: b ? { id: b.id, status: b.status, startedAt: b.startedAt, size: b.size } : e.backupId ? { id: e.backupId, status: 'unknown', startedAt: '', size: null } : null,
    message: e.message,
    data: e.data,
  };
}

const ICON: Record<string, string> = { info: '✅', warning: '⚠️', error: '❌', critical: '🚨' };

/** The one-line human text: `❌ [lifeboat] backup_failed app: ...`. */
export function textOf(p: EventPayload): string {
  return `${ICON[p.severity] ?? ''} [lifeboat] ${p.event}${p.target ? ` ${p.target}` : ''}: ${p.message}`.trim();
}
