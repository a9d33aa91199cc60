// Targets: what is backed up, each with its health; one target's page shows its settings, tests
// its connection, and (for those created here) edits or removes it.
import { useState } from 'react';
import { Link, useLocation, useParams } from 'wouter';
import { Dialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { RemoveButton, SourceBadge, SourceNote, TestButton } from './object-parts.tsx';
import { at, str, useObject, useObjects, type ConfigObject } from './objects.ts';
import { RETENTION_PRESETS, retentionPresetOf } from './presets.ts';
import { TargetForm } from './target-form.tsx';
import { TableWrap } from './table.tsx';
import './config.css';


function databasesOf(c: Record<string, unknown>): string {
  const d = at(c, 'postgres', 'databases');
  return Array.isArray(d) ? d.join(', ') : d === 'all' ? 'all' : c.postgres ? 'all' : 'none (files only)';
}

function storageOf(c: Record<string, unknown>): string {
  const s = c.storage;
  if (typeof s === 'string') return s;
  const replicas = at(c, 'storage', 'replicas');
  return `${str(at(c, 'storage', 'primary'))}${Array.isArray(replicas) && replicas.length ? ` + ${replicas.join(', ')}` : ''}`;
}

export function TargetsPage() {
  const list = useObjects('target');
  const canWrite = useCan('config.write');
  const [adding, setAdding] = useState(false);
  const [, navigate] = useLocation();
  return (
    <Page title="Targets" actions={canWrite && (
      <>
        <a className="button" href="/welcome">Setup wizard</a>
        <button type="button" className="primary" onClick={() => setAdding(true)}>Add target</button>
      </>
    )}>
      <ProblemMessage error={list.error} />
      {list.isPending && <Loading what="targets" />}
      {list.data?.length === 0 && (
        <EmptyState title="Nothing is backed up yet.">{canWrite ? <p>Connect a database with the <a href="/welcome">setup wizard</a>, or add a target.</p> : <p>An admin adds targets here or in lifeboat.yaml.</p>}</EmptyState>
      )}
      {!!list.data?.length && (
        <TableWrap label="targets">
          <table>
            <thead>
              <tr><th>Target</th><th>Profile</th><th>Databases</th><th>Storage</th><th>Last success</th><th>Next run</th><th className="num">Success, 30 days</th><th>Defined in</th></tr>
            </thead>
            <tbody>
              {list.data.map((t) => {
                const h = t.health;
                return (
                  <tr key={`${t.source}-${t.name}`}>
                    <td><Link href={`/targets/${encodeURIComponent(t.name)}`}>{t.name}</Link>{t.shadowed && <> <Badge tone="warn">shadowed</Badge></>}{t.problem && <> <Badge tone="bad" title={t.problem}>invalid</Badge></>}</td>
                    <td>{str(t.config.profile)}</td>
                    <td>{databasesOf(t.config)}</td>
                    <td>{storageOf(t.config)}</td>
                    <td>{h ? <Time at={h.lastSuccess?.startedAt} relative /> : '—'}</td>
                    <td>{h?.nextRun ? <Time at={h.nextRun} relative /> : <span className="muted">not scheduled</span>}</td>
                    <td className="num">{h?.successRate.rate == null ? '—' : `${Math.round(h.successRate.rate * 100)}% of ${h.successRate.finished}`}</td>
                    <td><SourceBadge object={t} /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Dialog open={adding} title="Add a target" onClose={() => setAdding(false)} wide>
        {adding && <TargetForm onSaved={(t) => { setAdding(false); navigate(`/targets/${encodeURIComponent(t.name)}`); }} />}
      </Dialog>
    </Page>
  );
}

export function TargetPage() {
  const { name = '' } = useParams<{ name: string }>();
  const target = useObject('target', name);
  const list = useObjects('target');
  const canWrite = useCan('config.write');
  const canTest = useCan('verify');
  const [editing, setEditing] = useState(false);
  const [, navigate] = useLocation();
  const t = target.data;
  const health = list.data?.find((x) => x.name === name && !x.shadowed)?.health;
  return (
    <Page title={`Target ${name}`} actions={t && canWrite && t.source === 'api' && (
      <>
        <button type="button" onClick={() => setEditing(true)}>Edit</button>
        <RemoveButton kind="target" name={name} onRemoved={() => navigate('/targets')} />
      </>
    )}>
      <p><Link href="/targets">← All targets</Link></p>
      <ProblemMessage error={target.error} />
      {target.isPending && <Loading what="the target" />}
      {t && (
        <div className="cards">
          <section className="card" aria-labelledby="settings">
            <h2 id="settings">Settings <SourceBadge object={t} /></h2>
            <SourceNote object={t} />
            <Settings c={t.config} />
          </section>
          <section className="card" aria-labelledby="health">
            <h2 id="health">Health</h2>
            {health ? (
              <dl className="kv">
                <dt>Last backup</dt><dd>{health.lastBackup ? <><Link href={`/backups/${encodeURIComponent(health.lastBackup.id)}`}>{health.lastBackup.id}</Link> <Badge tone={health.lastBackup.status === 'ok' ? 'ok' : health.lastBackup.status === 'running' ? 'info' : 'bad'}>{health.lastBackup.status}</Badge></> : 'none yet'}</dd>
                <dt>Last success</dt><dd><Time at={health.lastSuccess?.startedAt} /></dd>
                <dt>Next run</dt><dd>{health.nextRun ? <Time at={health.nextRun} /> : 'not scheduled'}</dd>
                <dt>Last verification</dt><dd>{health.lastVerification ? <><Time at={health.lastVerification.at} /> ({health.lastVerification.level}, {health.lastVerification.ok ? 'passed' : 'failed'})</> : 'never'}</dd>
                <dt>Backups held</dt><dd>{health.backups}</dd>
              </dl>
            ) : <p className="muted">No health while this target is not in effect.</p>}
            {canTest && !t.problem && <TestButton kind="target" name={name} />}
          </section>
        </div>
      )}
      <Dialog open={editing} title={`Edit target ${name}`} onClose={() => setEditing(false)} wide>
        {editing && t && <TargetForm existing={t} onSaved={() => { setEditing(false); void target.refetch(); }} />}
      </Dialog>
    </Page>
  );
}

function Settings({ c }: { c: ConfigObject['config'] }) {
  const files = (c.files ?? {}) as Record<string, { paths?: string[] } | string[]>;
  const retention = retentionPresetOf(c.retention);
  return (
    <dl className="kv">
      <dt>Connection</dt><dd>{c.postgres ? <code title="stored sealed; its password is never shown">{str(at(c, 'postgres', 'url'))}</code> : 'none'}</dd>
      <dt>Databases</dt><dd>{databasesOf(c)}{at(c, 'postgres', 'globals') === true ? ' + globals' : ''}</dd>
      <dt>Profile</dt><dd>{str(c.profile)}</dd>
      <dt>Storage</dt><dd>{storageOf(c)}</dd>
      <dt>File sets</dt><dd>{Object.keys(files).length === 0 ? 'none' : Object.entries(files).map(([set, f]) => `${set}: ${(Array.isArray(f) ? f : f.paths ?? []).join(', ')}`).join('; ')}</dd>
      <dt>Compression</dt><dd>{str(at(c, 'compression', 'algorithm'))}{at(c, 'compression', 'level') !== undefined ? ` level ${str(at(c, 'compression', 'level'))}` : ''}</dd>
      <dt>Encryption</dt><dd>{c.encryption ? (at(c, 'encryption', 'recipients') ? 'age recipients' : 'passphrase (set)') : 'none'}</dd>
      <dt>Retention</dt><dd>{retention === 'custom' ? 'custom (see Retention)' : RETENTION_PRESETS.find((p) => p.id === retention)?.label}</dd>
    </dl>
  );
}
