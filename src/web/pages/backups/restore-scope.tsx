// The restore wizard's first step: what to restore (everything, one database, some tables, some
// files) and where to (the original place, another database, a directory).
import { useId, useMemo, useState } from 'react';
import type { Schema } from '../../api/client.ts';
import type { Manifest } from './manifest.ts';
import { buildTrees, type TreeNode } from './tab-files.tsx';

export type RestoreRequest = Schema<'RestoreRequest'>;

export type Scope = 'all' | 'database' | 'tables' | 'files';

/** What the user chose, before it becomes the API's request. */
export interface ScopeChoice {
  scope: Scope;
  database: string;
  tables: string[];
  /** Tables: `replace` the live rows, or land `beside` them under `renameTo` (one table only). */
  mode: 'replace' | 'beside';
  renameTo: string;
  files: string[];
  toDir: string;
  /** Databases: '' for the original place, else a database URL (or a server URL for all). */
  to: string;
}

export function initialChoice(m: Manifest): ScopeChoice {
  return { scope: 'all', database: m.postgres?.databases[0]?.name ?? '', tables: [], mode: 'replace', renameTo: '', files: [], toDir: '', to: '' };
}

/** The request for POST /api/v1/restores, without dryRun, planToken or confirm. */
export function toRequest(backup: string, c: ScopeChoice, force: boolean): RestoreRequest {
  const r: RestoreRequest = { backup };
  if (c.scope === 'database' || c.scope === 'tables') r.databases = [c.database];
  if (c.scope === 'tables') {
    r.tables = c.tables;
    if (c.mode === 'beside' && c.renameTo.trim()) r.renameTo = c.renameTo.trim();
  }
  if (c.scope === 'files') {
    r.files = c.files;
    // Files named without databases: the engine restores files only.
    if (c.toDir.trim()) r.toDir = c.toDir.trim();
  }
  if (c.scope !== 'files' && c.to.trim()) r.to = c.to.trim();
  if (force) r.force = true;
  return r;
}

/** Why the choice cannot be planned yet, or undefined. */
export function incomplete(c: ScopeChoice): string | undefined {
  if (c.scope === 'tables' && c.tables.length === 0) return 'choose at least one table';
  if (c.scope === 'tables' && c.mode === 'beside' && c.tables.length !== 1) return '“beside” restores exactly one table: choose one';
  if (c.scope === 'tables' && c.mode === 'beside' && !c.renameTo.trim()) return 'name the table restored beside the live one';
  if (c.scope === 'files' && c.files.length === 0) return 'choose at least one file set, directory or file';
  return undefined;
}

