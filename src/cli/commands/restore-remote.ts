import { createInterface } from 'node:readline/promises';
import { Option, type Command } from 'commander';
import { LifeboatError } from '../../errors.ts';
import { progressListener } from '../output.ts';
import { audited, interruptSignal, print, withCatalog, type GlobalOptions } from '../context.ts';

/** The options `restore --remote` adds (README, "Restore onto a new server over SSH"). */
export interface RemoteCliOptions {
  remote?: string;
  remoteUrl?: string;
  remoteDir?: string;
  filesRoot?: string;
  sshKey?: string;
  knownHosts?: string;
  hostKey?: string;
  keepRemote?: boolean;
  clean?: boolean;
  jobs?: string;
  only?: string[];
  onlyFiles?: string[];
}

/** Adds the --remote options to the restore command. */
export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option('--remote <ssh-url>', 'restore onto another machine over SSH with the bundle\'s restore.sh: ssh://user@host[:port]')
    .option('--remote-url <url>', 'with --remote: the PostgreSQL server to restore into, as that machine reaches it (default: libpq\'s defaults there)')
    .option('--files-root <dir>', 'with --remote: restore the file sets under this directory there (/ puts every file back at its place)')
    .option('--only <db...>', 'with --remote: only these databases (as --database)')
    .option('--only-files <set...>', 'with --remote: only these file sets (needs --files-root)')
    .option('--clean', 'with --remote: replace databases that exist there')
    .option('--jobs <n>', 'with --remote: pg_restore parallel jobs per database')
    .option('--remote-dir <dir>', 'with --remote: where the work directory is made there (default /var/tmp)')
    .option('--keep-remote', 'with --remote: leave the unpacked bundle there')
    .option('--ssh-key <file>', 'with --remote: the private key to log in with (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa, and ssh-agent)')
    .option('--known-hosts <file>', 'with --remote: the known_hosts file the host key is checked against (default ~/.ssh/known_hosts)')
    .addOption(new Option('--host-key <fingerprint>', 'with --remote: the host key\'s SHA256:... fingerprint, checked instead of known_hosts'));
}

/** Options of the local restore that mean nothing on a remote one, and the reverse. */
const LOCAL_ONLY = ['to', 'table', 'renameTo', 'file', 'toDir', 'workflow', 'allWorkflows', 'asFile', 'toN8n', 'name', 'workflowVersion', 'force'] as const;
const REMOTE_ONLY = ['remoteUrl', 'remoteDir', 'filesRoot', 'sshKey', 'knownHosts', 'hostKey', 'keepRemote', 'clean', 'jobs', 'only', 'onlyFiles'] as const;

/** Refuses a remote-only option without --remote (and the reverse). */
export function checkRemoteUsage(options: RemoteCliOptions): void {
  const o = options as RemoteCliOptions & Record<string, unknown>;
  const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (!o.remote) {
    const given = REMOTE_ONLY.filter((k) => o[k] !== undefined);
    if (given.length) throw new LifeboatError('E_USAGE', `${given.map(flag).join(', ')} go${given.length === 1 ? 'es' : ''} with --remote ssh://user@host`);
    return;
  }
  const given = LOCAL_ONLY.filter((k) => o[k] !== undefined);
  if (given.length) throw new LifeboatError('E_USAGE', `${given.map(flag).join(', ')} do${given.length === 1 ? 'es' : ''} not go with --remote`, { hint: 'a remote restore runs the bundle\'s restore.sh: --remote-url, --files-root, --only, --only-files, --clean, --jobs, --globals and --no-owner pass through' });
}

/** `lifeboat restore <backup> --remote ...`: one audited run of the remote restore job. */
export async function restoreRemote(opts: GlobalOptions, prefix: string, o: RemoteCliOptions & { database?: string[]; globals?: boolean; owner: boolean; dryRun?: boolean; yes?: boolean; trustForeign?: boolean }): Promise<void> {
  const jobs = o.jobs === undefined ? undefined : Number(o.jobs);
  if (jobs !== undefined && !Number.isInteger(jobs)) throw new LifeboatError('E_USAGE', `--jobs takes a number from 1 to 999, not ${o.jobs}`);
  await withCatalog(opts, (loaded, catalog) => audited(catalog, { action: 'restore.run', object: prefix }, async (audit) => {
    // Loaded when used, as every job (context.ts): the remote restore's parses ssh2.
    const [{ redactUrl }, { runRemoteRestore }, { describeRemoteReport }] = await Promise.all([import('../../postgres/connection.ts'), import('../../jobs/restore-remote.ts'), import('../../jobs/restore-remote-report.ts')]);
    audit.skip = o.dryRun === true;
    audit.object = catalog.resolveBackup(prefix).id;
    audit.detail.request = {
      remote: o.remote, url: o.remoteUrl ? redactUrl(o.remoteUrl) : undefined, filesRoot: o.filesRoot, only: [...(o.only ?? []), ...(o.database ?? [])],
      onlyFiles: o.onlyFiles, clean: o.clean, globals: o.globals, jobs, noOwner: !o.owner, trustForeign: o.trustForeign,
    };
    const listener = progressListener({ json: opts.json === true });
    const interrupt = interruptSignal();
    // In --json mode stdout holds the report only: restore.sh's output goes to stderr.
    const out = (stream: 'stdout' | 'stderr', text: string) => {
      listener.end();
      (stream === 'stdout' && !opts.json ? process.stdout : process.stderr).write(text);
    };
    try {
      const report = await runRemoteRestore(loaded, catalog, prefix, {
        remote: o.remote!, url: o.remoteUrl, remoteDir: o.remoteDir, filesRoot: o.filesRoot, globals: o.globals, clean: o.clean, jobs, noOwner: !o.owner,
        only: [...(o.only ?? []), ...(o.database ?? [])], onlyFiles: o.onlyFiles, dryRun: o.dryRun, yes: o.yes, keepRemote: o.keepRemote, trustForeign: o.trustForeign,
        key: o.sshKey, passphrase: process.env.LIFEBOAT_SSH_PASSPHRASE, knownHosts: o.knownHosts, hostKey: o.hostKey,
        confirm: process.stdin.isTTY && !opts.json ? () => confirmOnTerminal(o.remote!) : undefined,
        output: out, listener, signal: interrupt.signal,
      });
      listener.end();
      audit.detail.whole = report.whole;
      print(opts, report, () => describeRemoteReport(report));
    } finally {
      listener.end();
      interrupt.dispose();
    }
  }));
}

/** restore.sh's plan is on the screen already: ask for the word. */
async function confirmOnTerminal(remote: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`This restores onto ${remote} as planned above. Type RESTORE to continue: `);
    return answer.trim() === 'RESTORE';
  } finally {
    rl.close();
  }
}
