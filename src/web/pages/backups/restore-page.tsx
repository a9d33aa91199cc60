// The restore wizard: scope and destination, then the plan the server made (a dry run binding a
// planToken), then exactly that plan runs, followed live to its result and safety backup.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState } from 'react';
import { Link, useParams } from 'wouter';
import { api, ApiError, unwrap, type Schema } from '../../api/client.ts';
import { JobProgress, type JobOutcome } from '../../components/job.tsx';
import { EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { useBackup } from './detail-page.tsx';
import type { Manifest } from './manifest.ts';
import { PlanView } from './restore-plan-view.tsx';
import { incomplete, initialChoice, ScopeForm, toRequest, type ScopeChoice } from './restore-scope.tsx';

type PlanAnswer = Schema<'RestorePlanAnswer'>;

export function RestorePage() {
  const { id } = useParams<{ id: string }>();
  const canRestore = useCan('restore');
  const q = useBackup(id);
  if (!canRestore)
    return (
      <Page title="Restore">
        <EmptyState title="Your role may not restore.">Ask an operator or an admin.</EmptyState>
      </Page>
    );
  if (q.isPending) return <Loading what="the backup" />;
  if (q.error) return <ProblemMessage error={q.error} />;
  const m = q.data.manifest ?? undefined;
  if (!m) return <ProblemMessage error={new Error(`backup ${q.data.backup.id} is ${q.data.backup.status}: it holds nothing to restore`)} />;
  return (
    <Page title={`Restore from ${q.data.backup.id}`}>
      <p>
        <Link href={`/backups/${encodeURIComponent(q.data.backup.id)}`}>← Backup {q.data.backup.id}</Link>
      </p>
      <Wizard backupId={q.data.backup.id} manifest={m} />
    </Page>
  );
}

function Wizard({ backupId, manifest }: { backupId: string; manifest: Manifest }) {
  const client = useQueryClient();
  const confirmId = useId();
  const [choice, setChoice] = useState<ScopeChoice>(() => initialChoice(manifest));
  const [force, setForce] = useState(false);
  const [typed, setTyped] = useState('');
  const [outcome, setOutcome] = useState<JobOutcome>();
  const plan = useMutation({
    mutationFn: (withForce: boolean) => unwrap(api.POST('/api/v1/restores', { body: { ...toRequest(backupId, choice, withForce), dryRun: true } })) as Promise<PlanAnswer>,
  });
  const run = useMutation({
    mutationFn: (a: PlanAnswer) =>
      unwrap(api.POST('/api/v1/restores', { body: { ...toRequest(backupId, choice, force), planToken: a.planToken!, ...(a.plan.replacesData ? { confirm: 'RESTORE' as const } : {}) } })) as Promise<{ jobId: string }>,
  });
  const answer = plan.data;
  const changed = run.error instanceof ApiError && run.error.status === 409;
  const blocking = answer?.plan.checks.filter((c) => !c.ok && !c.overridable) ?? [];
  const forcible = answer?.plan.checks.filter((c) => !c.ok && c.overridable) ?? [];
  const edit = (c: ScopeChoice) => {
    setChoice(c);
    plan.reset();
    run.reset();
    setForce(false);
    setTyped('');
  };
  const why = incomplete(choice);
  const ready = answer?.planToken && (!answer.plan.replacesData || typed === 'RESTORE');

  if (run.data) {
    const result = outcome?.result as { safetyBackupId?: string | null; restored?: string[]; tables?: unknown[]; files?: number } | undefined;
    // The job compares the plan it would run with the one read: a new table on the target since
    // ends it as a 409 before it writes anything. The user reads the plan as it is now.
    const stale = outcome?.error?.status === 409;
    return (
      <section aria-label="Restore running">
        <h2>{outcome ? (outcome.state === 'succeeded' ? 'Restored' : stale ? 'The plan changed: nothing was restored' : 'The restore did not finish') : 'Restoring…'}</h2>
        {stale && (
          <p>
            The target is not as it was when the plan was read, so the job stopped before writing anything. Read the plan as it is now.{' '}
            <button
              type="button"
              className="primary"
              onClick={() => {
                setOutcome(undefined);
                run.reset();
                setTyped('');
                plan.mutate(force);
              }}
            >
              Plan again
            </button>
          </p>
        )}
        <JobProgress
          jobId={run.data.jobId}
          showLog
          onDone={(o) => {
            setOutcome(o);
            void client.invalidateQueries({ queryKey: ['backups'] });
            void client.invalidateQueries({ queryKey: ['restores'] });
          }}
        />
        {outcome?.state === 'succeeded' && (
          <div className="card">
            <p>
              {answer?.plan.tables.length
                ? answer.plan.tables.map((t) => `${t.table} → ${t.as}`).join(', ')
                : result?.restored?.length
                  ? `Databases: ${result.restored.join(', ')}`
                  : null}
              {result?.files ? ` ${result.files} file(s) written.` : ''}
            </p>
            {result?.safetyBackupId ? (
              <p>
                What was replaced is in the safety backup{' '}
                <Link href={`/backups/${encodeURIComponent(result.safetyBackupId)}`}>
                  <code>{result.safetyBackupId}</code>
                </Link>{' '}
                (protected): restore it to undo.
              </p>
            ) : (
              <p className="muted">Nothing was replaced, so no safety backup was needed.</p>
            )}
          </div>
        )}
        <p>
          <Link href="/restores">Restore history</Link>
        </p>
      </section>
    );
  }

  return (
    <form
      className="wizard"
      onSubmit={(e) => {
        e.preventDefault();
        if (answer && ready) run.mutate(answer);
        else if (!why) plan.mutate(force);
      }}
    >
      <section aria-labelledby={`${confirmId}-1`}>
        <h2 id={`${confirmId}-1`}>1. What and where</h2>
        <ScopeForm manifest={manifest} choice={choice} set={edit} />
        {why && <p className="muted">To make a plan, {why}.</p>}
        {!answer && (
          <button type="submit" className="primary" disabled={!!why || plan.isPending}>
            {plan.isPending ? 'Planning (reading the backup)…' : 'Make the plan'}
          </button>
        )}
        <ProblemMessage error={plan.error} title="No plan" />
      </section>
      {answer && (
        <section aria-labelledby={`${confirmId}-2`}>
          <h2 id={`${confirmId}-2`}>2. The plan</h2>
          <PlanView plan={answer.plan} />
          {answer.refused && (
            <div className="problem" role="alert">
              <strong>Refused: </strong>
              {answer.refused.message}
              {answer.refused.hint && <div className="hint">{refusalHint(answer.refused.hint, forcible.length > 0, blocking.length > 0)}</div>}
            </div>
          )}
          {forcible.length > 0 && blocking.length === 0 && (
            <fieldset>
              <legend>Force</legend>
              <label className="choice">
                <input
                  type="checkbox"
                  checked={force}
                  onChange={(e) => {
                    setForce(e.target.checked);
                    plan.mutate(e.target.checked);
                  }}
                />{' '}
                Restore despite {forcible.map((c) => `“${c.name}”`).join(', ')}
              </label>
              <p className="muted small">
                These checks compare the backup with the target (schema or server version differences). Forcing restores the backup's definition anyway: the application reading this
                database may not expect it. The plan is made again with force.
              </p>
            </fieldset>
          )}
          {answer.planToken && (
            <>
              <h2>3. Run it</h2>
              {answer.plan.replacesData && (
                <p>
                  <label htmlFor={`${confirmId}-type`}>
                    This replaces existing data. Type <code>RESTORE</code> to confirm
                  </label>
                  <input id={`${confirmId}-type`} value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
                </p>
              )}
              <ProblemMessage error={run.error} title={changed ? 'The plan changed' : 'Not started'} />
              <div className="actions">
                {changed && (
                  <button type="button" onClick={() => edit(choice)}>
                    Plan again
                  </button>
                )}
                <button type="submit" className={answer.plan.replacesData ? 'danger' : 'primary'} disabled={!ready || run.isPending}>
                  {answer.plan.replacesData ? 'Replace and restore' : 'Restore'}
                </button>
              </div>
            </>
          )}
          <p>
            <button type="button" onClick={() => edit(choice)}>
              Change the choice
            </button>
          </p>
        </section>
      )}
    </form>
  );
}

/** A refusal's hint in this page's terms: the engine's names the CLI's --force, here it is the Force box. */
function refusalHint(hint: string, forcible: boolean, blocking: boolean): string {
  if (forcible && !blocking) return 'Nothing was changed. To restore anyway, tick “Restore despite …” under Force below.';
  if (forcible) return 'Nothing was changed. Force overrides only the checks marked “can be forced”: the others must pass first.';
  return hint;
}
