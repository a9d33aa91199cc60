// Targets, storages and channels through one set of routes (/api/v1/{targets,storages,channels}):
// the queries and changes every config screen shares.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap, type Schema } from '../../api/client.ts';

export type ObjectKind = 'target' | 'storage' | 'channel';
/** A listed object; targets carry their health, storages their space. */
export type ConfigObject = Schema<'ConfigObject'> & { health?: Schema<'TargetHealth'> | null; usage?: Schema<'StorageUsage'> | null };
/** What a test answered: each check, and for storages and channels the full report. */
export type TestReport = Schema<'ObjectTestReport'>;

/** The value a view shows for a secret that has one. */
export const SET = 'set';

export const PLURAL: Record<ObjectKind, 'targets' | 'storages' | 'channels'> = { target: 'targets', storage: 'storages', channel: 'channels' };

export function useObjects(kind: ObjectKind) {
  return useQuery({
    queryKey: [PLURAL[kind]],
    // The cache holds the API's answer as it is: other screens read it under the same key.
    queryFn: () => unwrap(api.GET(`/api/v1/${PLURAL[kind]}`)),
    select: (answer) => answer.items as ConfigObject[],
  });
}

export function useObject(kind: ObjectKind, name: string) {
  return useQuery({
    queryKey: [PLURAL[kind], name],
    queryFn: () => unwrap(api.GET(`/api/v1/${PLURAL[kind]}/{name}`, { params: { path: { name } } })) as Promise<ConfigObject>,
  });
}

/** Create (no `existing`) or merge-patch an API object; lists and the object are read again after. */
export function useSaveObject(kind: ObjectKind) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, config, existing }: { name: string; config: Record<string, unknown>; existing: boolean }) =>
      existing
        ? (unwrap(api.PATCH(`/api/v1/${PLURAL[kind]}/{name}`, { params: { path: { name } }, body: config })) as Promise<ConfigObject>)
        : (unwrap(api.POST(`/api/v1/${PLURAL[kind]}`, { body: { name, config } })) as Promise<ConfigObject>),
    onSuccess: () => client.invalidateQueries({ queryKey: [PLURAL[kind]] }),
  });
}

export function testObject(kind: ObjectKind, name: string): Promise<TestReport> {
  return unwrap(api.POST(`/api/v1/${PLURAL[kind]}/{name}/test`, { params: { path: { name } } }));
}

export function removeObject(kind: ObjectKind, name: string, force: boolean) {
  return unwrap(api.DELETE(`/api/v1/${PLURAL[kind]}/{name}`, { params: { path: { name }, query: force ? { force: 'true' } : {} } }));
}

/** A nested value of an object's config, e.g. at(config, 'postgres', 'databases'). */
export function at(config: Record<string, unknown>, ...keys: string[]): unknown {
  let v: unknown = config;
  for (const k of keys) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

export function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}
