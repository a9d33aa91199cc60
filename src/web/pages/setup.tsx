import { useEffect, useId, useState } from 'react';
import { useLocation } from 'wouter';
import { api, unwrap } from '../api/client.ts';
import { ProblemMessage } from '../components/problem.tsx';
import { useSession } from '../session.tsx';

/**
 * First run: the link `lifeboat serve` printed carries a one-time token in its fragment (never
 * sent to a server or a proxy's log); with it, the first admin is created and signed in.
 */
export function SetupPage() {
  const { signedIn } = useSession();
  const [, navigate] = useLocation();
  const [token, setToken] = useState(tokenInLink);
  useEffect(() => {
    const read = () => setToken(tokenInLink());
    window.addEventListener('hashchange', read);
    return () => window.removeEventListener('hashchange', read);
  }, []);
  const [name, setName] = useState('admin');
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  const mismatch = repeat.length > 0 && repeat !== password;
  return (
    <main className="auth-page">
      <form
        className="card auth-card"
        aria-labelledby={`${id}-title`}
        onSubmit={(e) => {
          e.preventDefault();
          if (mismatch) return;
          setBusy(true);
          setError(undefined);
          unwrap(api.POST('/api/v1/setup', { body: { token, name, password } }))
            .then((s) => {
              history.replaceState(null, '', '/');
              signedIn(s);
              navigate('/welcome');
            })
            .catch(setError)
            .finally(() => setBusy(false));
        }}
      >
        <h1 id={`${id}-title`}>Welcome to Lifeboat</h1>
        <p>Create the first admin. Then Lifeboat walks you through your first backup.</p>
        {!token && (
          <p className="problem" role="alert">
            This page needs the setup link <code>lifeboat serve</code> printed on its console (it ends in <code>#token=…</code>). Or create an admin on the server: <code>lifeboat user add admin --role admin</code>.
          </p>
        )}
        <label htmlFor={`${id}-name`}>User name</label>
        <input id={`${id}-name`} autoComplete="username" required value={name} onChange={(e) => setName(e.target.value)} />
        <label htmlFor={`${id}-password`}>Password (at least 12 characters)</label>
        <input id={`${id}-password`} type="password" autoComplete="new-password" required minLength={12} value={password} onChange={(e) => setPassword(e.target.value)} />
        <label htmlFor={`${id}-repeat`}>Password again</label>
        <input id={`${id}-repeat`} type="password" autoComplete="new-password" required value={repeat} onChange={(e) => setRepeat(e.target.value)} aria-invalid={mismatch} aria-describedby={mismatch ? `${id}-mismatch` : undefined} />
        {mismatch && (
          <p id={`${id}-mismatch`} className="problem">
            The two passwords differ.
          </p>
        )}
        <ProblemMessage error={error} />
        <button type="submit" className="primary" disabled={busy || !token}>
          {busy ? 'Creating…' : 'Create admin and sign in'}
        </button>
      </form>
    </main>
  );
}

function tokenInLink(): string {
  return new URLSearchParams(window.location.hash.slice(1)).get('token') ?? '';
}
