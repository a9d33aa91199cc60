// A restore's plan as the API answers it (the same object as `lifeboat restore --dry-run --json`):
// what it writes, and every check, green or red.
import type { Schema } from '../../api/client.ts';
import { formatBytes } from '../../components/format.tsx';

export type Plan = Schema<'RestorePlan'>;

export function PlanView({ plan }: { plan: Plan }) {
  return (
    <div className="plan">
      <p>
        From backup <code>{plan.backupId}</code> (target {plan.target}, read from storage {plan.storage}):
      </p>
      <ul>
        {plan.databases.map((d) => (
          <li key={d.database}>
            <strong>{d.action === 'replace' ? 'Replace' : 'Create'}</strong> database <code>{d.database}</code> on {d.server}
            {d.source !== d.database && <> (from {d.source})</>}: {d.tables} tables, {d.rows.toLocaleString()} rows, {formatBytes(d.dumpSize)} dump
          </li>
        ))}
        {plan.tables.map((t) => (
          <li key={t.table}>
            <strong>{t.action === 'replace' ? 'Replace the rows of' : t.action === 'beside' ? 'Restore beside the live table' : 'Create'}</strong> <code>{t.table}</code>
            {t.as !== t.table && (
              <>
                {' '}
                as <code>{t.as}</code>
              </>
            )}{' '}
            in {t.database}: {t.rows.toLocaleString()} rows{t.closure?.with.length ? `, with ${t.closure.with.join(', ')}` : ''}
          </li>
        ))}
        {plan.files.length > 0 && (
          <li>
            <strong>{plan.files.length} file(s)</strong>: {plan.files.filter((f) => f.action === 'overwrite').length} overwrite what is there, {plan.files.filter((f) => f.action === 'create').length} new
            <details>
              <summary>Which</summary>
              <ul className="small">
                {plan.files.slice(0, 300).map((f) => (
                  <li key={`${f.set}:${f.path}`}>
                    {f.action === 'overwrite' ? 'overwrite' : 'create'} <code>{f.destination}</code>
                  </li>
                ))}
              </ul>
            </details>
          </li>
        )}
      </ul>
      {plan.replacesData && <p className="banner">This replaces existing data.{plan.safetyBackup ? ' A safety backup of what is replaced is taken first.' : ''}</p>}
      <h3>Checks</h3>
      <ul className="checks" aria-label="Checks">
        {plan.checks.map((c, i) => (
          <li key={i} className={c.ok ? 'check-ok' : c.overridable ? 'check-warn' : 'check-bad'}>
            <strong>{c.name}</strong>
            <span className="sr-only">{c.ok ? ' passed' : ' failed'}</span>: {c.detail}
            {!c.ok && c.overridable && <span className="muted"> (can be forced)</span>}
          </li>
        ))}
      </ul>
    </div>
  );
}
