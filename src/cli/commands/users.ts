import { createInterface } from 'node:readline';
import { Command, Option } from 'commander';
import { ROLES, parseRole } from '../../auth/roles.ts';
import { LifeboatError } from '../../errors.ts';
import { auditedAction, catalogAction, print } from '../context.ts';
import { table } from '../output.ts';

const users = () => import('../../auth/users.ts');
const sessions = () => import('../../auth/sessions.ts');

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '-');

/** Users of the HTTP API and the UI: user add|list|remove|passwd|role|enable|disable|sessions|signout. */
export function registerUsers(program: Command): void {
  const user = program.command('user').description('users of the HTTP API and the web UI');
  const roleOption = () => new Option('--role <role>', 'viewer (reads), operator (+ backup, restore, download), admin (+ delete, config, users)').choices(ROLES).makeOptionMandatory();
  const stdinOption = () => new Option('--password-stdin', 'read the password from the first line of stdin instead of asking on the terminal');

  user
    .command('add')
    .description('create a user; asks for the password twice on a terminal')
    .argument('<name>', 'letters, digits, ".", "_", "-" or "@"')
    .addOption(roleOption())
    .addOption(stdinOption())
    .action(
      auditedAction({ action: 'user.create' }, async ({ opts, catalog }, name: string, o: { role: string; passwordStdin?: boolean }) => {
        const role = parseRole(o.role);
        const password = await readPassword(o, `password for ${name}`);
        const { createUser } = await users();
        const created = await createUser(catalog, { name, role, password });
        print(opts, created, () => `created ${created.name} (${created.role})`);
      }),
    );

  user
    .command('list')
    .description('users, their roles and last login')
    .action(
      catalogAction(async ({ opts, catalog }) => {
        const { listUsers } = await users();
        const all = listUsers(catalog);
        print(opts, all, () =>
          all.length === 0
            ? 'no users yet: `lifeboat user add <name> --role admin` creates the first one'
            : table(['NAME', 'ROLE', 'STATE', 'CREATED', 'LAST LOGIN'], all.map((u) => [u.name, u.role, u.disabled ? 'disabled' : 'active', when(u.createdAt), when(u.lastLoginAt)])),
        );
      }),
    );

  user
    .command('remove')
    .description('remove a user, their sessions and their API tokens')
    .argument('<name>')
    .action(
      auditedAction({ action: 'user.remove' }, async ({ opts, catalog }, name: string) => {
        const { removeUser } = await users();
        const removed = removeUser(catalog, name);
        print(opts, { removed: removed.name }, () => `removed ${removed.name} with their sessions and tokens`);
      }),
    );

  user
    .command('passwd')
    .description('set a user\'s password (ends their sessions); asks twice on a terminal')
    .argument('<name>')
    .addOption(stdinOption())
    .action(
      auditedAction({ action: 'user.passwd' }, async ({ opts, catalog }, name: string, o: { passwordStdin?: boolean }) => {
        const { getUser, setPassword } = await users();
        const u = getUser(catalog, name);
        await setPassword(catalog, u.name, await readPassword(o, `new password for ${u.name}`));
        print(opts, { name: u.name, passwordChanged: true }, () => `password of ${u.name} changed; their sessions were ended`);
      }),
    );

  user
    .command('role')
    .description('change a user\'s role (their tokens follow at once)')
    .argument('<name>')
    .argument('<role>', ROLES.join(' | '))
    .action(
      auditedAction({ action: 'user.role' }, async ({ opts, catalog }, name: string, role: string) => {
        const { setRole } = await users();
        const u = setRole(catalog, name, parseRole(role));
        print(opts, u, () => `${u.name} is now ${u.role}`);
      }),
    );

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(verb)
      .description(disabled ? 'stop a user from logging in, end their sessions, suspend their tokens' : 'let a disabled user log in again (their tokens work again)')
      .argument('<name>')
      .action(
        auditedAction({ action: 'user.role' }, async ({ opts, catalog }, name: string) => {
          const { setDisabled } = await users();
          const u = setDisabled(catalog, name, disabled);
          print(opts, u, () => `${u.name} is ${disabled ? 'disabled' : 'enabled'}`);
        }),
      );
  }

  user
    .command('sessions')
    .description('a user\'s browser sessions')
    .argument('<name>')
    .action(
      catalogAction(async ({ opts, catalog }, name: string) => {
        const [{ getUser }, { listSessions }] = await Promise.all([users(), sessions()]);
        const u = getUser(catalog, name);
        const list = listSessions(catalog, u.id);
        print(opts, list, () =>
          list.length === 0
            ? `${u.name} has no sessions`
            : table(['SESSION', 'CREATED', 'LAST SEEN', 'ENDS', 'ADDRESS', 'BROWSER'], list.map((s) => [s.handle, when(s.createdAt), when(s.lastSeenAt), when(s.expiresAt), s.address ?? '-', (s.userAgent ?? '-').slice(0, 40)])),
        );
      }),
    );

  user
    .command('signout')
    .description('end all of a user\'s sessions ("sign out everywhere"), or one; their API tokens stay')
    .argument('<name>')
    .option('--session <handle>', 'only this session (user sessions lists them)')
    .action(
      auditedAction({ action: 'session.signout-all' }, async ({ opts, catalog }, name: string, o: { session?: string }) => {
        const [{ getUser }, { endAllSessions, endSessionByHandle }] = await Promise.all([users(), sessions()]);
        const u = getUser(catalog, name);
        if (o.session !== undefined && !endSessionByHandle(catalog, u.id, o.session)) {
          throw new LifeboatError('E_NOT_FOUND', `${u.name} has no session ${o.session}`, { hint: `run \`lifeboat user sessions ${u.name}\`` });
        }
        const ended = o.session !== undefined ? 1 : endAllSessions(catalog, u.id);
        print(opts, { name: u.name, ended }, () => `ended ${ended} session(s) of ${u.name}`);
      }),
    );
}

