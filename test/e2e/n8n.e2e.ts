// End to end against a real n8n (outside the default suite): `npm run test:e2e:n8n`.
//
// Installs a pinned n8n into a cache directory outside the repo (or uses N8N_BIN), starts it
// against a throwaway PostgreSQL, sets up its owner, an API key, a credential and two workflows
// through its real API; Lifeboat backs the database up, the test deletes a workflow in n8n, and
// `lifeboat restore --workflow ... --to-n8n` brings it back under its backup name.
//
//   N8N_VERSION=2.41.3        the version to install (default below)
//   N8N_BIN=/usr/bin/n8n      use an n8n you already have instead of installing one
//   LIFEBOAT_N8N_CACHE=dir    where installs are kept (default ~/.cache/lifeboat/n8n)
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { startTestServer, type TestServer } from '../support/postgres.ts';
import { workspace, type Workspace } from '../support/workspace.ts';

const VERSION = process.env.N8N_VERSION ?? '2.41.3';
const CACHE = process.env.LIFEBOAT_N8N_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'lifeboat', 'n8n');

/** The command that starts n8n: N8N_BIN, or the pinned version installed into the cache once. */
function n8nCommand(): string[] {
  if (process.env.N8N_BIN) return [process.env.N8N_BIN];
  const dir = path.join(CACHE, VERSION);
  const entry = path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n');
  if (!existsSync(entry)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'lifeboat-n8n-e2e', private: true }));
    process.stderr.write(`installing n8n@${VERSION} into ${dir} (once; a few minutes)\n`);
    const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', `n8n@${VERSION}`], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (npm.status !== 0) {
      const said = (npm.stderr || npm.stdout).split('\n').filter((l) => /error/i.test(l)).slice(0, 6).join('\n');
      throw new Error(`could not install n8n@${VERSION} into ${dir}:\n${said}\n` + 'Set N8N_VERSION to another version, or N8N_BIN to an n8n you already have (e.g. N8N_BIN=$(which n8n)).');
    }
  }
  // n8n 2.x needs Node 24: the one running this test (the repo's own).
  return [process.execPath, entry];
}

/** A client for n8n's internal REST API (cookie session) and its public API (API key). */
class N8n {
  cookie = '';
  apiKey = '';
  readonly browserId = randomBytes(8).toString('hex');
  readonly url: string;
  constructor(url: string) {
    this.url = url;
  }

  async rest<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/rest${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'browser-id': this.browserId, ...(this.cookie ? { cookie: this.cookie } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('n8n-auth='));
    if (set) this.cookie = set.split(';')[0]!;
    const text = await res.text();
    assert.ok(res.ok, `${method} /rest${route}: HTTP ${res.status} ${text.slice(0, 500)}`);
    return (JSON.parse(text) as { data: T }).data;
  }

  async api<T>(method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.url}/api/v1${route}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-n8n-api-key': this.apiKey },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }
}

interface Workflow {
  id: string;
  name: string;
  active: boolean;
  nodes: { name: string; type: string; parameters: unknown; credentials?: Record<string, { id: string }> }[];
  connections: unknown;
}

