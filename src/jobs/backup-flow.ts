import type { Catalog } from '../catalog/catalog.ts';
import { keysFor } from '../bundle/codec.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError } from '../errors.ts';
import { runBackup, type BackupOptions, type BackupResult } from './backup.ts';
import { runPrune, type PruneOutcome } from './prune.ts';
import { runVerify, type VerifyReport } from './verify.ts';

export interface BackupFlowResult {
  backup: BackupResult;
  /** The integrity check right after the backup; absent when turned off or no key can open it. */
  check?: VerifyReport;
  /** Why the check was skipped, when it was. */
  checkSkipped?: string;
  /** Retention applied to the target afterwards; absent without retention rules. */
  prune?: PruneOutcome[];
  /** A failure of the prune: the backup itself succeeded. */
  pruneError?: string;
}

/**
 * What every trigger (CLI, scheduler, API) runs: the backup, then its quick integrity check
 * (unless `verification.quickAfterEachBackup: false`), then the target's retention. The check
 * and the prune never undo the backup; their failures are reported beside it.
 */
export async function runBackupFlow(loaded: LoadedConfig, catalog: Catalog, targetName: string, options: BackupOptions = {}): Promise<BackupFlowResult> {
  const backup = await runBackup(loaded, catalog, targetName, options);
  const result: BackupFlowResult = { backup };
  const target = loaded.config.targets[targetName]!;
  const policy = target.verification;
  const keys = keysFor(target.encryption);
  const canOpen = !target.encryption || keys.identities.length > 0 || keys.passphrases.length > 0;
  if (!canOpen) {
    result.checkSkipped = 'no identity is configured to decrypt the bundle (encryption.identityFile)';
    options.listener?.onLog?.('warn', `integrity check skipped: ${result.checkSkipped}`);
  } else if (policy === undefined || policy === 'manual' || policy.quickAfterEachBackup !== false) {
    result.check = await runVerify(loaded, catalog, backup.id, { quick: true, signal: options.signal, listener: options.listener });
  } else {
    result.checkSkipped = 'verification.quickAfterEachBackup is false';
  }
  if (target.retention) {
    try {
      result.prune = await runPrune(loaded, catalog, { target: targetName, trigger: options.trigger, signal: options.signal, listener: options.listener, now: options.now });
    } catch (err) {
      const e = asLifeboatError(err);
      if (e.code === 'E_ABORTED') throw e;
      result.pruneError = e.message;
      options.listener?.onLog?.('warn', `retention after the backup failed: ${e.message}`);
    }
  }
  return result;
}
