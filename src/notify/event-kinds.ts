// The names of Lifeboat's events and their groups: plain data, so the config schema can validate
// a channel's `on:` without loading the event log.

/** Every event Lifeboat raises; the payload's `event` field is one of these. */
export const EVENT_KINDS = [
  'backup_succeeded', 'backup_failed', 'backup_degraded', 'backup_missing',
  'verification_passed', 'verification_failed',
  'drill_passed', 'drill_failed', 'drill_overdue',
  'pending_deletion', 'deleted',
  'low_space', 'critical_space',
  'restore_started', 'restore_finished', 'restore_failed',
  'resources_reaped',
  'test',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** What a channel gets when it lists no `on:`: failures and emergencies. */
export const DEFAULT_EVENTS: readonly EventKind[] = [
  'backup_failed', 'backup_degraded', 'backup_missing', 'verification_failed', 'drill_failed', 'drill_overdue', 'low_space', 'critical_space', 'restore_failed',
];

/** Names a channel's `on:` may use for several events: `failure` (as in DESIGN.md's example). */
export const EVENT_GROUPS: Record<string, readonly EventKind[]> = {
  failure: ['backup_failed', 'backup_degraded', 'verification_failed', 'drill_failed', 'restore_failed'],
};

/** Events that always reach channels marked `emergency: true`, whatever their `on:` says. */
export const EMERGENCY_EVENTS: readonly EventKind[] = ['critical_space', 'backup_missing'];
