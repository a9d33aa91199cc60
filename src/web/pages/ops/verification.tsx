// Verification policy per target: when backups are proven by a test restore, and what the
// user's own SQL checks expect. Editable for a target created here; read-only from the file.
import { useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { inEffect, useTargets } from './queries.ts';
import { FileOwnedNote, TargetPicker, useChosenTarget } from './target-picker.tsx';
import type { VerificationPolicy } from './types.ts';
import { VerificationForm } from './verification-form.tsx';

export function VerificationPage() {
  const targets = useTargets();
  const list = inEffect(targets.data);
  const [target, choose] = useChosenTarget(list);
  const canWrite = useCan('config.write');
  const client = useQueryClient();
  const last = target?.health?.lastVerification;
  return (
    <Page title={target ? `Verification of ${target.name}` : 'Verification'}>
      <ProblemMessage error={targets.error} />
      {targets.isPending ? (
        <Loading what="targets" />
      ) : !target ? (
        <EmptyState title="No target yet, so nothing to verify.">
          <p>
            Add a target under <Link href="/targets">Targets</Link>; how its backups are proven is set here.
          </p>
        </EmptyState>
      ) : (
        <>
          <TargetPicker targets={list} chosen={target.name} onChange={choose} />
          <p>
            Last verification:{' '}
            {last ? (
              <>
                <Badge tone={last.ok ? 'ok' : 'bad'}>
                  {last.level} {last.ok ? 'passed' : 'failed'}
                </Badge>{' '}
                of <Link href={`/backups/${encodeURIComponent(last.backupId)}`}>{last.backupId}</Link>, <Time at={last.at} relative />
              </>
            ) : (
              <span className="muted">never</span>
            )}
          </p>
          {target.source === 'file' && <FileOwnedNote target={target.name} keyName="verification" value={target.config.verification} />}
          {target.source === 'api' && !canWrite && <p className="muted">Only an admin changes the verification policy.</p>}
          <VerificationForm
            key={target.name}
            policy={target.config.verification as VerificationPolicy | undefined}
            readOnly={target.source === 'file' || !canWrite}
            onSave={async (value) => {
              await unwrap(api.PATCH('/api/v1/targets/{name}', { params: { path: { name: target.name } }, body: { verification: value } }));
              await client.invalidateQueries({ queryKey: ['targets'] });
            }}
          />
        </>
      )}
    </Page>
  );
}
