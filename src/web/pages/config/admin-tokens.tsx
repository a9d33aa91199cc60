// API tokens: one's own (admins: everyone's). A new token is shown once, with a copy button;
// the list shows when and from where each was last used; revoking asks first.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap, type Schema } from '../../api/client.ts';
import { ConfirmDialog, Dialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { Badge, EmptyState, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan } from '../../session.tsx';
import { Checkbox, Field, Select } from './fields.tsx';
import { useUsers } from './admin-users.tsx';
import { TableWrap } from './table.tsx';
import './config.css';

type Token = Schema<'Token'>;
type Scope = Token['scopes'][number];
const SCOPES: [Scope, string][] = [
  ['read', 'read: list and read everything but secrets'], ['backup', 'backup: start backups (an external scheduler), verify, protect'],
  ['restore', 'restore: restore and download'], ['admin', 'admin: everything its owner may, but users and tokens'], ['metrics', 'metrics: read /metrics'],
];
const EXPIRY = [['90d', 'in 90 days'], ['30d', 'in 30 days'], ['1y', 'in a year'], ['', 'never']] as const;

export function TokensPage() {
  const client = useQueryClient();
  const canManage = useCan('tokens.manage');
  const [showRevoked, setShowRevoked] = useState(false);
  const tokens = useQuery({
    queryKey: ['tokens', showRevoked],
    queryFn: async () => (await unwrap(api.GET('/api/v1/tokens', { params: { query: showRevoked ? { includeRevoked: 'true' } : {} } }))).items,
  });
  const [creating, setCreating] = useState(false);
  const [made, setMade] = useState<{ token: string; summary: Token }>();
  const [revoking, setRevoking] = useState<Token>();
  return (
    <Page title="API tokens" actions={<button type="button" className="primary" onClick={() => { setMade(undefined); setCreating(true); }}>Create token</button>}>
      <p className="muted">For scripts and schedulers: send <code>Authorization: Bearer lb_…</code>. A token can do what its scopes allow and its owner&apos;s role still allows.</p>
      {made && <NewTokenShown made={made} onDismiss={() => setMade(undefined)} />}
      <Checkbox label="Show revoked and expired tokens" checked={showRevoked} onChange={setShowRevoked} />
      <ProblemMessage error={tokens.error} />
      {tokens.isPending && <Loading what="tokens" />}
      {tokens.data?.length === 0 && <EmptyState title="No API token."><p>Create one for a script, an external scheduler or a monitoring system.</p></EmptyState>}
      {!!tokens.data?.length && (
        <TableWrap label="API tokens">
          <table>
            <thead><tr><th>Name</th>{canManage && <th>Owner</th>}<th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th><th>From</th><th>State</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  {canManage && <td>{t.owner}</td>}
                  <td>{t.scopes.join(', ')}</td>
                  <td><Time at={t.createdAt} /></td>
                  <td>{t.expiresAt ? <Time at={t.expiresAt} /> : 'never'}</td>
                  <td><Time at={t.lastUsedAt} relative /></td>
                  <td>{t.lastUsedAddress ?? '—'}</td>
                  <td><Badge tone={t.state === 'active' ? 'ok' : 'neutral'}>{t.state}</Badge></td>
                  <td>{t.state === 'active' && <button type="button" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>Revoke</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Dialog open={creating} title="Create an API token" onClose={() => setCreating(false)}>
        {creating && <NewToken onMade={(m) => { setMade(m); setCreating(false); }} onCancel={() => setCreating(false)} />}
      </Dialog>
      <ConfirmDialog
        open={!!revoking}
        danger
        title={`Revoke token ${revoking?.name ?? ''}?`}
        confirmLabel={`Revoke ${revoking?.name ?? ''}`}
        onClose={() => setRevoking(undefined)}
        onConfirm={async () => {
          await unwrap(api.DELETE('/api/v1/tokens/{id}', { params: { path: { id: revoking!.id } } }));
          await client.invalidateQueries({ queryKey: ['tokens'] });
        }}
      >
        <p>The token <strong>{revoking?.name}</strong> of {revoking?.owner} ({revoking?.scopes.join(', ')}) stops working at its next request. This cannot be undone: whatever uses it needs a new one.</p>
      </ConfirmDialog>
    </Page>
  );
}

function NewTokenShown({ made, onDismiss }: { made: { token: string; summary: Token }; onDismiss: () => void }) {
  const [copied, setCopied] = useState<boolean>();
  return (
    <section className="card" aria-labelledby="new-token">
      <h2 id="new-token">Token {made.summary.name} created</h2>
      <p><strong>Copy it now: it is shown only this once.</strong> Lifeboat keeps only its hash.</p>
      <div className="token-once">
        <code aria-label="the new token">{made.token}</code>
        <button type="button" onClick={() => navigator.clipboard.writeText(made.token).then(() => setCopied(true), () => setCopied(false))}>Copy</button>
        <span role="status">{copied === true ? 'Copied.' : copied === false ? 'Copying was refused: select the token and copy it by hand.' : ''}</span>
      </div>
      <p><button type="button" onClick={onDismiss}>I have copied it</button></p>
    </section>
  );
}

function NewToken({ onMade, onCancel }: { onMade: (m: { token: string; summary: Token }) => void; onCancel: () => void }) {
  const client = useQueryClient();
  const canManage = useCan('tokens.manage');
  const users = useUsers(canManage);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Set<Scope>>(new Set(['read']));
  const [expires, setExpires] = useState<string>('90d');
  const [owner, setOwner] = useState('');
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/tokens', { body: { name, scopes: [...scopes], ...(expires ? { expires } : {}), ...(owner ? { owner } : {}) } })),
    onSuccess: async (m) => { await client.invalidateQueries({ queryKey: ['tokens'] }); onMade(m); },
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
      <Field label="Token name" value={name} onChange={setName} required placeholder="e.g. cron on backup-host" />
      <fieldset>
        <legend>Scopes</legend>
        {SCOPES.map(([s, text]) => (
          <div key={s}><Checkbox label={text} checked={scopes.has(s)} onChange={(v) => setScopes((x) => { const n = new Set(x); if (v) n.add(s); else n.delete(s); return n; })} /></div>
        ))}
      </fieldset>
      <Select label="Expires" value={expires} onChange={setExpires} options={EXPIRY} />
      {canManage && users.data && (
        <Select label="Owner" value={owner} onChange={setOwner} options={[['', 'me'], ...users.data.filter((u) => !u.disabled).map((u) => [u.name, `${u.name} (${u.role})`] as const)]} help="a token never does more than its owner's role allows" />
      )}
      <ProblemMessage error={create.error} />
      <div className="dialog-actions">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" className="primary" disabled={create.isPending || scopes.size === 0}>Create token</button>
      </div>
    </form>
  );
}
