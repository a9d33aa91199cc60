// The Backups list's filters and sort, kept in the address's query string so a filtered view can
// be bookmarked, shared and survives a reload.
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'wouter';
import { api, unwrap } from '../../api/client.ts';

/** What GET /api/v1/backups takes from the query string (strings as they stand in the URL). */
export interface ListFilters {
  target?: string;
  status?: 'running' | 'ok' | 'degraded' | 'failed' | 'deleted';
  verified?: 'none' | 'failed' | 'passed' | 'quick' | 'full';
  protected?: 'true' | 'false';
  pendingDeletion?: 'true' | 'false';
  from?: string;
  to?: string;
  sort?: 'startedAt' | 'size' | 'target';
  order?: 'asc' | 'desc';
}

const KEYS = ['target', 'status', 'verified', 'protected', 'pendingDeletion', 'from', 'to', 'sort', 'order'] as const;

/** The filters in the URL and a setter that rewrites them (an empty value removes the key). */
export function useListFilters(): [ListFilters, (change: Partial<Record<keyof ListFilters, string | undefined>>) => void] {
  const [params, setParams] = useSearchParams();
  const filters: Record<string, string> = {};
  for (const k of KEYS) {
    const v = params.get(k);
    if (v) filters[k] = v;
  }
  const set = (change: Partial<Record<keyof ListFilters, string | undefined>>) => {
    setParams((prev) => {
      const next = new URLSearchParams(prev);
      for (const [k, v] of Object.entries(change)) {
        if (v) next.set(k, v);
        else next.delete(k);
      }
      return next;
    });
  };
  return [filters as ListFilters, set];
}

/** A date input's day as the API's ISO bound: `from` at the day's start, `to` at the next day's, in the browser's zone. */
export function dayBound(day: string | undefined, end: boolean): string | undefined {
  if (!day) return undefined;
  const d = new Date(`${day}T00:00:00`);
  if (Number.isNaN(d.getTime())) return undefined;
  if (end) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

export function FilterBar({ filters, set }: { filters: ListFilters; set: ReturnType<typeof useListFilters>[1] }) {
  const targets = useQuery({ queryKey: ['targets'], queryFn: () => unwrap(api.GET('/api/v1/targets')) });
  const any = KEYS.some((k) => k !== 'sort' && k !== 'order' && filters[k]);
  return (
    <form className="filters" aria-label="Filter backups" onSubmit={(e) => e.preventDefault()}>
      <div>
        <label htmlFor="f-target">Target</label>
        <select id="f-target" value={filters.target ?? ''} onChange={(e) => set({ target: e.target.value })}>
          <option value="">all</option>
          {(targets.data?.items ?? []).filter((t) => !t.shadowed).map((t) => (
            <option key={t.name}>{t.name}</option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="f-status">Status</label>
        <select id="f-status" value={filters.status ?? ''} onChange={(e) => set({ status: e.target.value })}>
          <option value="">all but deleted</option>
          <option value="ok">ok</option>
          <option value="degraded">degraded</option>
          <option value="failed">failed</option>
          <option value="running">running</option>
          <option value="deleted">deleted</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-verified">Verified</label>
        <select id="f-verified" value={filters.verified ?? ''} onChange={(e) => set({ verified: e.target.value })}>
          <option value="">any</option>
          <option value="full">full (test restore)</option>
          <option value="quick">quick (checksums)</option>
          <option value="passed">passed, any level</option>
          <option value="failed">failed</option>
          <option value="none">never</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-protected">Protected</label>
        <select id="f-protected" value={filters.protected ?? ''} onChange={(e) => set({ protected: e.target.value })}>
          <option value="">any</option>
          <option value="true">protected</option>
          <option value="false">not protected</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-pending">Deletion</label>
        <select id="f-pending" value={filters.pendingDeletion ?? ''} onChange={(e) => set({ pendingDeletion: e.target.value })}>
          <option value="">any</option>
          <option value="true">pending deletion</option>
          <option value="false">not pending</option>
        </select>
      </div>
      <div>
        <label htmlFor="f-from">From</label>
        <input id="f-from" type="date" value={filters.from ?? ''} onChange={(e) => set({ from: e.target.value })} />
      </div>
      <div>
        <label htmlFor="f-to">To</label>
        <input id="f-to" type="date" value={filters.to ?? ''} onChange={(e) => set({ to: e.target.value })} />
      </div>
      <div>
        <label htmlFor="f-sort">Sort</label>
        <select
          id="f-sort"
          value={`${filters.sort ?? 'startedAt'}:${filters.order ?? 'desc'}`}
          onChange={(e) => {
            const [sort, order] = e.target.value.split(':');
            set({ sort: sort === 'startedAt' ? undefined : sort, order: order === 'desc' ? undefined : order });
          }}
        >
          <option value="startedAt:desc">newest first</option>
          <option value="startedAt:asc">oldest first</option>
          <option value="size:desc">largest first</option>
          <option value="size:asc">smallest first</option>
          <option value="target:asc">target A–Z</option>
          <option value="target:desc">target Z–A</option>
        </select>
      </div>
      {any && (
        <button type="button" onClick={() => set(Object.fromEntries(KEYS.filter((k) => k !== 'sort' && k !== 'order').map((k) => [k, undefined])))}>
          Clear filters
        </button>
      )}
    </form>
  );
}
