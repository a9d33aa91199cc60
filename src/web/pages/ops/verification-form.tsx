// A target's verification policy, as lifeboat.yaml's `verification:` takes it: manual, or every
// N backups, a percentage of them, on a cron; a quick check after each backup; the user's SQL
// checks, run against each restored copy.
import { useEffect, useId, useState } from 'react';
import { ProblemMessage } from '../../components/problem.tsx';
import { useSave } from './use-save.ts';
import type { UserCheck, VerificationPolicy } from './types.ts';

interface Draft {
  manual: boolean;
  every: string;
  percentage: string;
  cron: string;
  quick: boolean;
  checks: { name: string; sql: string; expect: string; database: string }[];
}

function toDraft(p: VerificationPolicy | undefined): Draft {
  const o = p === 'manual' || p === undefined ? {} : p;
  return {
    manual: p === 'manual',
    every: o.every === undefined ? '' : String(o.every),
    percentage: o.percentage === undefined ? '' : String(o.percentage),
    cron: o.cron ?? '',
    quick: o.quickAfterEachBackup ?? false,
    checks: (o.checks ?? []).map((c) => ({ name: c.name, sql: c.sql, expect: c.expect === null ? 'null' : String(c.expect), database: c.database ?? '' })),
  };
}

/** `expect` as the user meant it: a number, true/false, null, else the text. */
function expectValue(s: string): UserCheck['expect'] {
  const t = s.trim();
  if (t === 'null') return null;
  if (t === 'true' || t === 'false') return t === 'true';
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  return s;
}

/** The value of `verification:` to store: `manual`, or a merge patch clearing what is empty. */
export function toPolicy(d: Draft): unknown {
  if (d.manual) return 'manual';
  return {
    every: d.every.trim() ? Number(d.every) : null,
    percentage: d.percentage.trim() ? Number(d.percentage) : null,
    cron: d.cron.trim() || null,
    quickAfterEachBackup: d.quick || null,
    checks: d.checks.length ? d.checks.map((c) => ({ name: c.name, sql: c.sql, expect: expectValue(c.expect), ...(c.database.trim() ? { database: c.database.trim() } : {}) })) : null,
  };
}

export function VerificationForm({ policy, readOnly, onSave }: { policy: VerificationPolicy | undefined; readOnly: boolean; onSave: (value: unknown) => Promise<unknown> }) {
  const id = useId();
  const [d, setD] = useState<Draft>(() => toDraft(policy));
  const { error, busy, saved, save } = useSave();
  useEffect(() => setD(toDraft(policy)), [policy]);
  const setCheck = (i: number, k: keyof Draft['checks'][number], v: string) => setD({ ...d, checks: d.checks.map((c, j) => (j === i ? { ...c, [k]: v } : c)) });
  return (
    <form
      className="settings"
      aria-label="Verification policy"
      onSubmit={(e) => {
        e.preventDefault();
        save(() => onSave(toPolicy(d)));
      }}
    >
      <fieldset disabled={readOnly} className="plain">
        <fieldset>
          <legend>When</legend>
          <label className="inline">
            <input type="checkbox" checked={d.manual} onChange={(e) => setD({ ...d, manual: e.target.checked })} /> Only by hand (<code>manual</code>)
          </label>
          <div className="field-grid">
            <div className="field">
              <label htmlFor={`${id}-every`}>Every N backups</label>
              <input id={`${id}-every`} inputMode="numeric" value={d.every} disabled={d.manual} onChange={(e) => setD({ ...d, every: e.target.value })} aria-describedby={`${id}-every-h`} />
              <span id={`${id}-every-h`} className="muted small">
                <code>every</code>: a test restore of every Nth backup
              </span>
            </div>
            <div className="field">
              <label htmlFor={`${id}-pct`}>Percentage</label>
              <input id={`${id}-pct`} inputMode="decimal" value={d.percentage} disabled={d.manual} onChange={(e) => setD({ ...d, percentage: e.target.value })} aria-describedby={`${id}-pct-h`} />
              <span id={`${id}-pct-h`} className="muted small">
                <code>percentage</code>: this share of backups, chosen at random
              </span>
            </div>
            <div className="field">
              <label htmlFor={`${id}-cron`}>On a schedule</label>
              <input id={`${id}-cron`} value={d.cron} disabled={d.manual} placeholder="0 4 * * 0" onChange={(e) => setD({ ...d, cron: e.target.value })} aria-describedby={`${id}-cron-h`} />
              <span id={`${id}-cron-h`} className="muted small">
                <code>cron</code>: verify the newest backup at these times
              </span>
            </div>
          </div>
          <label className="inline">
            <input type="checkbox" checked={d.quick} disabled={d.manual} onChange={(e) => setD({ ...d, quick: e.target.checked })} /> A quick check (checksums, no restore) after each backup (
            <code>quickAfterEachBackup</code>)
          </label>
        </fieldset>
        <fieldset>
          <legend>Your SQL checks</legend>
          <p className="muted small">
            Run against each restored copy: the first column of the first row must equal the expected value (<code>checks</code>).
          </p>
          {d.checks.length === 0 && <p className="muted">No check of your own: the row counts and checksums of the manifest are always compared.</p>}
          {d.checks.map((c, i) => (
            <div key={i} className="user-check">
              <div className="field-grid">
                <div className="field">
                  <label htmlFor={`${id}-c${i}-name`}>Name</label>
                  <input id={`${id}-c${i}-name`} value={c.name} required onChange={(e) => setCheck(i, 'name', e.target.value)} />
                </div>
                <div className="field">
                  <label htmlFor={`${id}-c${i}-expect`}>Expected</label>
                  <input id={`${id}-c${i}-expect`} value={c.expect} onChange={(e) => setCheck(i, 'expect', e.target.value)} />
                </div>
                <div className="field">
                  <label htmlFor={`${id}-c${i}-db`}>Database</label>
                  <input id={`${id}-c${i}-db`} value={c.database} placeholder="the first" onChange={(e) => setCheck(i, 'database', e.target.value)} />
                </div>
              </div>
              <label htmlFor={`${id}-c${i}-sql`}>SQL</label>
              <textarea id={`${id}-c${i}-sql`} rows={2} value={c.sql} required onChange={(e) => setCheck(i, 'sql', e.target.value)} />
              {!readOnly && (
                <button type="button" onClick={() => setD({ ...d, checks: d.checks.filter((_, j) => j !== i) })}>
                  Remove check “{c.name || i + 1}”
                </button>
              )}
            </div>
          ))}
          {!readOnly && (
            <button type="button" onClick={() => setD({ ...d, checks: [...d.checks, { name: '', sql: '', expect: '', database: '' }] })}>
              Add a check
            </button>
          )}
        </fieldset>
      </fieldset>
      <ProblemMessage error={error} title="Not saved" />
      {!readOnly && (
        <div className="dialog-actions">
          {saved && (
            <span className="muted" role="status">
              Saved.
            </span>
          )}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Saving…' : 'Save verification policy'}
          </button>
        </div>
      )}
    </form>
  );
}
