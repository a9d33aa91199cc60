// The retention settings of a target, as lifeboat.yaml's `retention:` takes them. Editable for
// a target created over the API (PATCH /api/v1/targets/{name}, a merge patch: a cleared field
// is sent as null and removed); shown read-only for one from the file. While the user edits,
// `onDraft` gets the rules as typed, for the preview beside the form.
import { useEffect, useId, useState } from 'react';
import { ProblemMessage } from '../../components/problem.tsx';
import { useSave } from './use-save.ts';
import type { RetentionPolicy } from './types.ts';

type Key = keyof RetentionPolicy;
interface Field {
  key: Key;
  label: string;
  kind: 'int' | 'number' | 'text' | 'choice';
  help: string;
  placeholder?: string;
}

/** Every rule, grouped as the backup plan lists them. */
export const RETENTION_GROUPS: { legend: string; fields: Field[] }[] = [
  {
    legend: 'Keep',
    fields: [
      { key: 'keepLast', label: 'Last', kind: 'int', help: 'the newest N backups' },
      { key: 'keepHourly', label: 'Hourly', kind: 'int', help: 'the newest backup of each of the last N hours' },
      { key: 'keepDaily', label: 'Daily', kind: 'int', help: 'one per day, N days' },
      { key: 'keepWeekly', label: 'Weekly', kind: 'int', help: 'one per week, N weeks' },
      { key: 'keepMonthly', label: 'Monthly', kind: 'int', help: 'one per month, N months' },
      { key: 'keepYearly', label: 'Yearly', kind: 'int', help: 'one per year, N years' },
      { key: 'keepWithin', label: 'Within', kind: 'text', help: 'everything this close to the newest backup', placeholder: '7d' },
      { key: 'minKeep', label: 'At least', kind: 'int', help: 'successful backups that always stay (default 1)' },
    ],
  },
  {
    legend: 'Limits',
    fields: [
      { key: 'maxAgeDays', label: 'Max age (days)', kind: 'int', help: 'older ones go, unless a keep rule or protection holds them' },
      { key: 'maxTotalSize', label: 'Max total size', kind: 'text', help: 'the oldest go until the rest fit', placeholder: '100GB' },
      { key: 'minFreeSpacePercent', label: 'Min free space (%)', kind: 'number', help: 'on the primary storage; the oldest go until it is free' },
    ],
  },
  {
    legend: 'Deletion and emergencies',
    fields: [
      { key: 'notifyBeforeDeleteHours', label: 'Pre-deletion notice (hours)', kind: 'number', help: 'announce an automatic deletion this long before' },
      { key: 'criticalFreeSpacePercent', label: 'Critical space threshold (%)', kind: 'number', help: 'a backup leaving less free is an emergency (default 5)' },
      { key: 'onCriticalSpace', label: 'Then', kind: 'choice', help: 'refuse and alert (default), or delete the oldest the floors allow' },
      { key: 'timezone', label: 'Time zone of days and weeks', kind: 'text', help: 'default: the schedule\'s, else the system\'s', placeholder: 'Europe/Amsterdam' },
    ],
  },
];

const FIELDS = RETENTION_GROUPS.flatMap((g) => g.fields);

type Draft = Partial<Record<Key, string>>;

function toDraft(p: RetentionPolicy | null | undefined): Draft {
  return Object.fromEntries(FIELDS.map((f) => [f.key, p?.[f.key] === undefined ? '' : String(p[f.key])]));
}

/** The merge patch of `retention:`: every field, a cleared one as null. */
export function toPatch(d: Draft): Record<string, string | number | null> {
  return Object.fromEntries(
    FIELDS.map((f) => {
      const v = (d[f.key] ?? '').trim();
      if (v === '') return [f.key, null];
      return [f.key, f.kind === 'int' || f.kind === 'number' ? Number(v) : v];
    }),
  );
}

/**
 * The rules as typed, as `retention:` takes them (fields left empty are left out; null when all
 * are). A number that does not parse is sent as typed, so the server's message names it.
 */
export function toPolicy(d: Draft): Record<string, string | number> | null {
  const entries = FIELDS.flatMap((f) => {
    const v = (d[f.key] ?? '').trim();
    if (v === '') return [];
    const n = Number(v);
    return [[f.key, (f.kind === 'int' || f.kind === 'number') && Number.isFinite(n) ? n : v] as const];
  });
  return entries.length ? Object.fromEntries(entries) : null;
}

export function RetentionForm({ policy, readOnly, onSave, onDraft }: {
  policy: RetentionPolicy | null;
  readOnly: boolean;
  onSave: (patch: Record<string, string | number | null>) => Promise<unknown>;
  /** The unsaved rules as typed (null: no rules), or undefined when the form matches what is saved. */
  onDraft?: (draft: Record<string, string | number> | null | undefined) => void;
}) {
  const id = useId();
  const [draft, setDraft] = useState<Draft>(() => toDraft(policy));
  const { error, busy, saved, save } = useSave();
  useEffect(() => setDraft(toDraft(policy)), [policy]);
  useEffect(() => {
    const typed = toPolicy(draft);
    onDraft?.(JSON.stringify(typed) === JSON.stringify(toPolicy(toDraft(policy))) ? undefined : typed);
  }, [draft, policy, onDraft]);
  return (
    <form
      className="settings"
      aria-label="Retention settings"
      onSubmit={(e) => {
        e.preventDefault();
        save(() => onSave(toPatch(draft)));
      }}
    >
      <fieldset disabled={readOnly} className="plain">
        {RETENTION_GROUPS.map((g) => (
          <fieldset key={g.legend}>
            <legend>{g.legend}</legend>
            <div className="field-grid">
              {g.fields.map((f) => (
                <div key={f.key} className="field">
                  <label htmlFor={`${id}-${f.key}`}>{f.label}</label>
                  {f.kind === 'choice' ? (
                    <select id={`${id}-${f.key}`} value={draft[f.key] ?? ''} onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })} aria-describedby={`${id}-${f.key}-help`}>
                      <option value="">default (stop and alert)</option>
                      <option value="stop-and-alert">stop and alert</option>
                      <option value="delete-oldest">delete the oldest</option>
                    </select>
                  ) : (
                    <input
                      id={`${id}-${f.key}`}
                      inputMode={f.kind === 'text' ? undefined : 'decimal'}
                      value={draft[f.key] ?? ''}
                      placeholder={readOnly ? '' : (f.placeholder ?? 'not set')}
                      onChange={(e) => setDraft({ ...draft, [f.key]: e.target.value })}
                      aria-describedby={`${id}-${f.key}-help`}
                    />
                  )}
                  <span id={`${id}-${f.key}-help`} className="muted small">
                    <code>{f.key}</code>: {f.help}
                  </span>
                </div>
              ))}
            </div>
          </fieldset>
        ))}
      </fieldset>
      <ProblemMessage error={error} title="Not saved" />
      {!readOnly && (
        <div className="dialog-actions">
          {saved && (
            <span className="muted" role="status">
              Saved.
            </span>
          )}
          <button type="button" onClick={() => setDraft(toDraft(policy))} disabled={busy}>
            Undo changes
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save retention'}
          </button>
        </div>
      )}
    </form>
  );
}
