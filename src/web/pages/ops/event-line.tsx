// One event as the dashboard and the events page show it: severity, what happened, when, and
// links to the backup and the job it concerns.
import { Link } from 'wouter';
import { Badge, type Tone } from '../../components/page.tsx';
import { Time } from '../../components/format.tsx';
import type { EventRecord } from './types.ts';

export const SEVERITY_TONE: Record<EventRecord['severity'], Tone> = { info: 'info', warning: 'warn', error: 'bad', critical: 'bad' };

export function EventSeverity({ event }: { event: EventRecord }) {
  return <Badge tone={SEVERITY_TONE[event.severity]}>{event.severity}</Badge>;
}

/** Where to look at what the event concerns. */
export function EventLinks({ event }: { event: EventRecord }) {
  return (
    <span className="event-links">
      {event.backupId && (
        <Link href={`/backups/${encodeURIComponent(event.backupId)}`} aria-label={`backup ${event.backupId}`}>
          {event.backupId}
        </Link>
      )}
      {event.jobId && (
        <Link href={`/jobs/${event.jobId}`} aria-label={`job of event ${event.id}`}>
          job
        </Link>
      )}
    </span>
  );
}

/** A short line for the dashboard. */
export function EventLine({ event }: { event: EventRecord }) {
  return (
    <li className="event-line">
      <EventSeverity event={event} /> <span>{event.message}</span>{' '}
      <span className="muted small">
        <Time at={event.at} relative />
      </span>{' '}
      <EventLinks event={event} />
    </li>
  );
}
