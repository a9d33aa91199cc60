// First run (and later, from the targets' empty state): storage, database, schedule and
// retention, first backup. A target names its storage, so the storage comes first. Each step
// saves as it goes; skipping leaves what was saved.
import { useState } from 'react';
import { Link } from 'wouter';
import { EmptyState, Page } from '../../components/page.tsx';
import { useCan } from '../../session.tsx';
import { Select } from './fields.tsx';
import { TestResult } from './object-parts.tsx';
import { testObject, useObjects, type ConfigObject, type TestReport } from './objects.ts';
import { StorageForm } from './storage-form.tsx';
import { TargetForm } from './target-form.tsx';
import { DetectedApp, FirstBackupStep, ScheduleStep } from './wizard-steps.tsx';
import './config.css';

const STEPS = ['Storage', 'Database', 'Schedule and retention', 'First backup'] as const;

export function WizardPage() {
  const [step, setStep] = useState(0);
  const [storage, setStorage] = useState<string>();
  const [target, setTarget] = useState<ConfigObject>();
  const [scheduled, setScheduled] = useState<string>();
  const canWrite = useCan('config.write');
  if (!canWrite) {
    return (
      <Page title="Set up your first backup">
        <EmptyState title="Only an admin can add storages and targets."><p>Ask an admin to run this setup, or see what is configured under <Link href="/targets">Targets</Link>.</p></EmptyState>
      </Page>
    );
  }
  return (
    <Page title="Set up your first backup" actions={<Link href="/">Skip the wizard</Link>}>
      <div className="wizard">
        <ol className="steps" aria-label="steps">
          {STEPS.map((s, i) => (
            <li key={s} aria-current={i === step ? 'step' : undefined} className={i < step ? 'done' : undefined}>
              {i + 1}. {s}
            </li>
          ))}
        </ol>
        {step === 0 && <StorageStep chosen={storage} onChosen={setStorage} onNext={() => setStep(1)} />}
        {step === 1 && storage && <DatabaseStep storage={storage} target={target} onSaved={setTarget} onNext={() => setStep(2)} />}
        {step === 2 && target && (
          <section className="card" aria-labelledby="step-title">
            <h2 id="step-title">Schedule and retention of {target.name}</h2>
            {scheduled ? <p role="status">Saved: {scheduled}.</p> : <ScheduleStep target={target.name} onDone={setScheduled} />}
            <StepNav onBack={() => setStep(1)} onNext={() => setStep(3)} nextLabel={scheduled ? 'Next' : 'Skip this step'} />
          </section>
        )}
        {step === 3 && target && (
          <section className="card" aria-labelledby="step-title">
            <h2 id="step-title">Run the first backup of {target.name}</h2>
            <FirstBackupStep target={target.name} />
          </section>
        )}
      </div>
    </Page>
  );
}

function StepNav({ onBack, onNext, nextLabel = 'Next', nextDisabled }: { onBack?: () => void; onNext: () => void; nextLabel?: string; nextDisabled?: boolean }) {
  return (
    <div className="dialog-actions">
      {onBack && <button type="button" onClick={onBack}>Back</button>}
      <button type="button" className={nextDisabled ? undefined : 'primary'} onClick={onNext} disabled={nextDisabled}>{nextLabel}</button>
    </div>
  );
}

function StorageStep({ chosen, onChosen, onNext }: { chosen?: string; onChosen: (name: string) => void; onNext: () => void }) {
  const storages = useObjects('storage');
  const usable = (storages.data ?? []).filter((s) => !s.shadowed && !s.problem);
  const [mode, setMode] = useState<'existing' | 'new'>();
  const [report, setReport] = useState<TestReport>();
  const [testing, setTesting] = useState(false);
  const [created, setCreated] = useState<string>();
  const effective = mode ?? (usable.length ? 'existing' : 'new');
  const choose = (name: string) => {
    onChosen(name);
    setReport(undefined);
    setTesting(true);
    // Testing measures its free space: what the user wants to know before trusting it.
    testObject('storage', name).then(setReport, () => undefined).finally(() => setTesting(false));
  };
  return (
    <section className="card" aria-labelledby="step-title">
      <h2 id="step-title">Where should backups go?</h2>
      {usable.length > 0 && (
        <Select label="Storage" value={effective} onChange={(m) => { setMode(m); setReport(undefined); setCreated(undefined); }} options={[['existing', 'Use a storage already configured'], ['new', 'Create a new storage']]} />
      )}
      {effective === 'existing' ? (
        <div className="inline-form">
          <Select label="Configured storages" value={chosen ?? ''} onChange={(n) => n && choose(n)} options={[['', 'Choose…'], ...usable.map((s) => [s.name, `${s.name} (${String(s.config.type)})`] as const)]} />
        </div>
      ) : (
        created ? <p>Storage <strong>{created}</strong> created.</p> : <StorageForm onSaved={(s) => { setMode('new'); setCreated(s.name); choose(s.name); }} submitLabel="Create and test storage" />
      )}
      {testing && <p role="status">Testing storage {chosen}…</p>}
      {report && <TestResult report={report} />}
      <StepNav onNext={onNext} nextDisabled={!chosen} />
    </section>
  );
}

function DatabaseStep({ storage, target, onSaved, onNext }: { storage: string; target?: ConfigObject; onSaved: (t: ConfigObject) => void; onNext: () => void }) {
  const [report, setReport] = useState<TestReport>();
  const [testing, setTesting] = useState(false);
  const [editing, setEditing] = useState(!target);
  const test = (name: string) => {
    setReport(undefined);
    setTesting(true);
    testObject('target', name).then(setReport, () => undefined).finally(() => setTesting(false));
  };
  return (
    <section className="card" aria-labelledby="step-title">
      <h2 id="step-title">Which database?</h2>
      <p className="muted small">Lifeboat connects, checks the databases are there and that a pg_dump fits the server&apos;s version, and shows the app it finds in them.</p>
      {editing ? (
        <TargetForm key={target?.name ?? 'new'} existing={target} defaultStorage={storage} withRetention={false} submitLabel={target ? 'Save and test again' : 'Create and test connection'} onSaved={(t) => { onSaved(t); setEditing(false); test(t.name); }} />
      ) : target && (
        <p>Target <strong>{target.name}</strong> saved. <button type="button" onClick={() => setEditing(true)}>Change its settings</button> <button type="button" onClick={() => test(target.name)} disabled={testing}>Test again</button></p>
      )}
      {testing && <p role="status">Testing the connection…</p>}
      {report && <TestResult report={report} />}
      {report?.detected && <DetectedApp detected={report.detected} />}
      {report && !report.ok && <p className="problem">Fix the settings above and test again: a backup would fail the same way.</p>}
      <StepNav onNext={onNext} nextDisabled={!target || testing} />
    </section>
  );
}
