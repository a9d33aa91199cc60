import { Command } from 'commander';
import { Catalog } from '../catalog/catalog.ts';
import { exposureWarnings } from '../config/exposure.ts';
import { configPath, loadConfig, type LoadedConfig } from '../config/load.ts';
import { effectiveConfig, objectProblems } from '../config/objects-merge.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { reapLeaked, reapSummary } from '../jobs/resources.ts';
import { flushNotifications } from '../notify/deliver.ts';
import { emit } from './output.ts';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  /** Nothing printed on success (output.ts holds it back). */
  quiet?: boolean;
}

/**
 * Loads config and catalog for a command, and closes the catalog afterwards. Before that, the
 * notifications the command raised (or that are due) are sent, within 15 s; a failed send is
 * said on stderr and retried later, never failing the command.
 */
export async function withCatalog<T>(opts: GlobalOptions, fn: (loaded: LoadedConfig, catalog: Catalog) => Promise<T>): Promise<T> {
  const file = loadConfig(configPath(opts.config));
  const catalog = Catalog.open(file.home);
  let loaded: LoadedConfig;
  try {
    // Targets, storages and channels created over the API count as much as the file's.
    loaded = effectiveConfig(file, catalog);
  } catch (err) {
    catalog.close();
    throw err;
  }
  for (const p of objectProblems(loaded)) if (p.reason === 'invalid') process.stderr.write(`warn: ${p.message} (left out)\n`);
  for (const warning of exposureWarnings(loaded)) process.stderr.write(`warn: ${warning}\n`);
  try {
    catalog.recoverInterrupted();
    // What a killed Lifeboat left (scratch databases, temp files, tool processes) goes first.
    const reaped = await reapLeaked(loaded, catalog);
    if (reaped.length) process.stderr.write(`warn: ${reapSummary(reaped)}\n`);
    return await fn(loaded, catalog);
  } finally {
    try {
      for (const o of await flushNotifications(loaded, catalog, { budgetMs: 15_000 })) {
        if (!o.ok) process.stderr.write(`warn: notification ${o.event} to ${o.channel} failed: ${o.error}${o.retryAt ? `; retrying at ${o.retryAt}` : '; giving up'}\n`);
      }
    } catch (err) {
      process.stderr.write(`warn: notifications could not be sent: ${(err as Error).message}\n`);
    }
    catalog.close();
  }
}

/** A command's result: JSON with --json (asked for explicitly, so --quiet leaves it), else text. */
export function print(opts: GlobalOptions, json: unknown, text: () => string): void {
  if (opts.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
  else emit(text() + '\n');
}

/** An AbortSignal that fires on the first Ctrl-C or SIGTERM; a second one exits at once. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(sig === 'SIGINT' ? 130 : 143);
    process.stderr.write(`\n${sig}: cancelling, cleaning up (again to quit at once)...\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The global options (--config, --json) as a command sees them. */
export const globals = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();

/** Runs `fn`, turning a config error (a bad schedule typed on the command line) into a usage error. */
export function usageError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = asLifeboatError(err);
    throw e.code === 'E_CONFIG' ? new LifeboatError('E_USAGE', e.message, { hint: e.hint }) : e;
  }
}

export function indent(s: string): string {
  return s.replace(/^/gm, '  ');
}

/** What a command that works on the catalog is given. */
export interface CommandContext {
  opts: GlobalOptions;
  loaded: LoadedConfig;
  catalog: Catalog;
}

/**
 * A commander action that loads the config and the catalog (and sends due notifications and
 * closes the catalog after, see withCatalog): `fn(context, ...arguments, options)`.
 */
export function catalogAction<A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<void> | void): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    const opts = globals(cmd);
    await withCatalog(opts, async (loaded, catalog) => {
      await fn({ opts, loaded, catalog }, ...(args.slice(0, -1) as A));
    });
  };
}
