import type { Catalog } from '../catalog/catalog.ts';
import type { ObjectKind } from '../catalog/objects.ts';
import { asLifeboatError } from '../errors.ts';
import type { LoadedConfig } from './load.ts';
import { openSecrets } from './objects-secrets.ts';
import { missingStorages, SECTION, validateObject } from './objects-validate.ts';
import type { Config, TargetConfig } from './schema.ts';
import { isKeyProblem, secretBox, type SecretBox } from './secret-box.ts';

/** The kinds in the order they are merged: targets name storages. */
export const OBJECT_KINDS: readonly ObjectKind[] = ['storage', 'target', 'channel'];

/** A catalog object that is not in effect, and why. */
export interface ObjectProblem {
  kind: ObjectKind;
  name: string;
  /** `shadowed`: lifeboat.yaml has an object of that name, which wins; `invalid`: it no longer validates. */
  reason: 'shadowed' | 'invalid';
  /** What is wrong, one line per problem. */
  message: string;
}

type Sections = Pick<Config, 'storages' | 'targets' | 'notifications'>;

interface ObjectsState {
  /** The file's own sections, as loaded: what API objects are merged into at each refresh. */
  file: Sections;
  problems: ObjectProblem[];
  /** API objects in effect, by `kind/name`. */
  api: Set<string>;
  /** Each API object validated, by `kind/name`, with the version it was validated at. */
  validated: Map<string, { updatedAt: string; config: unknown }>;
}

/** Kept beside each LoadedConfig that objects were merged into, not in it: copies stay plain. */
const states = new WeakMap<LoadedConfig, ObjectsState>();

function sectionsOf(config: Config): Sections {
  return { storages: config.storages, targets: config.targets, notifications: config.notifications };
}

function stateOf(loaded: LoadedConfig): ObjectsState {
  let state = states.get(loaded);
  if (!state) {
    state = { file: sectionsOf(loaded.config), problems: [], api: new Set(), validated: new Map() };
    states.set(loaded, state);
  }
  return state;
}

/**
 * The file's configuration plus the targets, storages and channels created over the API, opened
 * and validated by the same schemas as the file's (objects-validate.ts). A name the file has
 * belongs to the file: a catalog object of that name is left out, as is one that no longer
 * validates (a storage it names was removed from the file); `objectProblems` says which and
 * why, for `lifeboat config check` and the listings. A key that cannot open the secrets is an
 * error (E_CONFIG) naming what to do: it concerns every object, not one.
 */
export function effectiveConfig(loaded: LoadedConfig, catalog: Catalog): LoadedConfig {
  const file = states.get(loaded)?.file ?? sectionsOf(loaded.config);
  const merged: LoadedConfig = { ...loaded, config: { ...loaded.config } };
  states.set(merged, { file, problems: [], api: new Set(), validated: new Map() });
  refreshObjects(merged, catalog);
  return merged;
}

/**
 * Brings `loaded` up to date with the catalog's objects, in place, so that everything holding it
 * (the daemon's scheduler, the API's routes in the same process) sees an object as soon as it
 * is created, changed or removed. An object is validated again only when it changed.
 */
export function refreshObjects(loaded: LoadedConfig, catalog: Catalog): void {
  const state = stateOf(loaded);
  let box: SecretBox | undefined;
  const openBox = () => (box ??= secretBox(loaded.home, { create: false }));
  const records = catalog.listConfigObjects();
  const next: Required<Sections> = {
    storages: { ...state.file.storages },
    targets: { ...state.file.targets },
    notifications: { ...(state.file.notifications ?? {}) },
  };
  const problems: ObjectProblem[] = [];
  const api = new Set<string>();
  for (const kind of OBJECT_KINDS) {
    const section = SECTION[kind];
    const into = next[section] as Record<string, unknown>;
    for (const r of records.filter((x) => x.kind === kind)) {
      const key = `${kind}/${r.name}`;
      if ((state.file[section] ?? {})[r.name]) {
        problems.push({ kind, name: r.name, reason: 'shadowed', message: `${kind} "${r.name}" created over the API is hidden by the ${kind} of that name in ${loaded.file}, which wins: remove one of them` });
        continue;
      }
      let entry = state.validated.get(key);
      if (entry?.updatedAt !== r.updatedAt) {
        try {
          entry = { updatedAt: r.updatedAt, config: validateObject(loaded, kind, r.name, openSecrets(kind, r.name, r.config, openBox), next.storages) };
          state.validated.set(key, entry);
        } catch (err) {
          if (isKeyProblem(err)) throw err;
          state.validated.delete(key);
          problems.push({ kind, name: r.name, reason: 'invalid', message: asLifeboatError(err).message });
          continue;
        }
      } else if (kind === 'target') {
        const missing = missingStorages(entry.config as TargetConfig, next.storages);
        if (missing.length) {
          problems.push({ kind, name: r.name, reason: 'invalid', message: `target "${r.name}": no storage named "${missing[0]}"; configured storages: ${Object.keys(next.storages).join(', ') || 'none'}` });
          continue;
        }
      }
      into[r.name] = entry.config;
      api.add(key);
    }
  }
  for (const key of state.validated.keys()) if (!records.some((r) => `${r.kind}/${r.name}` === key)) state.validated.delete(key);
  loaded.config.storages = next.storages;
  loaded.config.targets = next.targets;
  loaded.config.notifications = state.file.notifications || Object.keys(next.notifications).length ? next.notifications : undefined;
  state.problems = problems;
  state.api = api;
}

/**
 * A string that changes whenever the API objects in effect change (one is created, changed or
 * removed): what the daemon compares to know when to seed schedules again.
 */
export function objectsVersion(loaded: LoadedConfig): string {
  const state = states.get(loaded);
  if (!state) return '';
  return [...state.api].sort().map((key) => `${key}@${state.validated.get(key)?.updatedAt ?? ''}`).join(',');
}

/** The catalog objects left out at the last refresh: shadowed by the file, or invalid. */
export function objectProblems(loaded: LoadedConfig): ObjectProblem[] {
  return states.get(loaded)?.problems ?? [];
}

/** The file's own objects of a kind (without the catalog's), by name. */
export function fileObjects(loaded: LoadedConfig, kind: ObjectKind): Record<string, unknown> {
  const file = states.get(loaded)?.file ?? sectionsOf(loaded.config);
  return file[SECTION[kind]] ?? {};
}

/** Where the object in effect under that name comes from, if there is one. */
export function sourceOf(loaded: LoadedConfig, kind: ObjectKind, name: string): 'file' | 'api' | undefined {
  if (fileObjects(loaded, kind)[name]) return 'file';
  return states.get(loaded)?.api.has(`${kind}/${name}`) ? 'api' : undefined;
}
