// A job as it runs: its progress and log lines over server-sent events (GET /api/v1/jobs/{id}/events),
// which replays what happened before the page connected and ends with `done`.
import { useEffect, useState } from 'react';
import { formatBytes } from './format.tsx';
import { ProblemMessage } from './problem.tsx';
import { ApiError, type Problem } from '../api/client.ts';

export interface JobProgressData {
  phase: string;
  current?: string;
  done: number;
  total?: number;
  unit: 'bytes' | 'items';
}
export interface JobLogLine {
  level: string;
  message: string;
  at: string;
}
export interface JobOutcome {
  state: 'succeeded' | 'failed' | 'cancelled' | string;
  result?: unknown;
  error?: Problem;
}
export interface JobStream {
  progress: JobProgressData | undefined;
  log: JobLogLine[];
  outcome: JobOutcome | undefined;
  /** The stream itself failed (not the job). */
  lost: boolean;
}

export function useJobEvents(jobId: string | undefined): JobStream {
  const [state, setState] = useState<JobStream>({ progress: undefined, log: [], outcome: undefined, lost: false });
  useEffect(() => {
    setState({ progress: undefined, log: [], outcome: undefined, lost: false });
    if (!jobId) return;
    const source = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/events`);
    const parse = (e: Event) => JSON.parse((e as MessageEvent<string>).data) as unknown;
    source.addEventListener('progress', (e) => setState((s) => ({ ...s, progress: parse(e) as JobProgressData })));
    source.addEventListener('log', (e) => setState((s) => ({ ...s, log: [...s.log, parse(e) as JobLogLine] })));
    source.addEventListener('done', (e) => {
      source.close();
      setState((s) => ({ ...s, outcome: parse(e) as JobOutcome }));
    });
    source.onerror = () => {
      // EventSource reconnects by itself (with Last-Event-ID); a closed source means it gave up.
      if (source.readyState === EventSource.CLOSED) setState((s) => (s.outcome ? s : { ...s, lost: true }));
    };
    return () => source.close();
  }, [jobId]);
  return state;
}

/** A progress bar with what the job is doing; the outcome when it ends; the log below, when asked. */
export function JobProgress({ jobId, showLog }: { jobId: string; showLog?: boolean }) {
  const { progress, log, outcome, lost } = useJobEvents(jobId);
  const fraction = outcome?.state === 'succeeded' ? 1 : progress?.total ? Math.min(1, progress.done / progress.total) : undefined;
  const amount = progress && (progress.unit === 'bytes' ? formatBytes(progress.done) + (progress.total ? ` of ${formatBytes(progress.total)}` : '') : `${progress.done}${progress.total ? ` of ${progress.total}` : ''}`);
  return (
    <div className="job-progress" data-job={jobId} data-state={outcome?.state ?? 'running'}>
      <div className="progress-line">
        <progress max={1} value={fraction} aria-label={`job ${jobId} progress`} />
        <span className="muted">
          {outcome ? outcomeLabel(outcome.state) : progress ? `${progress.phase}${progress.current ? `: ${progress.current}` : ''} · ${amount}` : 'starting…'}
        </span>
      </div>
      {outcome?.error && <ProblemMessage error={new ApiError(outcome.error)} />}
      {lost && <p className="problem">The connection to the job's events was lost; the job itself goes on. Reload to see where it is.</p>}
      {showLog && <JobLog lines={log} />}
    </div>
  );
}

export function outcomeLabel(state: string): string {
  return state === 'succeeded' ? 'Finished' : state === 'failed' ? 'Failed' : state === 'cancelled' ? 'Cancelled' : state;
}

export function JobLog({ lines }: { lines: JobLogLine[] }) {
  if (lines.length === 0) return null;
  return (
    <ol className="job-log" aria-label="job log" tabIndex={0}>
      {lines.map((l, i) => (
        <li key={i} className={`log-${l.level}`}>
          <time dateTime={l.at}>{new Date(l.at).toLocaleTimeString()}</time> {l.message}
        </li>
      ))}
    </ol>
  );
}
