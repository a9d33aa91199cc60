import { useId, useState } from 'react';
import { api, unwrap } from '../api/client.ts';
import { ProblemMessage } from '../components/problem.tsx';
import { useSession } from '../session.tsx';

export function LoginPage() {
  const { signedIn, notice } = useSession();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <main className="auth-page">
      <form
        className="card auth-card"
        aria-labelledby={`${id}-title`}
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          unwrap(api.POST('/api/v1/session', { body: { name, password } }))
            .then(signedIn)
            .catch(setError)
            .finally(() => setBusy(false));
        }}
      >
        <h1 id={`${id}-title`}>Sign in to Lifeboat</h1>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor={`${id}-name`}>User name</label>
        <input id={`${id}-name`} autoComplete="username" required value={name} onChange={(e) => setName(e.target.value)} autoFocus />
        <label htmlFor={`${id}-password`}>Password</label>
        <input id={`${id}-password`} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        <ProblemMessage error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="muted small">
          No account yet? An admin creates one under Admin → Users, or on the server: <code>lifeboat user add NAME --role viewer</code>.
        </p>
      </form>
    </main>
  );
}
