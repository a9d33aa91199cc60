import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Command } from 'commander';
import type { AuditAction, AuditNote } from '../audit/audit.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, EXIT, LifeboatError } from '../errors.ts';
import { emit } from './output.ts';

// The CLI's modules import the engine (config, catalog, jobs) with `await import()` where a
// command runs, never at the top: `lifeboat --version`, `--help` and a usage error then parse
// commander and these files only, and each command loads what it uses (bench/README.md, session 12).

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
export async function withCatalog<T>(opts: GlobalOptions, fn: (loaded: LoadedConfig, catalog: Catalog) => Promise<T>, options: { withoutConfigFile?: boolean } = {}): Promise<T> {
  const [{ configPath, emptyConfig, loadConfig }, { Catalog }, { effectiveConfig, objectProblems }, { exposureWarnings }, { reapLeaked, reapSummary }, { flushNotifications }] = await Promise.all([
    import('../config/load.ts'), import('../catalog/catalog.ts'), import('../config/objects-merge.ts'), import('../config/exposure.ts'), import('../jobs/resources.ts'), import('../notify/deliver.ts'),
  ]);
  const path = configPath(opts.config);
  // Only where no file was named: a --config or LIFEBOAT_CONFIG that names a missing file is a mistake.
  const implicit = opts.config === undefined && process.env.LIFEBOAT_CONFIG === undefined;
  const bare = options.withoutConfigFile && implicit && !existsSync(path);
  if (bare) process.stderr.write(`warn: no ${path}: starting with nothing configured; add storages and targets in the web UI (or the API), or write the file with \`lifeboat init\`\n`);
  const file = bare ? emptyConfig(path) : loadConfig(path);
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
export function catalogAction<A extends unknown[]>(fn: (ctx: CommandContext, ...args: A) => Promise<void> | void, options: { withoutConfigFile?: boolean } = {}): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args.at(-1) as Command;
    const opts = globals(cmd);
    await withCatalog(opts, async (loaded, catalog) => {
      await fn({ opts, loaded, catalog }, ...(args.slice(0, -1) as A));
    }, options);
  };
}

/** The audit log's actor for this CLI: `cli:<os user>`. */
export function cliActor(): string {
  try {
    return `cli:${os.userInfo().username}`;
  } catch {
    // A uid without a passwd entry (some containers).
    return `cli:${process.env.USER ?? `uid ${process.getuid?.() ?? '?'}`}`;
  }
}

/**
 * Runs a command's change under one audit row (actor `cli:<os user>`): `ok`, or `refused` /
 * `failed` from the error it throws or the exit status it sets (3 refused, other non-zero
 * failed). `fn` names the object once it knows it and adds a small detail through the note.
 */
export async function audited<T>(catalog: Catalog, what: { action: AuditAction; object?: string | null }, fn: (note: AuditNote) => Promise<T> | T): Promise<T> {
  const { withAudit } = await import('../audit/audit.ts');
  return withAudit(catalog, { actor: cliActor(), action: what.action, object: what.object }, async (note) => {
    const before = process.exitCode;
    const result = await fn(note);
    const code = Number(process.exitCode ?? 0);
    if (note.outcome === undefined && process.exitCode !== before && code !== EXIT.ok) note.outcome = code === EXIT.refused ? 'refused' : 'failed';
    return result;
  });
}

/** The same, for a command that needs only the home (the key commands): the catalog is opened for the row. */
export async function auditedInHome<T>(home: string, what: { action: AuditAction; object?: string | null }, fn: (note: AuditNote) => Promise<T> | T): Promise<T> {
  const { Catalog } = await import('../catalog/catalog.ts');
  const catalog = Catalog.open(home);
  try {
    return await audited(catalog, what, fn);
  } finally {
    catalog.close();
  }
}

/** What a command that changes something is given: the context and its audit row's note. */
export interface AuditedContext extends CommandContext {
  audit: AuditNote;
}

/**
 * catalogAction for a command that changes something: one audit row per run (see audited).
 * `action` may depend on the arguments (undefined: nothing to record, e.g. a dry run); the
 * object defaults to the first argument when it is a string (a backup prefix, a target).
 */
export function auditedAction<A extends unknown[]>(
  what: { action: AuditAction | ((...args: A) => AuditAction | undefined); object?: (...args: A) => string | undefined },
  fn: (ctx: AuditedContext, ...args: A) => Promise<void> | void,
): (...args: unknown[]) => Promise<void> {
  return catalogAction<A>(async (ctx, ...args) => {
    const action = typeof what.action === 'function' ? what.action(...args) : what.action;
    if (!action) return fn({ ...ctx, audit: { detail: {}, skip: true } }, ...args);
    const object = what.object ? what.object(...args) : typeof args[0] === 'string' ? args[0] : undefined;
    await audited(ctx.catalog, { action, object }, (audit) => fn({ ...ctx, audit }, ...args));
  });
}
