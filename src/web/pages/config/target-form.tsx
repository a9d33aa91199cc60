// Creating or changing a target made here: its PostgreSQL connection (a URL, or host, port, user,
// password and database), which databases, the app profile, its storage and retention.
import { useState } from 'react';
import { ProblemMessage } from '../../components/problem.tsx';
import { Checkbox, Field, SecretField, Select } from './fields.tsx';
import { at, SET, str, useObjects, useSaveObject, type ConfigObject } from './objects.ts';
import { RETENTION_PRESETS, retentionBody, retentionPresetOf } from './presets.ts';

const PROFILES = [
  ['auto', 'Detect (n8n, Django or Prisma by their tables; else generic)'], ['n8n', 'n8n'], ['django', 'Django'], ['prisma', 'Prisma'], ['generic', 'Generic PostgreSQL'],
] as const;
type Profile = (typeof PROFILES)[number][0];

interface Connection { mode: 'url' | 'fields'; url: string; host: string; port: string; user: string; password: string; database: string }

/** The connection URL the fields make; the password is percent-encoded like every other part. */
export function connectionUrl(c: Connection): string {
  if (c.mode === 'url') return c.url.trim();
  const auth = c.user ? `${encodeURIComponent(c.user)}${c.password ? `:${encodeURIComponent(c.password)}` : ''}@` : '';
  return `postgresql://${auth}${c.host.trim() || 'localhost'}:${c.port.trim() || '5432'}/${encodeURIComponent(c.database.trim() || 'postgres')}`;
}

/** `withRetention: false` leaves retention out of the form (the wizard asks for it on its own step). */
export function TargetForm({ existing, onSaved, submitLabel, defaultStorage, withRetention = true }: { existing?: ConfigObject; onSaved: (o: ConfigObject) => void; submitLabel?: string; defaultStorage?: string; withRetention?: boolean }) {
  const save = useSaveObject('target');
  const storages = useObjects('storage');
  const cfg = existing?.config ?? {};
  const [name, setName] = useState(existing?.name ?? '');
  // The server shows a stored URL without its password (or "set" when it cannot parse it).
  const storedUrl = at(cfg, 'postgres', 'url');
  const hasUrl = typeof storedUrl === 'string' && storedUrl !== '';
  const [replacingUrl, setReplacingUrl] = useState(!hasUrl);
  const [conn, setConn] = useState<Connection>({ mode: 'url', url: '', host: 'localhost', port: '5432', user: 'postgres', password: '', database: '' });
  const dbs = at(cfg, 'postgres', 'databases');
  const [databases, setDatabases] = useState(Array.isArray(dbs) ? dbs.join(', ') : '');
  const [globals, setGlobals] = useState(at(cfg, 'postgres', 'globals') === true);
  const [profile, setProfile] = useState<Profile>((cfg.profile as Profile | undefined) ?? 'auto');
  const [storage, setStorage] = useState(str(at(cfg, 'storage', 'primary')) || defaultStorage || '');
  const [retention, setRetention] = useState(existing ? retentionPresetOf(cfg.retention) : 'standard');
  const storageNames = [...new Set((storages.data ?? []).filter((s) => !s.problem).map((s) => s.name))];
  const chosenStorage = storage || storageNames[0] || '';
  const set = (k: keyof Connection) => (v: string) => setConn((c) => ({ ...c, [k]: v }));
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const list = databases.split(',').map((d) => d.trim()).filter(Boolean);
        const fromFields = conn.mode === 'fields' && conn.database.trim() ? [conn.database.trim()] : [];
        const postgres: Record<string, unknown> = { databases: list.length ? list : fromFields.length ? fromFields : 'all', globals };
        if (replacingUrl) postgres.url = connectionUrl(conn);
        const body: Record<string, unknown> = { postgres, profile, storage: existing && typeof cfg.storage === 'object' ? { primary: chosenStorage } : chosenStorage };
        const r = withRetention ? retentionBody(retention, !!existing) : undefined;
        if (r !== undefined) body.retention = r;
        save.mutate({ name, config: body, existing: !!existing }, { onSuccess: onSaved });
      }}
    >
      <Field label="Target name" value={name} onChange={setName} required disabled={!!existing} placeholder="e.g. n8n" help={existing ? 'names cannot change' : 'names its backups: <name>-<time>'} />
      <fieldset>
        <legend>PostgreSQL connection</legend>
        {!replacingUrl ? (
          <SecretField label="Connection URL" stored shown={storedUrl === SET ? undefined : String(storedUrl)} value={undefined} onChange={(v) => { if (v !== undefined) setReplacingUrl(true); }} />
        ) : (
          <>
            <Select label="Connect with" value={conn.mode} onChange={(m) => setConn((c) => ({ ...c, mode: m }))} options={[['url', 'a connection URL'], ['fields', 'host, port, user and password']]} />
            {conn.mode === 'url' ? (
              <SecretField label="Connection URL" stored={false} value={conn.url} onChange={(v) => set('url')(v ?? '')} required />
            ) : (
              <div className="form-grid">
                <Field label="Host" value={conn.host} onChange={set('host')} required />
                <Field label="Port" value={conn.port} onChange={set('port')} type="number" />
                <Field label="User" value={conn.user} onChange={set('user')} required />
                <SecretField label="Password" stored={false} value={conn.password} onChange={(v) => set('password')(v ?? '')} />
                <Field label="Database" value={conn.database} onChange={set('database')} help="empty: every database on the server" />
              </div>
            )}
            {hasUrl && <button type="button" onClick={() => setReplacingUrl(false)}>Keep the stored connection</button>}
            <p className="muted small">The connection is stored sealed (it may hold a password) and never shown again.</p>
          </>
        )}
        <Field label="Databases to back up" value={databases} onChange={setDatabases} placeholder="all" help="comma-separated; empty: every database (or the one named above)" />
        <Checkbox label="Include roles and tablespaces (globals)" checked={globals} onChange={setGlobals} />
      </fieldset>
      <div className="form-grid">
        <Select label="App profile" value={profile} onChange={setProfile} options={PROFILES} />
        <Select label="Storage" value={chosenStorage} onChange={setStorage} options={storageNames.map((n) => [n, n] as const)} help={storageNames.length ? undefined : 'add a storage first'} />
        {withRetention && <Select label="Retention" value={retention} onChange={setRetention} options={[...RETENTION_PRESETS.map((p) => [p.id, p.label] as const), ...(retention === 'custom' ? [['custom', 'Custom (as set in Retention): keep'] as const] : [])]} />}
      </div>
      <ProblemMessage error={save.error} />
      <div className="dialog-actions">
        <button type="submit" className="primary" disabled={save.isPending || !chosenStorage}>
          {save.isPending ? 'Saving…' : submitLabel ?? (existing ? 'Save changes' : 'Create target')}
        </button>
      </div>
    </form>
  );
}
