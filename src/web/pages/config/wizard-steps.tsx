// The wizard's schedule-and-retention step and its first-backup step, and what the database
// step's test found (the app and its databases, before any backup).
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes, Time } from '../../components/format.tsx';
import { JobProgress, useJobEvents } from '../../components/job.tsx';
import { Badge } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { Field, Select } from './fields.tsx';
import type { TestReport } from './objects.ts';
import { RETENTION_PRESETS, retentionBody, SCHEDULE_PRESETS } from './presets.ts';

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Adds the schedule (POST /schedules) and sets the target's retention (PATCH the target). */
export function ScheduleStep({ target, onDone }: { target: string; onDone: (summary: string) => void }) {
  const [preset, setPreset] = useState<string>(SCHEDULE_PRESETS[0][0]);
  const [cron, setCron] = useState('');
  const [retention, setRetention] = useState('standard');
  const spec = preset === 'custom' ? cron.trim() : preset;
  const preview = useQuery({
    queryKey: ['schedule-preview', spec, ZONE],
    queryFn: () => unwrap(api.GET('/api/v1/schedules/preview', { params: { query: { spec, timezone: ZONE, count: 5 } } })),
    enabled: spec !== '',
    retry: false,
  });
  const save = useMutation({
    mutationFn: async () => {
      const r = retentionBody(retention, true);
      await unwrap(api.PATCH('/api/v1/targets/{name}', { params: { path: { name: target } }, body: { retention: r ?? null } }));
      if (spec) await unwrap(api.POST('/api/v1/schedules', { body: { target, spec, timezone: ZONE } }));
    },
    onSuccess: () => onDone(`${spec ? `backs up ${SCHEDULE_PRESETS.find((p) => p[0] === spec)?.[1].toLowerCase() ?? spec}` : 'no schedule'}; ${RETENTION_PRESETS.find((p) => p.id === retention)?.label}`),
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); save.mutate(); }}>
      <Select label="When to back up" value={preset} onChange={setPreset} options={[...SCHEDULE_PRESETS, ['custom', 'A cron expression…']]} help={`in your browser's time zone, ${ZONE}`} />
      {preset === 'custom' && <Field label="Cron expression" value={cron} onChange={setCron} placeholder="30 3 * * 1-5" required />}
      {spec && (
        <div className="small" aria-live="polite">
          {preview.error ? <ProblemMessage error={preview.error} /> : preview.data && (
            <>Next runs: {preview.data.next.map((t, i) => <span key={t}>{i > 0 && ', '}<Time at={t} /></span>)}</>
          )}
        </div>
      )}
      <Select label="How long to keep backups" value={retention} onChange={setRetention} options={RETENTION_PRESETS.map((p) => [p.id, p.label] as const)} help="backups are deleted only after a notice; protected ones never" />
      <ProblemMessage error={save.error} />
      <div className="dialog-actions">
        <button type="submit" className="primary" disabled={save.isPending || (preset === 'custom' && !cron.trim())}>{save.isPending ? 'Saving…' : 'Save schedule and retention'}</button>
      </div>
    </form>
  );
}

interface ManifestLike { app?: { profile?: string }; profile?: string; postgres?: { databases?: { name: string; tables?: unknown[] }[] } }

/** Starts the first backup, follows it live, then shows what it found (profile, databases). */
export function FirstBackupStep({ target }: { target: string }) {
  const start = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/targets/{name}/backups', { params: { path: { name: target } } })) });
  const jobId = start.data?.jobId;
  // The job's end, from its event stream (JobProgress below follows the same stream for the bar).
  const { outcome } = useJobEvents(jobId);
  const result = outcome?.result as { backupId?: string } | undefined;
  const backupId = outcome?.state === 'succeeded' ? (result?.backupId ?? null) : null;
  const backup = useQuery({
    queryKey: ['backups', backupId],
    queryFn: () => unwrap(api.GET('/api/v1/backups/{id}', { params: { path: { id: backupId! } } })),
    enabled: !!backupId,
  });
  const manifest = backup.data?.manifest as ManifestLike | undefined;
  return (
    <div>
      {!jobId && (
        <button type="button" className="primary" onClick={() => start.mutate()} disabled={start.isPending}>
          {start.isPending ? 'Starting…' : `Back up ${target} now`}
        </button>
      )}
      <ProblemMessage error={start.error} />
      {jobId && <JobProgress jobId={jobId} showLog />}
      <ProblemMessage error={backup.error} />
      {backup.data && (
        <div role="status" aria-label="first backup">
          <p>
            <Badge tone="ok">Backup {backup.data.backup.id} is done</Badge>
          </p>
          <dl className="kv">
            <dt>Detected profile</dt><dd>{manifest?.app?.profile ?? manifest?.profile ?? 'generic'}</dd>
            <dt>Databases found</dt>
            <dd>{manifest?.postgres?.databases?.map((d) => `${d.name} (${d.tables?.length ?? 0} tables)`).join(', ') || 'none'}</dd>
          </dl>
          <p>
            <a className="button primary" href="/">Go to the dashboard</a> <a className="button" href={`/backups/${encodeURIComponent(backup.data.backup.id)}`}>Open the backup</a>
          </p>
        </div>
      )}
    </div>
  );
}

const APP_NAMES = { n8n: 'n8n', django: 'Django', prisma: 'Prisma', generic: 'generic' } as const;

/** What a target's test found: the app profile and the databases a backup would take now. */
export function DetectedApp({ detected }: { detected: NonNullable<TestReport['detected']> }) {
  const apps = [...new Set(detected.databases.filter((d) => d.profile !== 'generic').map((d) => d.profile))];
  return (
    <section aria-label="what Lifeboat found" className="notice">
      <dl className="kv">
        <dt>Detected app</dt>
        <dd data-field="profile">
          {apps.length ? apps.map((a) => APP_NAMES[a]).join(', ') : 'generic (no n8n, Django or Prisma tables found)'}
          {detected.configured !== 'auto' && apps.some((a) => a !== detected.configured) && (
            <div className="muted small">The target&apos;s profile is {detected.configured}: choose {apps.join(' or ')} (or auto) to also keep its app items.</div>
          )}
        </dd>
        <dt>Databases found</dt>
        <dd>
          <ul className="plain-list" aria-label="databases found">
            {detected.databases.map((d) => (
              <li key={d.name}>
                <strong>{d.name}</strong>: {d.error ?? `${d.tables} ${d.tables === 1 ? 'table' : 'tables'}, ${formatBytes(d.sizeBytes)}${d.profile === 'generic' ? '' : `, ${APP_NAMES[d.profile]}`}`}
              </li>
            ))}
            {detected.databases.length === 0 && <li>none: this server has no database a backup would take</li>}
            {detected.more > 0 && <li className="muted">and {detected.more} more</li>}
          </ul>
        </dd>
      </dl>
    </section>
  );
}
