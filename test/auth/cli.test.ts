import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.ts';
import { createSession, resolveSession } from '../../src/auth/sessions.ts';
import { login } from '../../src/auth/throttle.ts';
import { resolveToken } from '../../src/auth/tokens.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const PASSWORD = 'Tr0ub4dor&3-horse-staple';
let ws: Workspace;

before(() => {
  ws = workspace();
  chmodSync(ws.storage, 0o700);
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets: {}\n`);
});
after(() => ws.remove());

/** Every byte of the catalog as it lies on disk (database, WAL), to search for secrets. */
function catalogBytes(): Buffer {
  return Buffer.concat(readdirSync(ws.home).filter((f) => f.startsWith('catalog.sqlite')).map((f) => readFileSync(path.join(ws.home, f))));
}

function withCatalog<T>(fn: (c: Catalog) => T): T {
  const c = Catalog.open(ws.home);
  try {
    return fn(c);
  } finally {
    c.close();
  }
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), typing each answer once its prompt is
 * shown (typed earlier, the terminal would still echo it); returns what the terminal showed.
 */
function onTerminal(args: string[], answers: string[]): Promise<{ code: number | null; screen: string }> {
  const bin = path.resolve(import.meta.dirname, '../../bin/lifeboat.js');
  const command = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, LIFEBOAT_CONFIG: ws.config, LIFEBOAT_HOME: ws.home }, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let prompts = 0;
  child.stdout.on('data', (d: Buffer) => {
    screen += d.toString();
    const shown = screen.split('password for').length - 1;
    while (prompts < shown && prompts < answers.length) child.stdin.write(`${answers[prompts++]}\r`);
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, screen })));
}

const hasScript = (process.env.PATH ?? '').split(':').some((d) => existsSync(path.join(d, 'script')));

describe('lifeboat user and token', () => {
  test('user add: --password-stdin, or refused without a terminal (exit 2); bad input exits 2', async () => {
    const none = await ws.run(['user', 'add', 'alice', '--role', 'admin']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /error: no terminal to ask for the password on\nhint: pass --password-stdin/);
    const noRole = await ws.run(['user', 'add', 'alice', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(noRole.code, 2);
    assert.match(noRole.stderr, /required option '--role <role>' not specified/);
    const badRole = await ws.run(['user', 'add', 'alice', '--role', 'root', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /Allowed choices are viewer, operator, admin/);
    const short = await ws.run(['user', 'add', 'alice', '--role', 'admin', '--password-stdin'], { input: 'hunter2\n' });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /the password is too short: 7 characters, at least 12/);
    const badName = await ws.run(['user', 'add', 'al ice', '--role', 'admin', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /"al ice" is not a valid user name/);
    const empty = await ws.run(['user', 'add', 'alice', '--role', 'admin', '--password-stdin']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /stdin gave no password/);

    // The real process reads stdin here: every other file's users are added in process (support/api.ts).
    const ok = await ws.cli(['user', 'add', 'alice', '--role', 'admin', '--password-stdin'], { input: `${PASSWORD}\r\nignored second line\n` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'created alice (admin)\n');
    const again = await ws.run(['user', 'add', 'alice', '--role', 'viewer', '--password-stdin', '--json'], { input: `${PASSWORD}\n` });
    // A request that does not fit the state (conflict) or the role (forbidden) is the caller's to change: exit 2.
    assert.equal(again.code, 2);
    assert.equal(again.json<{ error: { code: string } }>().error.code, 'E_CONFLICT');
    assert.equal((await withCatalogAsync((c) => login(c, 'alice', PASSWORD, null))).ok, true, 'the password from stdin, without its line ending');

    const list = await ws.cli(['user', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const users = list.json<{ name: string; role: string; disabled: boolean }[]>();
    assert.deepEqual(users.map((u) => [u.name, u.role, u.disabled]), [['alice', 'admin', false]]);
    assert.doesNotMatch(list.stdout, /argon2|hash/i);
  });

  test('on a terminal the password is asked twice with echo off; two different answers change nothing', { skip: !hasScript && 'needs util-linux script for a pseudo-terminal' }, async () => {
    const typed = 'typed on a terminal, unseen';
    const r = await onTerminal(['user', 'add', 'terry', '--role', 'viewer'], [typed, typed]);
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /password for terry: \r?\n.*password for terry \(again\): \r?\n.*created terry \(viewer\)/s);
    assert.equal(r.screen.includes(typed), false, 'not echoed');
    assert.equal((await withCatalogAsync((c) => login(c, 'terry', typed, null))).ok, true);
    const differ = await onTerminal(['user', 'passwd', 'terry'], ['one new long passphrase', 'another long passphrase']);
    assert.equal(differ.code, 2);
    assert.match(differ.screen, /the two passwords differ; nothing was changed/);
    assert.equal((await withCatalogAsync((c) => login(c, 'terry', typed, null))).ok, true);
    const pasted = await onTerminal(['user', 'passwd', 'terry'], ['pasted long passphrase\r\npasted long passphrase']);
    assert.equal(pasted.code, 0, pasted.screen);
    assert.equal(pasted.screen.includes('pasted'), false);
    assert.equal((await withCatalogAsync((c) => login(c, 'terry', 'pasted long passphrase', null))).ok, true, 'both lines of one paste answer both prompts');
    assert.equal((await ws.cli(['user', 'remove', 'terry'])).code, 0);
  });

  test('token create prints lb_... once; neither it nor a password is in the catalog file', async () => {
    // A real process, as support/api.ts's addToken is not.
    const owner = await ws.cli(['token', 'create', 'ci', '--scope', 'backup', '--expires', '90d']);
    assert.equal(owner.code, 0, owner.stderr);
    const token = owner.stdout.trim();
    assert.match(token, /^lb_[A-Za-z0-9_-]{43}$/);
    assert.equal(owner.stdout, `${token}\n`, 'the token alone on stdout');
    assert.equal((owner.stdout + owner.stderr).split('lb_').length - 1, 1, 'printed once');
    assert.match(owner.stderr, /token ci of alice: scopes backup, expires \d{4}-\d\d-\d\d \d\d:\d\d UTC\nthis is the only time it is shown/);

    const json = await ws.run(['token', 'create', 'grafana', '--scope', 'read', 'metrics', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const created = json.json<{ token: string; scopes: string[]; owner: string }>();
    assert.match(created.token, /^lb_/);
    assert.deepEqual(created.scopes, ['read', 'metrics']);

    const p = withCatalog((c) => resolveToken(c, token, '127.0.0.1'))!;
    assert.equal(p.actor, 'token:ci (alice)');

    const list = await ws.cli(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /ci +alice +backup +active/);
    assert.match(list.stdout, /127\.0\.0\.1/);
    assert.doesNotMatch(list.stdout, /lb_/);

    const bytes = catalogBytes();
    assert.ok(bytes.length > 0 && existsSync(path.join(ws.home, 'catalog.sqlite')));
    for (const secret of [token, token.slice(3), created.token, PASSWORD]) assert.equal(bytes.includes(secret), false, `${secret.slice(0, 6)}... is in the catalog file`);
  });

  test('token create: unknown scope and bad expiry exit 2; a scope beyond the role is refused naming it', async () => {
    const add = await ws.run(['user', 'add', 'vera', '--role', 'viewer', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, add.stderr);
    const unknown = await ws.run(['token', 'create', 'x', '--scope', 'everything']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown scope "everything": one of read, backup, restore, admin, metrics/);
    const expiry = await ws.run(['token', 'create', 'x', '--scope', 'read', '--expires', 'tomorrow']);
    assert.equal(expiry.code, 2);
    assert.match(expiry.stderr, /"tomorrow" is not an expiry/);
    const beyond = await ws.run(['token', 'create', 'x', '--scope', 'read,backup', '--user', 'vera']);
    assert.equal(beyond.code, 2);
    assert.match(beyond.stderr, /scope "backup" goes beyond vera's role \(viewer\)/);
    const noUser = await ws.run(['token', 'create', 'x', '--scope', 'read', '--user', 'nobody']);
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /no user named nobody/);
  });

  test('token revoke takes effect at once; with two admins the owner must be named', async () => {
    const revoke = await ws.cli(['token', 'revoke', 'grafana']);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(revoke.stdout, 'revoked token grafana of alice\n');
    const usage = await ws.run(['token', 'revoke']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give the token's name or --id <id>/);
    const missing = await ws.run(['token', 'revoke', 'grafana']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no active token named grafana/);

    const add = await ws.run(['user', 'add', 'bob', '--role', 'admin', '--password-stdin'], { input: `${PASSWORD}\n` });
    assert.equal(add.code, 0, add.stderr);
    const which = await ws.run(['token', 'create', 'x', '--scope', 'read']);
    assert.equal(which.code, 2);
    assert.match(which.stderr, /there are 2 admins \(alice, bob\): say whose token it is\nhint: pass --user <owner>/);

    const created = await ws.run(['token', 'create', 'deploy', '--scope', 'restore', '--user', 'bob', '--json']);
    const { token, id } = created.json<{ token: string; id: number }>();
    assert.ok(withCatalog((c) => resolveToken(c, token, null)));
    const byId = await ws.run(['token', 'revoke', '--id', String(id), '--json']);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal(byId.json<{ state: string }>().state, 'revoked');
    assert.equal(withCatalog((c) => resolveToken(c, token, null)), undefined);
    const all = await ws.run(['token', 'list', '--all', '--json']);
    assert.deepEqual(all.json<{ name: string; state: string }[]>().map((t) => `${t.name}:${t.state}`).sort(), ['ci:active', 'deploy:revoked', 'grafana:revoked']);
  });

  test('user role, passwd, sessions, signout, disable and remove; the last admin stays', async () => {
    const demote = await ws.cli(['user', 'role', 'bob', 'operator']);
    assert.equal(demote.code, 0, demote.stderr);
    assert.equal(demote.stdout, 'bob is now operator\n');
    const last = await ws.run(['user', 'role', 'alice', 'viewer']);
    assert.equal(last.code, 2);
    assert.match(last.stderr, /cannot demote alice: the last admin\nhint: make another user admin first/);
    assert.equal((await ws.run(['user', 'remove', 'alice'])).code, 2);
    assert.equal((await ws.run(['user', 'role', 'bob', 'root'])).code, 2);

    const [, , third] = withCatalog((c) => {
      const bob = c.findUser('bob')!;
      return [
        createSession(c, bob.id, { address: '192.0.2.44', userAgent: 'Firefox/140' }),
        createSession(c, bob.id, { address: '192.0.2.45', userAgent: 'curl' }),
        createSession(c, bob.id, { address: '192.0.2.46', userAgent: 'wget' }),
      ];
    });
    const sessions = await ws.cli(['user', 'sessions', 'bob']);
    assert.equal(sessions.code, 0, sessions.stderr);
    assert.match(sessions.stdout, /192\.0\.2\.44 +Firefox\/140/);
    const one = await ws.cli(['user', 'signout', 'bob', '--session', third!.handle]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(withCatalog((c) => resolveSession(c, third!.id)), undefined);
    assert.equal((await ws.run(['user', 'signout', 'bob', '--session', third!.handle])).code, 2, 'already ended');
    const signout = await ws.run(['user', 'signout', 'bob', '--json']);
    assert.deepEqual(signout.json(), { name: 'bob', ended: 2 });
    assert.equal((await ws.run(['user', 'sessions', 'bob'])).stdout, 'bob has no sessions\n');

    const passwd = await ws.cli(['user', 'passwd', 'bob', '--password-stdin'], { input: 'a brand new passphrase\n' });
    assert.equal(passwd.code, 0, passwd.stderr);
    assert.equal((await withCatalogAsync((c) => login(c, 'bob', 'a brand new passphrase', null))).ok, true);
    assert.equal((await ws.run(['user', 'passwd', 'bob'])).code, 2, 'no terminal, no --password-stdin');

    assert.equal((await ws.cli(['user', 'disable', 'bob'])).code, 0);
    assert.equal((await withCatalogAsync((c) => login(c, 'bob', 'a brand new passphrase', null))).ok, false);
    const removed = await ws.run(['user', 'remove', 'bob']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed bob with their sessions and tokens\n');
    const gone = await ws.run(['user', 'remove', 'bob']);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no user named bob/);
  });
});

async function withCatalogAsync<T>(fn: (c: Catalog) => Promise<T>): Promise<T> {
  const c = Catalog.open(ws.home);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
