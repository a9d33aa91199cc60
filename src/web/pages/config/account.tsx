// One's own account: change the password (other sessions end), and links to one's tokens and sessions.
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'wouter';
import { api, unwrap } from '../../api/client.ts';
import { Page } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { useSession } from '../../session.tsx';
import { Field } from './fields.tsx';
import './config.css';

export function AccountPage() {
  const { session } = useSession();
  const [current, setCurrent] = useState('');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const change = useMutation({
    mutationFn: () => unwrap(api.POST('/api/v1/account/password', { body: { current, password } })),
    onSuccess: () => { setCurrent(''); setPassword(''); setRepeat(''); },
  });
  const mismatch = repeat.length > 0 && repeat !== password;
  return (
    <Page title="Your account">
      <p>Signed in as <strong>{session?.user}</strong>, role {session?.role}.</p>
      <div className="cards">
        <form className="card" aria-labelledby="pw" onSubmit={(e) => { e.preventDefault(); if (!mismatch) change.mutate(); }}>
          <h2 id="pw">Change your password</h2>
          <Field label="Current password" type="password" autoComplete="current-password" value={current} onChange={setCurrent} required />
          <Field label="New password (at least 12 characters)" type="password" autoComplete="new-password" value={password} onChange={setPassword} required />
          <Field label="New password again" type="password" autoComplete="new-password" value={repeat} onChange={setRepeat} required />
          {mismatch && <p className="problem">The two new passwords differ.</p>}
          <ProblemMessage error={change.error} />
          {change.isSuccess && <p role="status" className="notice">Password changed. Your other sessions have ended.</p>}
          <div className="dialog-actions"><button type="submit" className="primary" disabled={change.isPending || mismatch}>Change password</button></div>
        </form>
        <section className="card" aria-labelledby="access">
          <h2 id="access">Access</h2>
          <ul>
            <li><Link href="/admin/tokens">Your API tokens</Link>: for scripts and schedulers</li>
            <li><Link href="/admin/sessions">Your sessions</Link>: where you are signed in; sign out everywhere</li>
          </ul>
        </section>
      </div>
    </Page>
  );
}
