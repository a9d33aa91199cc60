import { Command, CommanderError, Option } from 'commander';
import { asLifeboatError, EXIT } from '../errors.ts';
import { VERSION } from '../version.ts';
import { registerBackups } from './commands/backups.ts';
import { registerRestore } from './commands/restore.ts';
import { registerVerify } from './commands/verify.ts';
import { registerRetention } from './commands/retention.ts';
import { registerDaemon } from './commands/daemon.ts';
import { registerNotify } from './commands/notify.ts';
import { registerStorage } from './commands/storage.ts';
import { registerConfig } from './commands/config.ts';
import { releaseHeld, setQuiet } from './output.ts';
import { registerKey } from './commands/key.ts';
import { registerImport } from './commands/import.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerUsers } from './commands/users.ts';
import { registerTokens } from './commands/tokens.ts';
import { registerAudit } from './commands/audit.ts';
import { registerExport } from './commands/export.ts';
import { registerDrill } from './commands/drill.ts';
import { registerDiscover } from './commands/discover.ts';

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Backup, verification and recovery for PostgreSQL-backed self-hosted apps')
    .version(VERSION)
    .addOption(new Option('-c, --config <file>', 'configuration file (default: $LIFEBOAT_CONFIG or ./lifeboat.yaml)'))
    .option('--json', 'machine-readable output')
    .option('-q, --quiet', 'print nothing on success, only errors (output is shown when the command fails)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) })
    .hook('preAction', (_program, action) => setQuiet(action.optsWithGlobals<{ quiet?: boolean }>().quiet === true));

  registerBackups(program);
  registerRestore(program);
  registerVerify(program);
  registerRetention(program);
  registerDaemon(program);
  registerNotify(program);
  registerStorage(program);
  registerConfig(program);
  registerKey(program);
  registerImport(program);
  registerDoctor(program);
  registerUsers(program);
  registerTokens(program);
  registerAudit(program);
  registerExport(program);
  registerDrill(program);
  registerDiscover(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    const code = typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
    releaseHeld(code);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    const e = asLifeboatError(err);
    releaseHeld(e.exitCode);
    if (json) {
      process.stdout.write(JSON.stringify({ error: { code: e.code, message: e.message, hint: e.hint } }, null, 2) + '\n');
    } else {
      process.stderr.write(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
      if (e.code === 'E_INTERNAL' && process.env.LIFEBOAT_DEBUG) process.stderr.write(`${(e.cause as Error)?.stack ?? ''}\n`);
    }
    return e.exitCode;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
