import type { Catalog } from '../catalog/catalog.ts';
import type { ConfigObjectRecord, ObjectKind } from '../catalog/objects.ts';
import { LifeboatError } from '../errors.ts';
import type { LoadedConfig } from './load.ts';
import { fileObjects, objectProblems, refreshObjects } from './objects-merge.ts';
import { isSecretPlace, openSecrets, publicView, sealSecrets, SET } from './objects-secrets.ts';
import { isMapping, SECTION, validateObject } from './objects-validate.ts';
import { secretBox, type SecretBox } from './secret-box.ts';

export { effectiveConfig, objectProblems, refreshObjects, OBJECT_KINDS, type ObjectProblem } from './objects-merge.ts';
export type { ObjectKind } from '../catalog/objects.ts';
export { testObject, type ObjectTestReport, type ProbeCheck } from './objects-probe.ts';
export { objectSchema } from './objects-validate.ts';

/**
 * Targets, storages and notification channels as the API and the CLI list them: from
 * lifeboat.yaml (`source: file`, read-only here: the file is edited by hand) or created over
 * the API (`source: api`, kept in the catalog with their secrets sealed). Either way they behave
 * the same, and a view never holds a secret: each one that has a value reads `"set"`.
 */
export interface ConfigObjectView {
  kind: ObjectKind;
  name: string;
  source: 'file' | 'api';
  /** The object's keys with defaults applied, as in lifeboat.yaml; secrets `"set"`. */
  config: Record<string, unknown>;
  /** API objects only: lifeboat.yaml has an object of that name, in effect instead of this one. */
  shadowed?: boolean;
  /** API objects only: why this one is not in effect (it no longer validates). */
  problem?: string;
  /** API objects only: when and by whom it was created and last changed. */
  createdAt?: string;
  updatedAt?: string;
  createdBy?: string;
  updatedBy?: string;
}

/** What removing an object may also do. */
export interface RemoveOptions {
  /**
   * Remove a target that has backups, or a storage that holds some. Their bundles stay in
   * storage and their records in the catalog (restorable with `--to`, found by a rebuild); the
   * catalog only forgets how to make new ones. A storage a target still names is never removed.
   */
  force?: boolean;
}

/** Every object of a kind: the file's, then the catalog's (shadowed and invalid ones included, and said). */
export function listObjects(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind): ConfigObjectView[] {
  refreshObjects(loaded, catalog);
  const fromFile = Object.entries(fileObjects(loaded, kind)).map(([name, config]) => fileView(loaded, kind, name, config));
  const fromApi = catalog.listConfigObjects(kind).map((r) => apiView(loaded, r));
  return [...fromFile, ...fromApi].sort((a, b) => a.name.localeCompare(b.name) || (a.source === 'file' ? -1 : 1));
}

/** The object in effect under that name (the file's when both have it); E_NOT_FOUND without one. */
export function getObject(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind, name: string): ConfigObjectView {
  refreshObjects(loaded, catalog);
  const inFile = fileObjects(loaded, kind)[name];
  if (inFile) return fileView(loaded, kind, name, inFile);
  const r = catalog.getConfigObject(kind, name);
  if (!r) throw notFound(loaded, kind, name);
  return apiView(loaded, r);
}

/**
 * Creates an object in the catalog from `body`, the keys lifeboat.yaml takes for it, validated
 * the same way (E_CONFIG with one line per problem). A name the file or the catalog already has
 * is refused (E_CONFLICT). Secrets are sealed before they are stored; the first one creates
 * the key file when LIFEBOAT_SECRET_KEY is not set. `actor` is recorded as its creator.
 */
