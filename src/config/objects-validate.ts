import path from 'node:path';
import type { ObjectKind } from '../catalog/objects.ts';
import { LifeboatError } from '../errors.ts';
import { checkReferences, describeIssue, type LoadedConfig } from './load.ts';
import { checkPaths } from './paths.ts';
import { configSchema, storageSchema, targetSchema, type ChannelConfig, type Config, type StorageConfig, type TargetConfig } from './schema.ts';

/** The section of lifeboat.yaml each kind of object lives in. */
export const SECTION = { target: 'targets', storage: 'storages', channel: 'notifications' } as const satisfies Record<ObjectKind, keyof Config>;

/** A validated object of each kind, as the rest of Lifeboat reads it from `loaded.config`. */
export type ObjectConfig<K extends ObjectKind> = K extends 'target' ? TargetConfig : K extends 'storage' ? StorageConfig : ChannelConfig;

/**
 * The zod schema of one object's body, as lifeboat.yaml takes it under its section: for the
 * API's OpenAPI document. Validation itself goes through `validateObject`, which adds the
 * file's path and reference checks.
 */
export function objectSchema(kind: ObjectKind) {
  if (kind === 'channel') return configSchema.shape.notifications.unwrap().valueType;
  return kind === 'target' ? targetSchema : storageSchema;
}

/**
 * `storage "nas": path` for a key path inside an object (or inside its section, as the loader's
 * helpers name them: `storages.nas.path`): the same `<where>: <what>` shape as the file's
 * messages, with the object in place of `lifeboat.yaml:line:col`.
 */
function whereIn(kind: ObjectKind, name: string): (keyPath: readonly PropertyKey[]) => string {
  return (keyPath) => {
    const inside = keyPath[0] === SECTION[kind] ? keyPath.slice(2) : keyPath.slice(1);
    return inside.length ? `${kind} "${name}": ${inside.map(String).join('.')}` : `${kind} "${name}"`;
  };
}

/**
 * Validates an object created over the API exactly as the file's would be: the same zod schema
 * (so an unknown key is an error, with the same message), the same path rules (relative paths
 * read against the config file's directory, no kernel file systems, key files readable now) and
 * the same references (a target's storages exist among `storages`, file's and catalog's). Values
 * are taken literally: `${VAR}` is not expanded, so a caller of the API cannot read the
 * server's environment through an object. E_CONFIG on the first problem (each issue a line).
 */
export function validateObject<K extends ObjectKind>(
  loaded: LoadedConfig,
  kind: K,
  name: string,
  body: unknown,
  storages: Config['storages'],
): ObjectConfig<K> {
  const where = whereIn(kind, name);
  const section = SECTION[kind];
  const raw = { [name]: body };
  const schema = kind === 'channel' ? configSchema.shape.notifications.unwrap() : configSchema.shape[section as 'targets' | 'storages'];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new LifeboatError('E_CONFIG', parsed.error.issues.map((issue) => describeIssue(issue, raw, where)).join('\n'), {
      hint: 'README.md ("Configuration") lists every key; the API takes the same keys as lifeboat.yaml',
    });
  }
  const object = (parsed.data as Record<string, unknown>)[name] as ObjectConfig<K>;
  const dir = path.dirname(loaded.file);
  const config = { storages: {}, targets: {}, [section]: { [name]: object } } as unknown as Config;
  if (kind === 'storage' && (object as StorageConfig).type === 'local') {
    const local = object as Extract<StorageConfig, { type: 'local' }>;
    local.path = path.resolve(dir, local.path);
  }
  if (kind === 'target') checkReferences({ ...config, storages }, where);
  checkPaths(config, { dir, home: loaded.home, where, env: process.env, raw: { [section]: raw } });
  return object;
}

/** The target's storages that are not among `storages`: a reference a removal or a file edit broke. */
export function missingStorages(target: TargetConfig, storages: Config['storages']): string[] {
  return [target.storage.primary, ...target.storage.replicas].filter((s) => !storages[s]);
}

/** True when `value` is a mapping (what a body of an object must be). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}
