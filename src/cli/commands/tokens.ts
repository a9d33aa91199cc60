import { Command, Option } from 'commander';
import type { Catalog } from '../../catalog/catalog.ts';
import { SCOPES } from '../../auth/roles.ts';
import { LifeboatError } from '../../errors.ts';
import { auditedAction, catalogAction, print } from '../context.ts';
import { emit, table } from '../output.ts';

const tokens = async () => {
  const [t, { cliPrincipal }] = await Promise.all([import('../../auth/tokens.ts'), import('../../auth/principal.ts')]);
  return { ...t, cliPrincipal };
};

const when = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '-');

/** API tokens: token create|list|revoke. */
export function registerTokens(program: Command): void {
  const token = program.command('token').description('API tokens (Authorization: Bearer lb_...)');

  token
    .command('create')
    .description('create a token and print it once (only its hash is kept)')
    .argument('<name>', 'what it is for, e.g. ci or grafana')
    .addOption(new Option('--scope <scope...>', `what it may do: ${SCOPES.join(', ')} (never beyond the owner's role)`).makeOptionMandatory())
    .option('--expires <when>', 'a duration (12h, 90d, 2w, 1y) or a date; default: never')
    .option('--user <owner>', 'whose token it is (default: the only admin)')
    .action(
      auditedAction({ action: 'token.create' }, async ({ opts, catalog }, name: string, o: { scope: string[]; expires?: string; user?: string }) => {
        const [{ cliPrincipal, createToken, parseExpiry }, { getUser }] = await Promise.all([tokens(), import('../../auth/users.ts')]);
        const scopes = o.scope.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
        const owner = o.user !== undefined ? getUser(catalog, o.user) : onlyAdmin(catalog);
        const expiresAt = o.expires !== undefined ? parseExpiry(o.expires) : null;
        const { token: secret, summary } = createToken(catalog, { ownerId: owner.id, name, scopes, expiresAt, by: cliPrincipal() });
        if (opts.json) return print(opts, { token: secret, ...summary }, () => '');
        // The token alone on stdout, for `$(lifeboat token create ...)`; what it is, on stderr.
        // Written directly, past --quiet: held back and dropped on success, it would be lost for good.
        process.stdout.write(`${secret}\n`);
        emit(`token ${summary.name} of ${summary.owner}: scopes ${summary.scopes.join(', ')}, ${summary.expiresAt ? `expires ${when(summary.expiresAt)} UTC` : 'no expiry'}\nthis is the only time it is shown: store it now\n`, process.stderr);
      }),
    );

  token
    .command('list')
    .description('tokens: name, owner, scopes, expiry, last use (never the token)')
    .option('--user <owner>', 'only this user\'s')
    .option('--all', 'include revoked tokens')
    .action(
      catalogAction(async ({ opts, catalog }, o: { user?: string; all?: boolean }) => {
        const { cliPrincipal, listTokens } = await tokens();
        const list = listTokens(catalog, cliPrincipal(), { owner: o.user, includeRevoked: o.all });
        print(opts, list, () =>
          list.length === 0
            ? 'no tokens'
            : table(
                ['ID', 'NAME', 'OWNER', 'SCOPES', 'STATE', 'CREATED', 'EXPIRES', 'LAST USED', 'FROM'],
                list.map((t) => [String(t.id), t.name, t.owner, t.scopes.join(','), t.state, when(t.createdAt), when(t.expiresAt), when(t.lastUsedAt), t.lastUsedAddress ?? '-']),
              ),
        );
      }),
    );

  token
    .command('revoke')
    .description('revoke a token: it stops working at its next request')
    .argument('[name]', 'the token\'s name')
    .option('--user <owner>', 'whose token, when several users have one by that name')
    .option('--id <id>', 'the token\'s id (token list) instead of its name')
    .action(
      auditedAction({ action: 'token.revoke' }, async ({ opts, catalog }, name: string | undefined, o: { user?: string; id?: string }) => {
        if ((name === undefined) === (o.id === undefined)) throw new LifeboatError('E_USAGE', 'give the token\'s name or --id <id> (one of them)', { hint: 'run `lifeboat token list`' });
        if (o.id !== undefined && !/^\d+$/.test(o.id)) throw new LifeboatError('E_USAGE', `--id ${o.id}: a token id is a number (token list)`);
        const { cliPrincipal, revokeToken } = await tokens();
        const t = revokeToken(catalog, cliPrincipal(), o.id !== undefined ? { id: Number(o.id) } : { name: name!, owner: o.user });
        print(opts, t, () => `revoked token ${t.name} of ${t.owner}`);
      }),
    );
}

/** The owner when none is given: the only enabled admin, else the user must say. */
function onlyAdmin(catalog: Catalog) {
  const admins = catalog.listUsers().filter((u) => u.role === 'admin' && !u.disabled);
  if (admins.length === 1) return admins[0]!;
  if (admins.length === 0) throw new LifeboatError('E_USAGE', 'no admin user yet to own the token', { hint: 'create one with `lifeboat user add <name> --role admin`, or give --user <owner>' });
  throw new LifeboatError('E_USAGE', `there are ${admins.length} admins (${admins.map((u) => u.name).join(', ')}): say whose token it is`, { hint: 'pass --user <owner>' });
}
