import { ApiError } from '../api/client.ts';

/** An error as the user should read it: the server's message and its hint, never a bare "Error". */
export function ProblemMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const p = error instanceof ApiError ? error.problem : undefined;
  return (
    <div className="problem" role="alert">
      {title && <strong>{title}: </strong>}
      <span>{p?.detail ?? (error as Error).message ?? String(error)}</span>
      {p?.hint && <div className="hint">{p.hint}</div>}
      {p?.errors && p.errors.length > 0 && (
        <ul>
          {p.errors.map((e) => (
            <li key={e.path}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