describe('n8n end to end', { timeout: 30 * 60_000 }, () => {
  let server: TestServer;
  let ws: Workspace;
  let child: ChildProcess | undefined;
  let log = '';
  let n8nUrl = '';
  const n8nKey = randomBytes(24).toString('base64url');

  before(async () => {
    const command = n8nCommand();
    server = await startTestServer();
    const db = await server.createDatabase('n8n');
    ws = workspace();
    const userFolder = path.join(ws.dir, 'n8n-home');
    mkdirSync(userFolder);
    const port = await freePort();
    const pgUrl = new URL(server.urlFor(db));
    child = spawn(command[0]!, command.slice(1).concat('start'), {
      env: {
        ...process.env,
        N8N_PORT: String(port),
        N8N_LISTEN_ADDRESS: '127.0.0.1',
        N8N_USER_FOLDER: userFolder,
        N8N_ENCRYPTION_KEY: n8nKey,
        N8N_SECURE_COOKIE: 'false',
        N8N_DIAGNOSTICS_ENABLED: 'false',
        N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
        N8N_PERSONALIZATION_ENABLED: 'false',
        DB_TYPE: 'postgresdb',
        DB_POSTGRESDB_HOST: pgUrl.hostname,
        DB_POSTGRESDB_PORT: pgUrl.port,
        DB_POSTGRESDB_DATABASE: db,
        DB_POSTGRESDB_USER: decodeURIComponent(pgUrl.username),
        DB_POSTGRESDB_PASSWORD: decodeURIComponent(pgUrl.password),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    const url = `http://127.0.0.1:${port}`;
    // First start runs n8n's migrations: allow minutes.
    const deadline = Date.now() + 5 * 60_000;
    for (;;) {
      assert.equal(child.exitCode, null, `n8n exited during start:\n${log}`);
      const ok = await fetch(`${url}/healthz/readiness`).then((r) => r.ok, () => false);
      if (ok) break;
      assert.ok(Date.now() < deadline, `n8n did not become ready in 5 minutes:\n${log}`);
      await sleep(500);
    }
    ws.writeConfig(
      `storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  flows:\n    postgres: { url: "${server.urlFor(db)}", databases: [${db}] }\n    storage: local\n    profile: n8n\n` +
        `    n8n: { userFolder: ${userFolder}, encryptionKeyEnv: E2E_N8N_ENCRYPTION_KEY, url: "${url}", apiKey: "\${E2E_N8N_API_KEY}" }\n`,
    );
    n8nUrl = url;
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    ws?.remove();
    await server?.stop();
  });

  test('a workflow deleted in n8n comes back from the backup through the public API, renamed and inactive', async () => {
    const n8n = new N8n(n8nUrl);
    await n8n.rest('POST', '/owner/setup', { email: 'owner@example.com', firstName: 'Lifeboat', lastName: 'Test', password: 'Lifeboat-e2e-1' });
    // Newer n8n requires the key's scopes (and lists the allowed ones); older ones take a label only.
    const scopes = await n8n.rest<string[]>('GET', '/api-keys/scopes').catch(() => undefined);
    const made = await n8n.rest<{ rawApiKey?: string; apiKey?: string }>('POST', '/api-keys', { label: 'lifeboat-e2e', ...(scopes ? { scopes, expiresAt: null } : {}) });
    n8n.apiKey = made.rawApiKey ?? made.apiKey ?? '';
    assert.ok(n8n.apiKey, 'n8n returned an API key');

    const secret = `e2e-secret-${randomBytes(6).toString('hex')}`;
    const cred = await n8n.api<{ id: string; name: string }>('POST', '/credentials', { name: 'Example token', type: 'httpHeaderAuth', data: { name: 'X-Token', value: secret } });
    assert.equal(cred.status, 200, JSON.stringify(cred.body));
    const workflow = (name: string) => ({
      name,
      nodes: [
        { name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
        {
          name: 'Call API',
          type: 'n8n-nodes-base.httpRequest',
          typeVersion: 4.2,
          position: [220, 0],
          parameters: { url: 'https://api.example.com/orders', authentication: 'genericCredentialType', genericAuthType: 'httpHeaderAuth', options: {} },
          credentials: { httpHeaderAuth: { id: cred.body.id, name: cred.body.name } },
        },
      ],
      connections: { Start: { main: [[{ node: 'Call API', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1' },
    });
    const sync = await n8n.api<Workflow>('POST', '/workflows', workflow('Invoice sync'));
    assert.equal(sync.status, 200, JSON.stringify(sync.body));
    const report = await n8n.api<Workflow>('POST', '/workflows', workflow('Nightly report'));
    assert.equal(report.status, 200, JSON.stringify(report.body));

    const env = { E2E_N8N_ENCRYPTION_KEY: n8nKey, E2E_N8N_API_KEY: n8n.apiKey };
    const backup = await ws.cli(['backup', 'flows', '--json'], { env });
    assert.equal(backup.code, 0, backup.stderr);
    const { id } = backup.json<{ id: string }>();
    const listed = await ws.cli(['contents', id, '--workflows'], { env });
    assert.match(listed.stdout, /Invoice sync/);
    assert.match(listed.stdout, /Nightly report/);
    const show = await ws.cli(['show', id, '--json'], { env });
    assert.ok(!show.stdout.includes(secret) && !readFileSync(path.join(ws.home, 'catalog.sqlite')).includes(secret), 'the credential secret is nowhere in the manifest or catalog');
    // The instance id Lifeboat derives from the key is the one n8n itself reports.
    const settings = await n8n.rest<{ instanceId?: string }>('GET', '/settings');
    const info = show.json<{ manifest: { app: { info?: { instanceId?: string; keyFound?: boolean; credentials?: number } } } }>().manifest.app.info;
    assert.equal(info?.keyFound, true);
    assert.equal(info?.credentials, 1);
    assert.equal(info?.instanceId, settings.instanceId);

    const gone = await n8n.api('DELETE', `/workflows/${sync.body.id}`);
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
    assert.equal((await n8n.api('GET', `/workflows/${sync.body.id}`)).status, 404);

    const restored = await ws.cli(['restore', id, '--workflow', sync.body.id, '--to-n8n'], { env });
    assert.equal(restored.code, 0, restored.stderr);
    const day = id.slice('flows-'.length, 'flows-'.length + 8);
    const all = await n8n.api<{ data: Workflow[] }>('GET', '/workflows?limit=250');
    const back = all.body.data.find((w) => w.name === `Invoice sync_backup_${day}`);
    assert.ok(back, `n8n lists "Invoice sync_backup_${day}": ${all.body.data.map((w) => w.name).join(', ')}`);
    assert.equal(back.active, false);
    assert.deepEqual(back.nodes.map((n) => [n.name, n.type, n.parameters, n.credentials?.httpHeaderAuth?.id]), sync.body.nodes.map((n) => [n.name, n.type, n.parameters, n.credentials?.httpHeaderAuth?.id]));
    assert.deepEqual(back.connections, sync.body.connections);
  });
});
