// The reads several of these screens share, under one query key each, so the dashboard, the
// retention page and the schedules page never ask twice for the same thing.
import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client.ts';
import type { ConfigObject, DaemonStatus, StorageUsage, TargetHealth } from './types.ts';

export type TargetWithHealth = ConfigObject & { health?: TargetHealth | null };
export type StorageWithUsage = ConfigObject & { usage?: StorageUsage | null };

/** Every target with its health (GET /api/v1/targets), the file's and the API's. */
export function useTargets() {
  return useQuery({
    queryKey: ['targets'],
    // The cache holds the API's answer as it is (other screens read it under the same key).
    queryFn: () => unwrap(api.GET('/api/v1/targets')),
    select: (answer) => answer.items as TargetWithHealth[],
  });
}

export function useStorages() {
  return useQuery({
    queryKey: ['storages'],
    queryFn: () => unwrap(api.GET('/api/v1/storages')),
    select: (answer) => answer.items as StorageWithUsage[],
  });
}

/** The daemon and the jobs running now; asked again every few seconds while any run. */
export function useStatus() {
  return useQuery({
    queryKey: ['status'],
    queryFn: async () => (await unwrap(api.GET('/api/v1/status'))) as unknown as DaemonStatus,
    refetchInterval: (q) => ((q.state.data?.running.length ?? 0) > 0 ? 3_000 : 30_000),
  });
}

/** Targets in effect: a catalog copy shadowed by the file's, or one that no longer validates, is left out. */
export function inEffect<T extends ConfigObject>(items: T[] | undefined): T[] {
  return (items ?? []).filter((t) => !t.shadowed && !t.problem);
}
