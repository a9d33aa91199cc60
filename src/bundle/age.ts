import { createRequire } from 'node:module';

type AgeModule = typeof import('age-encryption');

let loaded: AgeModule | undefined;

/**
 * The age library, loaded on first use: it adds ~20 MB to the process (post-quantum key
 * tables), which backups without encryption should not pay. require() of an ES module is
 * synchronous in Node 24, so config validation can stay synchronous too.
 */
export function age(): AgeModule {
  loaded ??= createRequire(import.meta.url)('age-encryption') as AgeModule;
  return loaded;
}
