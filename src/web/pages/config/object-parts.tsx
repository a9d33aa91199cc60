// What every target, storage and channel screen shows the same way: where the object is
// defined, testing it, and removing it.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { formatBytes, Time } from '../../components/format.tsx';
import { Badge } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { Checkbox } from './fields.tsx';
import { PLURAL, removeObject, testObject, type ConfigObject, type ObjectKind, type TestReport } from './objects.ts';

/** Where the object comes from, and why it can or cannot be changed here. */
export function SourceNote({ object }: { object: ConfigObject }) {
  if (object.source === 'file') {
    return <p className="notice small">Defined in lifeboat.yaml: read-only here. Edit the file to change it.</p>;
  }
  return (
    <>
      {object.shadowed && <p className="banner small">lifeboat.yaml has a {object.kind} of this name too; the file's is in effect. Remove this one to clear the warning.</p>}
      {object.problem && <p className="problem small">Not in effect: {object.problem}</p>}
      <p className="muted small">
        Created here{object.createdBy ? ` by ${object.createdBy}` : ''} <Time at={object.createdAt} />
        {object.updatedAt && object.updatedAt !== object.createdAt && <> · changed{object.updatedBy ? ` by ${object.updatedBy}` : ''} <Time at={object.updatedAt} /></>}
      </p>
    </>
  );
}

export function SourceBadge({ object }: { object: ConfigObject }) {
  return object.source === 'file' ? <Badge tone="neutral" title="defined in lifeboat.yaml: read-only here">lifeboat.yaml</Badge> : <Badge tone="info" title="created here: editable">created here</Badge>;
}

/** A Test button; the outcome of each check appears below it and stays until the next test. */
export function TestButton({ kind, name, onReport }: { kind: ObjectKind; name: string; onReport?: (r: TestReport) => void }) {
  const test = useMutation({ mutationFn: () => testObject(kind, name), onSuccess: onReport });
  return (
    <div className="test-block">
      <button type="button" onClick={() => test.mutate()} disabled={test.isPending} aria-label={`Test ${kind} ${name}`}>
        {test.isPending ? 'Testing…' : 'Test'}
      </button>
      <ProblemMessage error={test.error} />
      {test.data && <TestResult report={test.data} />}
    </div>
  );
}

export function TestResult({ report }: { report: TestReport }) {
  const storage = report.storage as { freeBytes?: number | null; totalBytes?: number | null } | undefined;
  return (
    <div role="status" aria-label={`test of ${report.kind} ${report.name}`} data-ok={report.ok}>
      <p>
        <Badge tone={report.ok ? 'ok' : 'bad'}>{report.ok ? 'Test passed' : 'Test failed'}</Badge> <span className="muted small">in {report.ms} ms</span>
      </p>
      <ul className="checks">
        {report.checks.map((c) => (
          <li key={c.name} className={c.ok ? 'check-ok' : 'check-bad'}>
            <strong>{c.name}</strong>: {c.detail}
            {c.hint && <div className="muted small">{c.hint}</div>}
          </li>
        ))}
        {storage && storage.freeBytes != null && (
          <li className="check-ok">
            <strong>free space</strong>: {formatBytes(storage.freeBytes)}
            {storage.totalBytes ? ` of ${formatBytes(storage.totalBytes)}` : ''}
          </li>
        )}
      </ul>
    </div>
  );
}

const REMOVAL: Record<ObjectKind, string> = {
  target: 'Its schedules added here go with it. Its backups stay in storage and in the catalog (restorable with --to); no new ones are made.',
  storage: 'Bundles already there stay there, but Lifeboat no longer reads or writes them until a storage of that name is configured again. A storage a target uses cannot be removed.',
  channel: 'Notifications routed to it stop.',
};

/** Remove an API object, after a confirmation naming it; the server's 409 says why not. */
export function RemoveButton({ kind, name, onRemoved }: { kind: ObjectKind; name: string; onRemoved?: () => void }) {
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [force, setForce] = useState(false);
  return (
    <>
      <button type="button" onClick={() => { setForce(false); setOpen(true); }} aria-label={`Remove ${kind} ${name}`}>
        Remove
      </button>
      <ConfirmDialog
        open={open}
        title={`Remove ${kind} ${name}?`}
        confirmLabel={`Remove ${kind} ${name}`}
        danger
        onClose={() => setOpen(false)}
        onConfirm={async () => {
          await removeObject(kind, name, force);
          await client.invalidateQueries({ queryKey: [PLURAL[kind]] });
          onRemoved?.();
        }}
      >
        <p>
          This removes the {kind} <strong>{name}</strong> from Lifeboat&apos;s configuration. {REMOVAL[kind]}
        </p>
        {kind !== 'channel' && <Checkbox label={`Remove it even if it ${kind === 'target' ? 'has backups' : 'holds backups'} (force)`} checked={force} onChange={setForce} />}
      </ConfirmDialog>
    </>
  );
}