export function ScopeForm({ manifest, choice, set }: { manifest: Manifest; choice: ScopeChoice; set: (c: ScopeChoice) => void }) {
  const id = useId();
  const dbs = manifest.postgres?.databases ?? [];
  const patch = (p: Partial<ScopeChoice>) => set({ ...choice, ...p });
  const options: { value: Scope; label: string; hint: string; off?: boolean }[] = [
    { value: 'all', label: 'The whole backup', hint: `every database${manifest.files.length ? ' and every file' : ''}` },
    { value: 'database', label: 'One database', hint: 'replaces it, or creates it where it does not exist', off: dbs.length === 0 },
    { value: 'tables', label: 'One or more tables', hint: 'into the live database: replacing their rows, or beside them under a new name', off: dbs.length === 0 },
    { value: 'files', label: 'Files', hint: 'file sets, directories or single files', off: manifest.files.length === 0 },
  ];
  return (
    <>
      <fieldset>
        <legend>What to restore</legend>
        {options.map((o) => (
          <label key={o.value} className="choice">
            <input type="radio" name={`${id}-scope`} checked={choice.scope === o.value} disabled={o.off} onChange={() => patch({ scope: o.value })} /> <strong>{o.label}</strong>{' '}
            <span className="muted">{o.hint}</span>
          </label>
        ))}
      </fieldset>
      {(choice.scope === 'database' || choice.scope === 'tables') && (
        <>
          <label htmlFor={`${id}-db`}>Database</label>
          <select id={`${id}-db`} value={choice.database} onChange={(e) => patch({ database: e.target.value, tables: [] })}>
            {dbs.map((d) => (
              <option key={d.name}>{d.name}</option>
            ))}
          </select>
        </>
      )}
      {choice.scope === 'tables' && <TablePicker manifest={manifest} choice={choice} patch={patch} />}
      {choice.scope === 'files' && <FilePicker manifest={manifest} choice={choice} patch={patch} />}
      {choice.scope !== 'files' && (
        <fieldset>
          <legend>Where to</legend>
          <label className="choice">
            <input type="radio" name={`${id}-to`} checked={choice.to === ''} onChange={() => patch({ to: '' })} /> The original place <span className="muted">(the target's own server)</span>
          </label>
          <label className="choice">
            <input type="radio" name={`${id}-to`} checked={choice.to !== ''} onChange={() => patch({ to: 'postgresql://' })} /> Another {choice.scope === 'all' ? 'server' : 'database'}
          </label>
          {choice.to !== '' && (
            <>
              <label htmlFor={`${id}-url`}>{choice.scope === 'all' ? 'Server URL (each database under its own name)' : 'Database URL'}</label>
              <input id={`${id}-url`} className="wide" value={choice.to} onChange={(e) => patch({ to: e.target.value || 'postgresql://' })} placeholder="postgresql://user@host:5432/database" autoComplete="off" />
            </>
          )}
        </fieldset>
      )}
    </>
  );
}

function TablePicker({ manifest, choice, patch }: { manifest: Manifest; choice: ScopeChoice; patch: (p: Partial<ScopeChoice>) => void }) {
  const id = useId();
  const [filter, setFilter] = useState('');
  const tables = manifest.postgres?.databases.find((d) => d.name === choice.database)?.tables ?? [];
  const shown = tables.filter((t) => `${t.schema}.${t.name}`.toLowerCase().includes(filter.trim().toLowerCase())).slice(0, 200);
  const toggle = (name: string, on: boolean) => patch({ tables: on ? [...choice.tables, name] : choice.tables.filter((t) => t !== name) });
  return (
    <>
      <fieldset>
        <legend>Tables ({choice.tables.length} chosen)</legend>
        <label htmlFor={`${id}-filter`}>Find a table</label>
        <input id={`${id}-filter`} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <ul className="pick-list">
          {shown.map((t) => {
            const name = `${t.schema}.${t.name}`;
            return (
              <li key={name}>
                <label className="inline">
                  <input type="checkbox" checked={choice.tables.includes(name)} onChange={(e) => toggle(name, e.target.checked)} /> <code>{name}</code>{' '}
                  <span className="muted small">{t.rows === null ? 'partitioned' : `${t.rows.toLocaleString()} rows`}</span>
                </label>
              </li>
            );
          })}
        </ul>
        {shown.length < tables.length && !filter && <p className="muted small">The first 200 are listed: type to find the others.</p>}
      </fieldset>
      <fieldset>
        <legend>How</legend>
        <label className="choice">
          <input type="radio" name={`${id}-mode`} checked={choice.mode === 'replace'} onChange={() => patch({ mode: 'replace' })} /> <strong>Replace</strong>{' '}
          <span className="muted">the live table's rows with the backup's (a safety backup of the database is taken first)</span>
        </label>
        <label className="choice">
          <input type="radio" name={`${id}-mode`} checked={choice.mode === 'beside'} disabled={choice.tables.length > 1} onChange={() => patch({ mode: 'beside', renameTo: choice.renameTo || (choice.tables[0] ? `${choice.tables[0].split('.').at(-1)}_restored` : '') })} />{' '}
          <strong>Beside, as …</strong> <span className="muted">a new table next to the live one, which is not touched (one table)</span>
        </label>
        {choice.mode === 'beside' && (
          <>
            <label htmlFor={`${id}-rename`}>New table name (same schema)</label>
            <input id={`${id}-rename`} value={choice.renameTo} onChange={(e) => patch({ renameTo: e.target.value })} autoComplete="off" />
          </>
        )}
      </fieldset>
    </>
  );
}

/** A tree of the backup's files with a checkbox per set, directory and file. */
function FilePicker({ manifest, choice, patch }: { manifest: Manifest; choice: ScopeChoice; patch: (p: Partial<ScopeChoice>) => void }) {
  const id = useId();
  const trees = useMemo(() => buildTrees(manifest.files), [manifest.files]);
  const toggle = (sel: string, on: boolean) => patch({ files: on ? [...choice.files, sel] : choice.files.filter((f) => f !== sel) });
  return (
    <>
      <fieldset>
        <legend>Files ({choice.files.length} chosen)</legend>
        <ul className="tree">
          {[...trees.values()].map((t) => (
            <PickNode key={t.name} set={t.name} node={t} chosen={choice.files} toggle={toggle} root />
          ))}
        </ul>
      </fieldset>
      <fieldset>
        <legend>Where to</legend>
        <label className="choice">
          <input type="radio" name={`${id}-dest`} checked={choice.toDir === ''} onChange={() => patch({ toDir: '' })} /> To their place <span className="muted">(what is there now is kept in a safety copy first)</span>
        </label>
        <label className="choice">
          <input type="radio" name={`${id}-dest`} checked={choice.toDir !== ''} onChange={() => patch({ toDir: '/' })} /> To a directory
        </label>
        {choice.toDir !== '' && (
          <>
            <label htmlFor={`${id}-dir`}>Directory</label>
            <input id={`${id}-dir`} className="wide" value={choice.toDir} onChange={(e) => patch({ toDir: e.target.value || '/' })} autoComplete="off" />
          </>
        )}
      </fieldset>
    </>
  );
}

function PickNode({ set, node, chosen, toggle, root }: { set: string; node: TreeNode; chosen: string[]; toggle: (sel: string, on: boolean) => void; root?: boolean }) {
  const [open, setOpen] = useState(false);
  const sel = root ? set : `${set}:${node.path}`;
  const on = chosen.includes(sel);
  const label = root ? `set ${set}` : node.name + (node.children.size ? '/' : '');
  const box = (
    <label className="inline">
      <input type="checkbox" checked={on} onChange={(e) => toggle(sel, e.target.checked)} /> {root ? <strong>{label}</strong> : <code>{label}</code>}
    </label>
  );
  if (node.children.size === 0) return <li className="leaf">{box}</li>;
  return (
    <li>
      <span className="tree-row">
        <button type="button" className="icon small" aria-expanded={open} onClick={() => setOpen(!open)}>
          <span aria-hidden="true">{open ? '▾' : '▸'}</span>
          <span className="sr-only">{open ? 'Close' : 'Open'} {label}</span>
        </button>
        {box}
      </span>
      {open && !on && (
        <ul>
          {[...node.children.values()].map((c) => (
            <PickNode key={c.name} set={set} node={c} chosen={chosen} toggle={toggle} />
          ))}
        </ul>
      )}
    </li>
  );
}
