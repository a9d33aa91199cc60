import { EXIT, LifeboatError, type ExitCode } from '../errors.ts';
import type { ExecResult } from './restore-remote-ssh.ts';

/** One line of restore.sh's validation summary. */
export interface SummaryLine {
  /** `ok` or `FAILED`. */
  state: string;
  /** `roles`, `files` or `database <name>`. */
  what: string;
  detail: string;
}

/** What a remote restore did; stored as the restore's report in the history. */
export interface RemoteRestoreReport {
  backupId: string;
  /** `ssh://user@host:port`. */
  remote: string;
  /** The remote work directory (gone unless kept). */
  workDir: string;
  /** Whether the work directory was left on the remote: --keep-remote, or a partial restore to finish there. */
  kept: boolean;
  /** Bytes sent over SFTP. */
  uploaded: number;
  /** restore.sh --check's answer: its checks and plan. */
  plan: string;
  /** With --dry-run only the plan is made. */
  dryRun: boolean;
  /** restore.sh's own exit status, when it ran. */
  restoreShExit?: number | null;
  /** restore.sh's validation summary. */
  summary: SummaryLine[];
  /** Every row count and file checksum matches the manifest. */
  whole: boolean;
  /** Lifeboat's exit status for it: see outcomeOf. */
  exitCode: ExitCode;
  /** With a partial restore: how to finish it on the remote. */
  resume?: string;
}

/**
 * Reads the summary restore.sh prints at its end: `  <state> <what padded to 28> <detail>`.
 * A `what` longer than its column pushes the detail right; it still starts with the kind.
 */
export function parseSummary(stdout: string): SummaryLine[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => /^Summary \(\d+ s\)$/.test(l));
  if (start < 0) return [];
  const out: SummaryLine[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}(\S+) +(.*)$/.exec(line);
    if (!m) break;
    const rest = line.slice(10);
    let what: string;
    let detail: string;
    if (rest.length > 28 && rest[28] === ' ' && rest.slice(0, 28).trim()) {
      what = rest.slice(0, 28).trimEnd();
      detail = rest.slice(29);
    } else {
      const w = /^(roles|files|database \S+) *(.*)$/.exec(m[2]!);
      what = w?.[1] ?? m[2]!;
      detail = w?.[2] ?? '';
    }
    out.push({ state: m[1]!, what, detail });
  }
  return out;
}

/**
 * Maps restore.sh's exit status to Lifeboat's (README, "Restore onto a new server over SSH"):
 * 0 whole -> 0; 1 partial -> 1; 2 refused by its checks (nothing changed) -> 3, as any plan's
 * refusal; anything else (a signal, a lost connection, bash missing) -> 1.
 */
export function outcomeOf(r: ExecResult): ExitCode {
  if (r.code === 0) return EXIT.ok;
  if (r.code === 2) return EXIT.refused;
  return EXIT.failed;
}

/** The error for restore.sh --check's refusal, from what it printed on stderr. */
export function checkRefusal(r: ExecResult, remote: string): LifeboatError {
  const failed = r.stderr.split('\n').filter((l) => /^\s+FAILED\s/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  if (r.code === 2 && failed.length) {
    return new LifeboatError('E_RESTORE_CHECK', `restore.sh --check on ${remote} refused: ${failed.join('; ')}`, {
      hint: 'nothing was changed; each FAILED check above says what to change (restore.sh options pass through: --clean, --only, --no-owner, ...)',
    });
  }
  if (r.code === 2) return new LifeboatError('E_RESTORE_CHECK', `restore.sh on ${remote} refused: ${last.replace(/^restore\.sh: /, '')}`, { hint: 'nothing was changed' });
  return new LifeboatError('E_RESTORE_FAILED', `restore.sh --check on ${remote} ended with ${r.code === null ? `signal ${r.signal ?? 'unknown'}` : `exit ${r.code}`}: ${last || 'no message'}`);
}

/** The report as the CLI prints it after restore.sh's own output. */
export function describeRemoteReport(r: RemoteRestoreReport): string {
  if (r.dryRun) return `dry run: restore.sh --check on ${r.remote} passed (plan above); nothing was changed${r.kept ? `; the unpacked bundle stays in ${r.workDir}` : ''}`;
  const lines = [`restore of ${r.backupId} on ${r.remote}: ${r.whole ? 'WHOLE' : 'PARTIAL'} (restore.sh exit ${r.restoreShExit ?? 'none'})`];
  for (const s of r.summary) lines.push(`  ${s.state.padEnd(7)} ${s.what.padEnd(28)} ${s.detail}`);
  if (r.resume) lines.push(`to finish: ${r.resume}`);
  else if (r.kept) lines.push(`the unpacked bundle stays in ${r.remote}:${r.workDir} (--keep-remote)`);
  return lines.join('\n');
}
