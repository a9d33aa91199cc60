// Users and their roles: create, change role, disable or enable, set a new password, end their
// sessions, remove. The server refuses to demote, disable or remove the last admin; its message
// is what the page shows.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap, type Schema } from '../../api/client.ts';
import { ConfirmDialog, Dialog } from '../../components/dialog.tsx';
import { Time } from '../../components/format.tsx';
import { Badge, Loading, Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useSession } from '../../session.tsx';
import { Field, Select } from './fields.tsx';
import { TableWrap } from './table.tsx';
import './config.css';

type User = Schema<'User'>;
type Role = User['role'];
const ROLES = [['viewer', 'viewer: reads everything, changes nothing'], ['operator', 'operator: backs up, verifies, restores'], ['admin', 'admin: everything, users and configuration too']] as const;

export function useUsers(enabled = true) {
  return useQuery({ queryKey: ['users'], queryFn: async () => (await unwrap(api.GET('/api/v1/users'))).items, enabled });
}

export function UsersPage() {
  const users = useUsers();
  const me = useSession().session?.user;
  const client = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [confirm, setConfirm] = useState<{ kind: 'remove' | 'signout' | 'disable'; user: User }>();
  const [password, setPassword] = useState<User>();
  const change = useMutation({
    mutationFn: ({ name, body }: { name: string; body: Schema<'UserChange'> }) => unwrap(api.PATCH('/api/v1/users/{name}', { params: { path: { name } }, body })),
    onSettled: () => client.invalidateQueries({ queryKey: ['users'] }),
  });
  return (
    <Page title="Users" actions={<button type="button" className="primary" onClick={() => setCreating(true)}>Add user</button>}>
      <ProblemMessage error={users.error} />
      <ProblemMessage error={change.error} />
      {users.isPending && <Loading what="users" />}
      {users.data && (
        <TableWrap label="users">
          <table>
            <thead><tr><th>User</th><th>Role</th><th>State</th><th>Last sign-in</th><th>Password set</th><th>Actions</th></tr></thead>
            <tbody>
              {users.data.map((u) => (
                <tr key={u.id}>
                  <td>{u.name}{u.name === me && <span className="muted"> (you)</span>}</td>
                  <td>
                    <select aria-label={`Role of ${u.name}`} value={u.role} disabled={change.isPending} onChange={(e) => change.mutate({ name: u.name, body: { role: e.target.value as Role } })}>
                      {ROLES.map(([r]) => <option key={r} value={r}>{r}</option>)}
                    </select>
                  </td>
                  <td>{u.disabled ? <Badge tone="bad">disabled</Badge> : <Badge tone="ok">active</Badge>}</td>
                  <td><Time at={u.lastLoginAt} relative /></td>
                  <td><Time at={u.passwordChangedAt} relative /></td>
                  <td><div className="row-actions">
                    {u.disabled ? (
                      <button type="button" onClick={() => change.mutate({ name: u.name, body: { disabled: false } })}>Enable</button>
                    ) : (
                      <button type="button" onClick={() => setConfirm({ kind: 'disable', user: u })} aria-label={`Disable ${u.name}`}>Disable</button>
                    )}
                    <button type="button" onClick={() => setPassword(u)} aria-label={`Reset password of ${u.name}`}>Reset password</button>
                    <button type="button" onClick={() => setConfirm({ kind: 'signout', user: u })} aria-label={`End sessions of ${u.name}`}>End sessions</button>
                    <button type="button" onClick={() => setConfirm({ kind: 'remove', user: u })} aria-label={`Remove ${u.name}`}>Remove</button>
                  </div></td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <p className="muted small">The last admin cannot be demoted, disabled or removed.</p>
      <Dialog open={creating} title="Add a user" onClose={() => setCreating(false)}>
        {creating && <NewUser onDone={() => setCreating(false)} />}
      </Dialog>
      <Dialog open={!!password} title={`New password for ${password?.name ?? ''}`} onClose={() => setPassword(undefined)}>
        {password && <ResetPassword user={password} onDone={() => setPassword(undefined)} />}
      </Dialog>
      <ConfirmDialog
        open={!!confirm}
        danger
        title={confirm ? `${confirm.kind === 'remove' ? 'Remove' : confirm.kind === 'disable' ? 'Disable' : 'Sign out'} ${confirm.user.name}?` : ''}
        confirmLabel={confirm ? (confirm.kind === 'remove' ? `Remove ${confirm.user.name}` : confirm.kind === 'disable' ? `Disable ${confirm.user.name}` : `End ${confirm.user.name}'s sessions`) : ''}
        onClose={() => setConfirm(undefined)}
        onConfirm={async () => {
          const u = confirm!.user;
          if (confirm!.kind === 'remove') await unwrap(api.DELETE('/api/v1/users/{name}', { params: { path: { name: u.name } } }));
          else if (confirm!.kind === 'disable') await unwrap(api.PATCH('/api/v1/users/{name}', { params: { path: { name: u.name } }, body: { disabled: true } }));
          else await unwrap(api.POST('/api/v1/users/{name}/signout', { params: { path: { name: u.name } } }));
          await client.invalidateQueries({ queryKey: ['users'] });
        }}
      >
        {confirm?.kind === 'remove' && <p>This removes the user <strong>{confirm.user.name}</strong>: their sessions end now and their API tokens are revoked. Their entries in the audit log stay.</p>}
        {confirm?.kind === 'disable' && <p>This disables <strong>{confirm.user.name}</strong>: they cannot sign in, their sessions end and their tokens stop working until enabled again.</p>}
        {confirm?.kind === 'signout' && <p>This ends every browser session of <strong>{confirm.user.name}</strong>; they must sign in again. Their API tokens keep working.</p>}
      </ConfirmDialog>
    </Page>
  );
}

function NewUser({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const create = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/users', { body: { name, role, password } })),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['users'] }); onDone(); },
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
      <Field label="User name" value={name} onChange={setName} required />
      <Select label="Role" value={role} onChange={setRole} options={ROLES} />
      <Field label="Password (at least 12 characters)" type="password" autoComplete="new-password" value={password} onChange={setPassword} required help="tell them to change it on their Account page" />
      <ProblemMessage error={create.error} />
      <div className="dialog-actions">
        <button type="button" onClick={onDone}>Cancel</button>
        <button type="submit" className="primary" disabled={create.isPending}>Create user</button>
      </div>
    </form>
  );
}

function ResetPassword({ user, onDone }: { user: User; onDone: () => void }) {
  const client = useQueryClient();
  const [password, setPassword] = useState('');
  const reset = useMutation({
    mutationFn: () => unwrap(api.PATCH('/api/v1/users/{name}', { params: { path: { name: user.name } }, body: { password } })),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['users'] }); onDone(); },
  });
  return (
    <form onSubmit={(e) => { e.preventDefault(); reset.mutate(); }}>
      <p>Sets a new password for <strong>{user.name}</strong>; the old one stops working.</p>
      <Field label="New password (at least 12 characters)" type="password" autoComplete="new-password" value={password} onChange={setPassword} required />
      <ProblemMessage error={reset.error} />
      <div className="dialog-actions">
        <button type="button" onClick={onDone}>Cancel</button>
        <button type="submit" className="primary" disabled={reset.isPending}>Set password</button>
      </div>
    </form>
  );
}
