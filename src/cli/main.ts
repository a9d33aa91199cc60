import { Command, CommanderError, Option } from 'commander';
import { asLifeboatError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { registerBackups } from './commands/backups.ts';
import { registerRestore } from './commands/restore.ts';
import { registerVerify } from './commands/verify.ts';
import { registerRetention } from './commands/retention.ts';
import { registerDaemon } from './commands/daemon.ts';
import { registerNotify } from './commands/notify.ts';
import { registerStorage } from './commands/storage.ts';
import { registerDoctor } from './commands/doctor.ts';

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Backup, verification and recovery for PostgreSQL-backed self-hosted apps')
    .version(VERSION)
    .addOption(new Option('-c, --config <file>', 'configuration file (default: $LIFEBOAT_CONFIG or ./lifeboat.yaml)'))
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str) });

  registerBackups(program);
  registerRestore(program);
  registerVerify(program);
  registerRetention(program);
  registerDaemon(program);
  registerNotify(program);
  registerStorage(program);
  registerDoctor(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const e = asLifeboatError(err);
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
