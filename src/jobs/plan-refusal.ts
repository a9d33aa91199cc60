// When a plan's checks stop an operation, and the one error that says so (exit status 3). Shared
// by the real run, which throws it, and --dry-run, which reports it without changing anything.
import { LifeboatError } from '../errors.ts';
import type { Check } from './restore-plan.ts';

/** The failed checks that stop the run: all of them, less the overridable ones when forced. */
export function blockingChecks(checks: Check[], force: boolean): Check[] {
  return checks.filter((c) => !c.ok && !(c.overridable && force));
}

/**
 * The refusal for a plan, or undefined when it may go ahead. `operation` starts the message
 * ("restore"); a dry run's caller rewords it as what the real run would do.
 */
export function planRefusal(operation: string, checks: Check[], force: boolean): LifeboatError | undefined {
  const blocking = blockingChecks(checks, force);
  if (!blocking.length) return undefined;
  const overridable = blocking.every((c) => c.overridable);
  return new LifeboatError('E_RESTORE_CHECK', `${operation} refused: ${blocking.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, {
    hint: overridable ? `pass --force to ${operation} anyway; nothing was changed` : `nothing was changed${blocking.some((c) => c.overridable) ? '; --force overrides only the WARN checks' : ''}`,
  });
}