/**
 * The password: one line from stdin with --password-stdin, else asked twice on the terminal with
 * echo off. Never an argument: those show in `ps` and shell history.
 */
async function readPassword(o: { passwordStdin?: boolean }, prompt: string): Promise<string> {
  if (o.passwordStdin) {
    const line = await firstLine();
    if (!line) throw new LifeboatError('E_USAGE', '--password-stdin: stdin gave no password', { hint: 'write the password as the first line of stdin' });
    return line;
  }
  if (!process.stdin.isTTY) {
    throw new LifeboatError('E_USAGE', 'no terminal to ask for the password on', { hint: 'pass --password-stdin and write the password to stdin' });
  }
  const [first, again] = await askHidden([`${prompt}: `, `${prompt} (again): `]);
  if (first !== again) throw new LifeboatError('E_USAGE', 'the two passwords differ; nothing was changed');
  return first!;
}

function firstLine(): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let got = '';
    rl.once('line', (line) => {
      got = line;
      rl.close();
    });
    rl.once('close', () => resolve(got));
  });
}

/**
 * Asks each prompt in turn and reads one line for each from the terminal, without echo. Raw mode
 * is set before the first prompt shows and kept until the last answer, so nothing typed after a
 * prompt is echoed, and a paste of both lines at once answers both prompts.
 */
function askHidden(prompts: string[]): Promise<string[]> {
  return new Promise((resolve) => {
    const stdin = process.stdin;
    const answers: string[] = [];
    let value = '';
    let afterCR = false;
    stdin.setRawMode(true);
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        // A pasted CRLF is one line end, not an empty second answer.
        const crlf = afterCR && ch === '\n';
        afterCR = ch === '\r';
        if (crlf) continue;
        if (ch === '\u0003') {
          finish();
          process.stderr.write('\n');
          process.exit(130);
        }
        if (ch === '\r' || ch === '\n') {
          if (answers.length === prompts.length) break;
          answers.push(value);
          value = '';
          process.stderr.write('\n');
          if (answers.length === prompts.length) {
            finish();
            return resolve(answers);
          }
          process.stderr.write(prompts[answers.length]!);
        } else if (ch === '\u007f' || ch === '\b') {
          value = [...value].slice(0, -1).join('');
        } else if (ch >= ' ') {
          value += ch;
        }
      }
    };
    process.stderr.write(prompts[0]!);
    stdin.on('data', onData);
    stdin.resume();
  });
}
