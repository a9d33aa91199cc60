import { readFileSync } from 'node:fs';
import { LifeboatError } from '../errors.ts';

/** Where a key sits in the file, as an error names it: `lifeboat.yaml:7:12: targets.app.postgres.url`. */
export type Where = (keyPath: readonly PropertyKey[]) => string;

/**
 * A value whose `${VAR}` could not be resolved when the file was loaded (the variable is unset,
 * or its `VAR_FILE` cannot be read). Only a command that reads the value fails, with `error`:
 * `lifeboat list` needs no database password, `lifeboat backup` does.
 */
export interface Unresolved {
  keyPath: PropertyKey[];
  /** The error reading the value raises, naming the key and the variable. */
  error: LifeboatError;
  /** What stands in for the value until validation is done: valid for a string, a URL or a secret. */
  placeholder: string;
}

/** Valid wherever a secret or a URL is expected, and impossible to mistake for a real value. */
const PLACEHOLDER = 'https://unresolved.lifeboat.invalid/';

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string. `VAR_FILE` (the Docker secrets
 * convention) names a file whose content stands in for an unset VAR, so secrets stay out of
 * both the config file and the environment. A string that cannot be resolved becomes a
 * placeholder and is listed in `unresolved`: whether that is an error depends on who reads it.
 */
export function interpolate(value: unknown, keyPath: PropertyKey[], env: NodeJS.ProcessEnv, where: Where, unresolved: Unresolved[]): unknown {
  if (typeof value === 'string') {
    try {
      return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => resolveVariable(name, fallback, env, () => where(keyPath)));
    } catch (err) {
      const placeholder = `${PLACEHOLDER}${unresolved.length}`;
      unresolved.push({ keyPath, error: err as LifeboatError, placeholder });
      return placeholder;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...keyPath, i], env, where, unresolved));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, [...keyPath, k], env, where, unresolved)]));
  }
  return value;
}

function resolveVariable(name: string, fallback: string | undefined, env: NodeJS.ProcessEnv, where: () => string): string {
  const direct = env[name];
  if (direct !== undefined) return direct;
  const fromFile = env[`${name}_FILE`];
  if (fromFile !== undefined) {
    try {
      return readFileSync(fromFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new LifeboatError('E_CONFIG', `${where()}: cannot read ${name}_FILE=${fromFile}: ${(err as Error).message}`, {
        hint: `make ${fromFile} readable by the user running lifeboat, or set ${name}`,
      });
    }
  }
  if (fallback !== undefined) return fallback;
  throw new LifeboatError('E_CONFIG', `${where()}: environment variable ${name} is not set`, {
    hint: `set ${name} (or ${name}_FILE, a file holding its value), or write \${${name}:-default}`,
  });
}

/** The objects holding deferred values, and which of their keys are deferred. */
const deferredKeys = new WeakMap<object, Map<PropertyKey, Unresolved>>();

/**
 * Turns each unresolved value of the validated config into a property that throws its error
 * when read, so the first command that needs it fails with the variable's name, and the others
 * never notice. A value that validation moved or that the schema needed (a name, a number) is
 * an error now. Objects holding one serialize it as `(unresolved)` rather than throwing.
 */
export function deferUnresolved(config: object, unresolved: readonly Unresolved[]): void {
  for (const u of unresolved) {
    const parent = getIn(config, u.keyPath.slice(0, -1));
    const key = u.keyPath.at(-1)!;
    // Only a property of a mapping waits for its reader; in a list (or moved by validation) it fails now.
    if (!parent || typeof parent !== 'object' || Array.isArray(parent) || (parent as Record<PropertyKey, unknown>)[key] !== u.placeholder) throw u.error;
    Object.defineProperty(parent, key, {
      enumerable: true,
      configurable: true,
      get() {
        throw u.error;
      },
    });
    let keys = deferredKeys.get(parent);
    if (!keys) {
      keys = new Map();
      deferredKeys.set(parent, keys);
      // Records of a config (the catalog's copy of a target) must not fail on a value nobody reads.
      Object.defineProperty(parent, 'toJSON', { enumerable: false, value: () => jsonCopy(parent) });
    }
    keys.set(key, u);
  }
  // A placeholder anywhere else was copied by validation: its reader would not get the error.
  const stray = findPlaceholder(config);
  if (stray !== undefined) throw (unresolved.find((u) => stray.includes(u.placeholder)) ?? unresolved[0])!.error;
}

/** True when `object[key]` is a value that could not be resolved (reading it throws). */
export function isUnresolved(object: object, key: PropertyKey): boolean {
  return deferredKeys.get(object)?.has(key) ?? false;
}

function jsonCopy(object: object): Record<string, unknown> {
  const keys = deferredKeys.get(object);
  const copy: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(object))) {
    if (!d.enumerable) continue;
    copy[k] = keys?.has(k) ? '(unresolved)' : d.value;
  }
  return copy;
}

function findPlaceholder(value: unknown): string | undefined {
  if (typeof value === 'string') return value.includes(PLACEHOLDER) ? value : undefined;
  if (!value || typeof value !== 'object') return undefined;
  for (const d of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if (!('value' in d)) continue;
    const found = findPlaceholder(d.value);
    if (found !== undefined) return found;
  }
  return undefined;
}

export function getIn(value: unknown, keyPath: readonly PropertyKey[]): unknown {
  let cur = value;
  for (const key of keyPath) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
