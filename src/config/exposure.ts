import { statSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from './load.ts';

/**
 * One warning per directory holding Lifeboat's data that other users can read: the home (the
 * catalog, the key file) and each local storage (bundles hold database contents and `.env`
 * files). A directory counts only when others can also reach it: one under a private parent
 * (/root, a 0700 home) is not exposed whatever its own mode.
 */
export function exposureWarnings(loaded: LoadedConfig): string[] {
  const warnings: string[] = [];
  const home = exposedMode(loaded.home);
  if (home) warnings.push(`the Lifeboat home ${loaded.home} is readable by other users (mode ${home}); it holds the catalog and keys: chmod 700 ${loaded.home}`);
  for (const [name, s] of Object.entries(loaded.config.storages)) {
    if (s.type !== 'local') continue;
    const mode = exposedMode(s.path);
    if (mode) warnings.push(`storage "${name}": ${s.path} is readable by other users (mode ${mode}); bundles hold database contents and secrets: chmod 700 ${s.path}`);
  }
  return warnings;
}

/** The directory's mode as `0755` when others can list it and reach it, else undefined. */
function exposedMode(dir: string): string | undefined {
  let mode: number;
  try {
    const s = statSync(dir);
    if (!s.isDirectory()) return undefined;
    mode = s.mode & 0o7777;
  } catch {
    return undefined;
  }
  if ((mode & 0o004) === 0) return undefined;
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    try {
      if ((statSync(parent).mode & 0o001) === 0) return undefined;
    } catch {
      return undefined;
    }
    if (parent === path.dirname(parent)) break;
  }
  return `0${mode.toString(8)}`;
}
