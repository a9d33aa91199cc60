// Retention per target: its rules (editable for a target created here) and what they would
// delete now, and why, from GET /api/v1/retention (a dry run: nothing is deleted). While rules
// are edited, the preview follows them as typed (POST /api/v1/retention/preview), before saving.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { inEffect, useTargets } from './queries.ts';
import { RetentionForm } from './retention-form.tsx';
import { FileOwnedNote, TargetPicker, useChosenTarget } from './target-picker.tsx';
import { useDebounced } from './use-debounced.ts';
import type { RetentionDecision, RetentionPolicy, RetentionPreview } from './types.ts';

export function RetentionPage() {
  const targets = useTargets();
  const list = inEffect(targets.data);
  const [target, choose] = useChosenTarget(list);
  const canWrite = useCan('config.write');
  const client = useQueryClient();
  const [draft, setDraft] = useState<Record<string, string | number> | null>();
  return (
    <Page title={target ? `Retention of ${target.name}` : 'Retention'}>
      <ProblemMessage error={targets.error} />
      {targets.isPending ? (
        <Loading what="targets" />
      ) : !target ? (
        <EmptyState title="No target yet, so no retention.">
          <p>
            Add a target under <Link href="/targets">Targets</Link>; its retention rules are set here.
          </p>
        </EmptyState>
      ) : (
        <>
          <TargetPicker targets={list} chosen={target.name} onChange={choose} />
          <div className="two-columns">
            <section aria-labelledby="rules-title">
              <h2 id="rules-title">Rules</h2>
              {target.source === 'file' && <FileOwnedNote target={target.name} keyName="retention" value={target.config.retention} />}
              {target.source === 'api' && !canWrite && <p className="muted">Only an admin changes retention.</p>}
              <RetentionForm
                key={target.name}
                policy={(target.config.retention as RetentionPolicy | undefined) ?? null}
                readOnly={target.source === 'file' || !canWrite}
                onDraft={setDraft}
                onSave={async (patch) => {
                  await unwrap(api.PATCH('/api/v1/targets/{name}', { params: { path: { name: target.name } }, body: { retention: patch } }));
                  await client.invalidateQueries({ queryKey: ['targets'] });
                  await client.invalidateQueries({ queryKey: ['retention'] });
                }}
              />
            </section>
            <RetentionPreviewPanel key={target.name} target={target.name} draft={draft} />
          </div>
        </>
      )}
    </Page>
  );
}

const RESULT_TONE = { kept: 'ok', 'would-delete': 'bad' } as const;

/** Rules as typed, or undefined for the saved ones. */
type Draft = Record<string, string | number> | null | undefined;

function RetentionPreviewPanel({ target, draft: typed }: { target: string; draft: Draft }) {
  const [onlyDeleted, setOnlyDeleted] = useState(false);
  const [all, setAll] = useState(false);
  // Asked once typing pauses; the previous answer stays shown meanwhile.
  const draft = useDebounced(typed, 400);
  const preview = useQuery({
    queryKey: ['retention', target, draft === undefined ? 'saved' : JSON.stringify(draft)],
    queryFn: async () =>
      (draft === undefined
        ? (await unwrap(api.GET('/api/v1/retention', { params: { query: { target } } }))).items[0]
        : await unwrap(api.POST('/api/v1/retention/preview', { body: { target, policy: draft } }))) as unknown as RetentionPreview | undefined,
    placeholderData: (previous) => previous,
    retry: false,
  });
  const p = preview.data;
  const unsaved = draft !== undefined;
  const decisions = p?.decisions ?? [];
  const doomed = decisions.filter((d) => d.result === 'would-delete');
  const shown = (onlyDeleted ? doomed : decisions).slice(0, all ? undefined : 100);
  const hidden = (onlyDeleted ? doomed : decisions).length - shown.length;
  return (
    <section aria-labelledby="preview-title">
      <h2 id="preview-title">{unsaved ? 'What the rules as typed would do now' : 'What the rules do now'}</h2>
      <ProblemMessage error={preview.error} title={unsaved ? 'These rules cannot be previewed' : undefined} />
      {preview.isPending && <Loading what="the preview" />}
      {p && (
        <>
          <p data-field="summary" data-draft={unsaved ? 'true' : undefined} aria-live="polite" className={preview.isPlaceholderData || preview.error ? 'stale' : undefined}>
            {unsaved && <strong>Not saved yet: </strong>}
            {p.policy === null
              ? `No rules: all ${decisions.length} backups are kept.`
              : `Keeps ${decisions.length - doomed.length}, would delete ${doomed.length} of ${decisions.length} backups (days counted in ${p.timeZone}).`}{' '}
            <span className="muted small">{unsaved ? 'Nothing is saved or deleted until you save these rules and retention runs.' : "A dry run: nothing is deleted until retention runs after a backup or on the daemon's schedule."}</span>
          </p>
          {p.warnings.map((w) => (
            <p key={w} className="banner">
              {w}
            </p>
          ))}
          {decisions.length > 0 && (
            <label className="inline">
              <input type="checkbox" checked={onlyDeleted} onChange={(e) => setOnlyDeleted(e.target.checked)} /> Only what would be deleted
            </label>
          )}
          {shown.length > 0 && (
            <div className="table-wrap">
              <table aria-label={`Retention decisions for ${target}`}>
                <thead>
                  <tr>
                    <th scope="col">Backup</th>
                    <th scope="col">Decision</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {shown.map((d) => (
                    <DecisionRow key={d.id} d={d} />
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {hidden > 0 && (
            <button type="button" onClick={() => setAll(true)}>
              Show {hidden} more
            </button>
          )}
        </>
      )}
    </section>
  );
}

function DecisionRow({ d }: { d: RetentionDecision }) {
  return (
    <tr data-backup={d.id} data-result={d.result}>
      <td>
        <Link href={`/backups/${encodeURIComponent(d.id)}`}>{d.id}</Link>
      </td>
      <td>
        <Badge tone={RESULT_TONE[d.result as keyof typeof RESULT_TONE] ?? 'neutral'}>{d.result === 'would-delete' ? 'would delete' : d.result}</Badge>
        {d.deleteAt && (
          <div className="muted small">
            at <Time at={d.deleteAt} />
          </div>
        )}
      </td>
      <td className="reasons">{d.reasons.join('; ')}</td>
    </tr>
  );
}