export function createObject(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind, name: string, body: unknown, actor: string): ConfigObjectView {
  refreshObjects(loaded, catalog);
  if (fileObjects(loaded, kind)[name]) {
    throw new LifeboatError('E_CONFLICT', `a ${kind} named "${name}" is defined in ${loaded.file}`, { hint: 'choose another name: names in lifeboat.yaml belong to the file' });
  }
  if (catalog.getConfigObject(kind, name)) throw new LifeboatError('E_CONFLICT', `a ${kind} named "${name}" exists already`, { hint: 'update it instead, or choose another name' });
  const written = requireMapping(kind, name, body);
  refuseShownSecrets(kind, name, written);
  validateObject(loaded, kind, name, written, loaded.config.storages);
  catalog.insertConfigObject(kind, name, sealSecrets(kind, name, written, sealingBox(loaded)) as Record<string, unknown>, actor);
  refreshObjects(loaded, catalog);
  return getObject(loaded, catalog, kind, name);
}

/**
 * Changes an object created over the API. `patch` is a JSON merge patch (RFC 7396) over the
 * object as written: a key given replaces its value (mappings are merged key by key), a key set
 * to null is removed, a key left out keeps its value. A secret is one value: left out it keeps
 * what is stored, null removes it, a string replaces it; `"set"` (what views show) is refused,
 * so a form sent back unchanged cannot store it as a password. A new `type` starts the object
 * afresh from the patch. Objects from lifeboat.yaml are refused (E_CONFLICT: edit the file).
 */
export function updateObject(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind, name: string, patch: unknown, actor: string): ConfigObjectView {
  refreshObjects(loaded, catalog);
  if (fileObjects(loaded, kind)[name]) throw fileOwned(loaded, kind, name);
  const r = catalog.getConfigObject(kind, name);
  if (!r) throw notFound(loaded, kind, name);
  const changes = requireMapping(kind, name, patch);
  refuseShownSecrets(kind, name, changes);
  const current = openSecrets(kind, name, r.config, () => secretBox(loaded.home, { create: false })) as Record<string, unknown>;
  const next = changes.type !== undefined && changes.type !== current.type ? mergePatch({}, changes, []) : mergePatch(current, changes, []);
  validateObject(loaded, kind, name, next, loaded.config.storages);
  catalog.updateConfigObject(kind, name, sealSecrets(kind, name, next, sealingBox(loaded)) as Record<string, unknown>, actor, r.updatedAt);
  refreshObjects(loaded, catalog);
  return getObject(loaded, catalog, kind, name);
}

/**
 * Removes an object created over the API (a shadowed one too: that is how its warning goes).
 * Refused with E_CONFLICT: an object from lifeboat.yaml; a storage a target names; without
 * `force`, a target with backups or a storage holding some. A removed target's schedules go
 * with it.
 */
export function removeObject(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind, name: string, options: RemoveOptions = {}): void {
  refreshObjects(loaded, catalog);
  const inFile = !!fileObjects(loaded, kind)[name];
  const r = catalog.getConfigObject(kind, name);
  if (!r) throw inFile ? fileOwned(loaded, kind, name) : notFound(loaded, kind, name);
  if (!inFile && kind === 'storage') {
    const users = Object.entries(loaded.config.targets).filter(([, t]) => t.storage.primary === name || t.storage.replicas.includes(name)).map(([t]) => t);
    if (users.length) {
      throw new LifeboatError('E_CONFLICT', `storage "${name}" is used by target(s) ${users.join(', ')}`, { hint: 'point those targets at another storage (or remove them) first' });
    }
    const held = catalog.listBackups().filter((b) => b.deletionStatus !== 'deleted' && b.locations.some((l) => l.storage === name && l.status === 'ok')).length;
    if (held && !options.force) {
      throw new LifeboatError('E_CONFLICT', `storage "${name}" holds ${held} backup(s) the catalog knows`, { hint: 'remove it anyway with force: the bundles stay there, but Lifeboat can no longer read them until a storage of that name is configured again' });
    }
  }
  if (!inFile && kind === 'target') {
    const backups = catalog.listBackups(name).filter((b) => b.deletionStatus !== 'deleted' && b.status !== 'failed').length;
    if (backups && !options.force) {
      throw new LifeboatError('E_CONFLICT', `target "${name}" has ${backups} backup(s)`, { hint: 'remove it anyway with force: its backups stay in storage and in the catalog (restorable with --to), but no new ones are made' });
    }
    for (const s of catalog.listSchedules().filter((x) => x.target === name && x.configKey === null)) catalog.removeSchedule(s.id);
  }
  catalog.deleteConfigObject(kind, name);
  refreshObjects(loaded, catalog);
}

