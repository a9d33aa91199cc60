// Sessions: one's own signed-in browsers (end one, or sign out everywhere); admins can also end
// every session of another user.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap, type Schema } from '../../api/client.ts';
import { ConfirmDialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { Badge, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useCan, useSession } from '../../session.tsx';
import { useUsers } from './admin-users.tsx';
import { Select } from './fields.tsx';
import { TableWrap } from './table.tsx';
import './config.css';

type Session = Schema<'SessionSummary'>;

export function SessionsPage() {
  const client = useQueryClient();
  const { signOut, session } = useSession();
  const isAdmin = useCan('users.manage');
  const sessions = useQuery({ queryKey: ['sessions'], queryFn: async () => (await unwrap(api.GET('/api/v1/sessions'))).items });
  const [ending, setEnding] = useState<Session>();
  const [everywhere, setEverywhere] = useState(false);
  return (
    <Page title="Sessions" actions={<button type="button" onClick={() => setEverywhere(true)}>Sign out everywhere</button>}>
      <h2>Where {session?.user ?? 'you'} is signed in</h2>
      <ProblemMessage error={sessions.error} />
      {sessions.isPending && <Loading what="sessions" />}
      {sessions.data && (
        <TableWrap label="your sessions">
          <table>
            <thead><tr><th>Session</th><th>Browser</th><th>Address</th><th>Signed in</th><th>Last seen</th><th>Expires</th><th><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>
              {sessions.data.map((s) => (
                <tr key={s.handle}>
                  <td><code>{s.handle}</code> {s.current && <Badge tone="info">this browser</Badge>}</td>
                  <td className="small">{s.userAgent ?? '—'}</td>
                  <td>{s.address ?? '—'}</td>
                  <td><Time at={s.createdAt} /></td>
                  <td><Time at={s.lastSeenAt} relative /></td>
                  <td><Time at={s.expiresAt} /></td>
                  <td>{!s.current && <button type="button" onClick={() => setEnding(s)} aria-label={`End session ${s.handle}`}>End</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {isAdmin && <EndUserSessions />}
      <ConfirmDialog open={!!ending} danger title={`End session ${ending?.handle ?? ''}?`} confirmLabel="End this session" onClose={() => setEnding(undefined)}
        onConfirm={async () => { await unwrap(api.DELETE('/api/v1/sessions/{handle}', { params: { path: { handle: ending!.handle } } })); await client.invalidateQueries({ queryKey: ['sessions'] }); }}>
        <p>The browser of session <code>{ending?.handle}</code> ({ending?.address ?? 'unknown address'}) is signed out at its next request.</p>
      </ConfirmDialog>
      <ConfirmDialog open={everywhere} danger title="Sign out everywhere?" confirmLabel="Sign out everywhere" onClose={() => setEverywhere(false)}
        onConfirm={async () => { await unwrap(api.POST('/api/v1/sessions/signout-all')); await signOut().catch(() => undefined); }}>
        <p>Every session of yours ends, this one included ({sessions.data?.length ?? 0} in all): you sign in again here. API tokens keep working.</p>
      </ConfirmDialog>
    </Page>
  );
}

function EndUserSessions() {
  const users = useUsers();
  const me = useSession().session?.user;
  const [name, setName] = useState('');
  const [confirming, setConfirming] = useState(false);
  const end = useMutation({ mutationFn: (n: string) => unwrap(api.POST('/api/v1/users/{name}/signout', { params: { path: { name: n } } })) });
  const others = (users.data ?? []).filter((u) => u.name !== me);
  return (
    <section className="section" aria-labelledby="others">
      <h2 id="others">Another user&apos;s sessions</h2>
      <form className="inline-form" onSubmit={(e) => { e.preventDefault(); if (name) setConfirming(true); }}>
        <Select label="User" value={name} onChange={setName} options={[['', 'Choose…'], ...others.map((u) => [u.name, `${u.name} (${u.role})`] as const)]} />
        <button type="submit" disabled={!name}>End their sessions</button>
      </form>
      {end.data && <p role="status">Ended {end.data.ended} session{end.data.ended === 1 ? '' : 's'} of {end.variables}.</p>}
      <ProblemMessage error={end.error} />
      <ConfirmDialog open={confirming} danger title={`End every session of ${name}?`} confirmLabel={`End ${name}'s sessions`} onClose={() => setConfirming(false)} onConfirm={() => end.mutateAsync(name)}>
        <p>Every browser where <strong>{name}</strong> is signed in is signed out; they sign in again. Their API tokens keep working.</p>
      </ConfirmDialog>
    </section>
  );
}
