// The bare-metal drill in a backup's Verification tab: the last drill's verdict and its RTO by
// part, and "Run drill" (followed live) for those who may verify.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes, formatDuration, Time } from '../../components/format.tsx';
import { JobProgress } from '../../components/job.tsx';
import { Badge, Loading } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';

/** The RTO's parts, in the order a restore goes through them. */
const PHASES: [key: string, label: string][] = [
  ['fetch', 'Fetch'], ['unpack', 'Decrypt + unpack'], ['checks', 'Checks'], ['databases', 'Databases'], ['files', 'Files'], ['validation', 'Validation'],
];

export function DrillSection({ backupId }: { backupId: string }) {
  const client = useQueryClient();
  const canRun = useCan('verify');
  const key = ['backups', 'drills', backupId];
  const q = useQuery({ queryKey: key, queryFn: () => unwrap(api.GET('/api/v1/backups/{id}/drills', { params: { path: { id: backupId }, query: { limit: 1 } } })) });
  const start = useMutation({ mutationFn: () => unwrap(api.POST('/api/v1/backups/{id}/drills', { params: { path: { id: backupId } }, body: { jobs: 2 } })) });
  const last = q.data?.items[0];
  const failed = (last?.report.checks ?? []).filter((c) => !c.ok);
  return (
    <section className="drill" aria-label="Bare-metal drill">
      <h3>Bare-metal drill</h3>
      {q.isPending ? (
        <Loading what="the last drill" />
      ) : q.error ? (
        <ProblemMessage error={q.error} />
      ) : !last ? (
        <p className="muted">Never drilled: a drill unpacks the bundle with the system's tools and runs its restore.sh into a throwaway server, timing each part (the RTO).</p>
      ) : (
        <>
          <p>
            <Badge tone={last.ok ? 'ok' : 'bad'}>{last.ok ? 'passed' : 'failed'}</Badge> <Time at={last.finishedAt} />
            {last.rtoMs !== null && <>: RTO <strong>{formatDuration(last.rtoMs)}</strong></>}
            {last.bundleSize !== null && <> for {formatBytes(last.bundleSize)}</>}
            {last.storage && <> from {last.storage}</>}
          </p>
          <table aria-label="RTO by part">
            <thead>
              <tr>{PHASES.map(([k, label]) => <th scope="col" key={k}>{label}</th>)}</tr>
            </thead>
            <tbody>
              <tr>{PHASES.map(([k]) => <td key={k}>{formatDuration((last.phases as Record<string, number | undefined>)[k] ?? null)}</td>)}</tr>
            </tbody>
          </table>
          {failed.length > 0 && (
            <ul className="problem" aria-label="What failed">
              {failed.slice(0, 10).map((c, i) => <li key={i}>{c.name}{c.expected ? `: expected ${c.expected}` : ''}{c.actual ? `, found ${c.actual}` : ''}</li>)}
            </ul>
          )}
          <details>
            <summary>Tools</summary>
            <ul>{Object.entries(last.tools).map(([k, v]) => <li key={k}><code>{k}</code>: {v}</li>)}</ul>
          </details>
        </>
      )}
      {canRun && !start.data && (
        <p>
          <button type="button" onClick={() => start.mutate()} disabled={start.isPending}>Run drill</button>
        </p>
      )}
      <ProblemMessage error={start.error} />
      {start.data && <JobProgress jobId={start.data.jobId} showLog onDone={() => void client.invalidateQueries({ queryKey: key })} />}
    </section>
  );
}