function fileView(loaded: LoadedConfig, kind: ObjectKind, name: string, config: unknown): ConfigObjectView {
  const prefix = `${SECTION[kind]}.${name}.`;
  const indirect = new Set((loaded.indirect ?? []).filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length)));
  return { kind, name, source: 'file', config: publicView(config, indirect) };
}

function apiView(loaded: LoadedConfig, r: ConfigObjectRecord): ConfigObjectView {
  const problem = objectProblems(loaded).find((p) => p.kind === r.kind && p.name === r.name);
  // In effect: the validated object (defaults applied); otherwise as stored, sealed secrets shown as set.
  const effective = problem ? undefined : (loaded.config[SECTION[r.kind]] as Record<string, unknown> | undefined)?.[r.name];
  const view: ConfigObjectView = { kind: r.kind, name: r.name, source: 'api', config: publicView(effective ?? r.config) };
  if (problem?.reason === 'shadowed') view.shadowed = true;
  if (problem?.reason === 'invalid') view.problem = problem.message;
  return { ...view, createdAt: r.createdAt, updatedAt: r.updatedAt, createdBy: r.createdBy, updatedBy: r.updatedBy };
}

/** The box secrets are sealed with, created (with its key file) only when a secret is sealed. */
function sealingBox(loaded: LoadedConfig): () => SecretBox {
  let box: SecretBox | undefined;
  return () => (box ??= secretBox(loaded.home, { create: true }));
}

function requireMapping(kind: ObjectKind, name: string, body: unknown): Record<string, unknown> {
  if (!isMapping(body)) throw new LifeboatError('E_CONFIG', `${kind} "${name}": expected a mapping of its keys, got ${Array.isArray(body) ? 'a list' : body === null ? 'an empty value' : typeof body}`);
  return body;
}

/** `"set"` is what views show for a secret: taken as a value, a form sent back would store it. */
function refuseShownSecrets(kind: ObjectKind, name: string, body: unknown, keyPath: PropertyKey[] = []): void {
  if (keyPath.length && isSecretPlace(keyPath) && body === SET) {
    throw new LifeboatError('E_CONFIG', `${kind} "${name}": ${keyPath.join('.')}: "set" stands for a stored secret in views, it is not one`, {
      hint: 'leave the key out to keep the stored secret, give the new secret, or null to remove it',
    });
  }
  if (isMapping(body)) for (const [k, v] of Object.entries(body)) refuseShownSecrets(kind, name, v, [...keyPath, k]);
}

/** RFC 7396, with secrets replaced whole (a webhook's headers are one secret). */
function mergePatch(current: Record<string, unknown>, patch: Record<string, unknown>, keyPath: PropertyKey[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    const at = [...keyPath, k];
    if (v === null) delete out[k];
    else if (isMapping(v) && isMapping(out[k]) && !isSecretPlace(at)) out[k] = mergePatch(out[k], v, at);
    else if (isMapping(v)) out[k] = mergePatch({}, v, at);
    else out[k] = v;
  }
  return out;
}

function fileOwned(loaded: LoadedConfig, kind: ObjectKind, name: string): LifeboatError {
  return new LifeboatError('E_CONFLICT', `${kind} "${name}" is defined in ${loaded.file}: objects from the file are read-only here`, {
    hint: `edit ${loaded.file} to change it`,
  });
}

function notFound(loaded: LoadedConfig, kind: ObjectKind, name: string): LifeboatError {
  const names = Object.keys((loaded.config[SECTION[kind]] as Record<string, unknown> | undefined) ?? {});
  return new LifeboatError('E_NOT_FOUND', `no ${kind} named "${name}"`, { hint: names.length ? `${kind}s: ${names.join(', ')}` : `none is configured` });
}
