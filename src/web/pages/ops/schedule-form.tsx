// Create or edit a schedule: a preset or a cron expression and a time zone, with the next five
// fire times previewed as you type (GET /api/v1/schedules/preview, debounced), in that zone.
import { useQuery } from '@tanstack/react-query';
import { useEffect, useId, useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { Dialog } from '../../components/dialog.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import type { Schedule } from './types.ts';

export const PRESETS = ['hourly', 'daily at 02:00', 'weekly on sunday at 03:00', 'monthly on day 1 at 04:00'];

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

export interface ScheduleDraft {
  target: string;
  spec: string;
  timezone: string;
}

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** A time as the schedule's zone reads it, with UTC on hover. */
function ZonedTime({ at, zone }: { at: string; zone: string }) {
  const d = new Date(at);
  let text: string;
  try {
    text = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short', timeZone: zone }).format(d);
  } catch {
    text = d.toISOString();
  }
  return (
    <time dateTime={d.toISOString()} title={`${d.toISOString().replace('T', ' ').slice(0, 16)} UTC`}>
      {text}
    </time>
  );
}

export function SchedulePreview({ spec, timezone }: { spec: string; timezone: string }) {
  const q = useDebounced({ spec: spec.trim(), timezone: timezone.trim() }, 300);
  const preview = useQuery({
    queryKey: ['schedules', 'preview', q],
    queryFn: () => unwrap(api.GET('/api/v1/schedules/preview', { params: { query: { spec: q.spec, timezone: q.timezone || undefined, count: 5 } } })),
    enabled: q.spec.length > 0,
    staleTime: 60_000,
    retry: false,
  });
  if (!q.spec) return <p className="muted">Type a preset or a cron expression to see when it runs.</p>;
  if (preview.error) return <ProblemMessage error={preview.error} />;
  if (!preview.data) return <p className="muted" role="status">Working out the next runs…</p>;
  return (
    <div className="preview" aria-live="polite">
      <p>
        Runs as <code>{preview.data.cron}</code> in {preview.data.timezone}. Next five:
      </p>
      <ol aria-label="next fire times">
        {preview.data.next.map((t) => (
          <li key={t}>
            <ZonedTime at={t} zone={preview.data.timezone} />
          </li>
        ))}
      </ol>
    </div>
  );
}

export function ScheduleForm({ open, schedule, targets, onClose, onSave }: { open: boolean; schedule?: Schedule; targets: string[]; onClose: () => void; onSave: (d: ScheduleDraft) => Promise<unknown> }) {
  const id = useId();
  const [draft, setDraft] = useState<ScheduleDraft>({ target: '', spec: '', timezone: '' });
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!open) return;
    setError(undefined);
    setDraft(schedule ? { target: schedule.target, spec: schedule.spec, timezone: schedule.timezone } : { target: targets[0] ?? '', spec: 'daily at 02:00', timezone: browserZone });
  }, [open, schedule, targets]);
  const set = (k: keyof ScheduleDraft, v: string) => setDraft((d) => ({ ...d, [k]: v }));
  return (
    <Dialog open={open} title={schedule ? `Edit schedule ${schedule.id} of ${schedule.target}` : 'New schedule'} onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          onSave(draft)
            .then(onClose)
            .catch(setError)
            .finally(() => setBusy(false));
        }}
      >
        {!schedule && (
          <>
            <label htmlFor={`${id}-target`}>Target</label>
            <select id={`${id}-target`} value={draft.target} onChange={(e) => set('target', e.target.value)} required>
              {targets.map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </>
        )}
        <fieldset>
          <legend>Presets</legend>
          {PRESETS.map((p) => (
            <button key={p} type="button" className="preset" aria-pressed={draft.spec === p} onClick={() => set('spec', p)}>
              {p}
            </button>
          ))}
        </fieldset>
        <label htmlFor={`${id}-spec`}>When (a preset or a cron expression)</label>
        <input id={`${id}-spec`} value={draft.spec} onChange={(e) => set('spec', e.target.value)} required autoComplete="off" placeholder="0 2 * * *" aria-describedby={`${id}-spec-help`} />
        <p id={`${id}-spec-help`} className="muted small">
          Cron: minute hour day-of-month month day-of-week, e.g. <code>30 1 * * 1-5</code> (01:30 on weekdays).
        </p>
        <label htmlFor={`${id}-zone`}>Time zone</label>
        <input id={`${id}-zone`} value={draft.timezone} onChange={(e) => set('timezone', e.target.value)} autoComplete="off" placeholder="Europe/Amsterdam" />
        <SchedulePreview spec={draft.spec} timezone={draft.timezone} />
        <ProblemMessage error={error} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy || !draft.spec.trim() || !draft.target}>
            {busy ? 'Saving…' : schedule ? 'Save schedule' : 'Add schedule'}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
