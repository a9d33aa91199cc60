// Databases: each database of the backup, then its tables with rows, columns and their types;
// the search asks the API (GET /contents), the columns come from the manifest.
import { useInfiniteQuery } from '@tanstack/react-query';
import { useDeferredValue, useId, useState } from 'react';
import { api, unwrap } from '../../api/client.ts';
import { formatBytes } from '../../components/format.tsx';
import { EmptyState, Loading } from '../../components/page.tsx';
import { ProblemMessage } from '../../components/problem.tsx';
import { ScrollTable } from './scroll-table.tsx';
import type { Manifest, ManifestTable } from './manifest.ts';

interface TableEntry {
  name: string;
  database: string;
  schema: string;
  table: string;
  rows: number | null;
  columns: number;
  dataExcluded: boolean;
}

export function DatabasesTab({ backupId, manifest }: { backupId: string; manifest: Manifest }) {
  const dbs = manifest.postgres?.databases ?? [];
  const searchId = useId();
  const [text, setText] = useState('');
  const q = useDeferredValue(text.trim());
  const tables = useInfiniteQuery({
    queryKey: ['backups', 'contents', backupId, 'table', q],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) => unwrap(api.GET('/api/v1/backups/{id}/contents', { params: { path: { id: backupId }, query: { kind: 'table', q: q || undefined, limit: 100, cursor: pageParam } } })),
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    placeholderData: (prev) => prev,
  });
  if (dbs.length === 0) return <EmptyState title="This backup holds no database.">Its target backs up files only.</EmptyState>;
  const byKey = new Map<string, ManifestTable>();
  for (const d of dbs) for (const t of d.tables) byKey.set(`${d.name}\u0000${t.schema}.${t.name}`, t);
  const rows = (tables.data?.pages.flatMap((p) => p.items) ?? []) as unknown as TableEntry[];
  const total = tables.data?.pages[0]?.total;
  return (
    <>
      <ScrollTable label="Databases">
        <table aria-label="Databases">
          <thead>
            <tr>
              <th scope="col">Database</th>
              <th scope="col" className="num">Tables</th>
              <th scope="col" className="num">Size</th>
              <th scope="col" className="num">Dump</th>
              <th scope="col">Extensions</th>
            </tr>
          </thead>
          <tbody>
            {dbs.map((d) => (
              <tr key={d.name}>
                <td>{d.name}</td>
                <td className="num">{d.tables.length}</td>
                <td className="num">{formatBytes(d.sizeBytes)}</td>
                <td className="num">{formatBytes(d.dumpSize)}</td>
                <td>{d.extensions.map((e) => `${e.name} ${e.version}`).join(', ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollTable>
      <h2>Tables</h2>
      <div className="filters">
        <div>
          <label htmlFor={searchId}>Search tables</label>
          <input id={searchId} type="search" value={text} placeholder="name, schema or database" onChange={(e) => setText(e.target.value)} />
        </div>
        {total !== undefined && (
          <span className="muted" role="status">
            {total} table{total === 1 ? '' : 's'}
            {q ? ` match “${q}”` : ''}
          </span>
        )}
      </div>
      {tables.error && <ProblemMessage error={tables.error} />}
      {tables.isPending ? (
        <Loading what="tables" />
      ) : rows.length === 0 ? (
        <EmptyState title={q ? `No table matches “${q}”.` : 'No tables.'}>{q ? 'Try part of the name, or the schema.' : null}</EmptyState>
      ) : (
        <ul className="table-list">
          {rows.map((t) => (
            <TableItem key={`${t.database}.${t.name}`} t={t} detail={byKey.get(`${t.database}\u0000${t.name}`)} multi={dbs.length > 1} />
          ))}
        </ul>
      )}
      {tables.hasNextPage && (
        <button type="button" onClick={() => void tables.fetchNextPage()} disabled={tables.isFetchingNextPage}>
          Show more tables
        </button>
      )}
    </>
  );
}

function TableItem({ t, detail, multi }: { t: TableEntry; detail: ManifestTable | undefined; multi: boolean }) {
  return (
    <li>
      <details>
        <summary>
          <code>{t.name}</code>
          {multi && <span className="muted"> in {t.database}</span>} · {t.rows === null ? 'partitioned' : `${t.rows.toLocaleString()} rows`} · {t.columns} columns
          {t.dataExcluded && <span className="badge badge-neutral">schema only</span>}
          <span className="sr-only"> (show the columns of {t.name})</span>
        </summary>
        {detail ? (
          <table className="columns" aria-label={`Columns of ${t.name}`}>
            <thead>
              <tr>
                <th scope="col">Column</th>
                <th scope="col">Type</th>
                <th scope="col">Null</th>
              </tr>
            </thead>
            <tbody>
              {detail.columns.map((c) => (
                <tr key={c.name}>
                  <td>
                    <code>{c.name}</code>
                  </td>
                  <td>{c.type}</td>
                  <td>{c.nullable ? 'yes' : 'not null'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">The manifest does not describe its columns.</p>
        )}
      </details>
    </li>
  );
}
