import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Workspace } from './workspace.ts';

/** A `lifeboat serve` child on a free loopback port, answering 500 to responses off their schema. */
export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /**
   * The one-time setup token it prints while no admin exists, once printed: the line follows the
   * listening line, a moment later on a loaded machine (waits up to 10 s; undefined if none came).
   */
  setupToken(): Promise<string | undefined>;
  /** SIGTERM, then waits for it to exit; answers its exit code. */
  stop(): Promise<number | null>;
}

export async function startServe(ws: Workspace, options: { env?: NodeJS.ProcessEnv; args?: string[] } = {}): Promise<ServeProcess> {
  const child = ws.spawnCli(['serve', '--listen', '127.0.0.1:0', '--check-responses', '--tick', '3600', '--grace', '20', ...(options.args ?? [])], { env: options.env });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    // 60 s: at a load of 20 on two cores, a Node start with the server's modules took over 30.
    // A server that did not start is killed: its child would keep this process alive.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lifeboat serve did not start in 60 s:\n${output}`));
    }, 60_000);
    const look = () => {
      const m = /API listening on (http\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr!.on('data', look);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`lifeboat serve exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    setupToken: async () => {
      for (let waited = 0; ; waited += 50) {
        const m = /#token=([A-Za-z0-9_-]+)/.exec(output);
        if (m || waited >= 10_000) return m?.[1];
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop: async () => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code as number | null;
    },
  };
}

/**
 * A user made with the CLI's `user add --password-stdin`, in process (ws.run): set-up, not what
 * is tested; test/auth/cli.test.ts runs that command as its own process.
 */
export async function addUser(ws: Workspace, name: string, role: 'viewer' | 'operator' | 'admin', password: string, env?: NodeJS.ProcessEnv): Promise<void> {
  const r = await ws.run(['user', 'add', name, '--role', role, '--password-stdin'], { input: `${password}\n`, env });
  if (r.code !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
}

/** A token made with the CLI's `token create`, in process like addUser; answers the lb_... it printed once. */
export async function addToken(ws: Workspace, name: string, scopes: string[], user: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await ws.run(['token', 'create', name, '--user', user, '--scope', ...scopes, '--json'], { env });
  if (r.code !== 0) throw new Error(`token create ${name}: ${r.stderr}`);
  return r.json<{ token: string }>().token;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json<T = Record<string, unknown>>(): T;
}

export interface Caller {
  token?: string;
  /** A browser session: the cookie and its CSRF token. */
  session?: { cookie: string; csrf: string };
  headers?: Record<string, string>;
}

/** One request to the server, as a client would make it. */
export async function call(base: string, method: string, path: string, options: Caller & { body?: unknown; rawBody?: string | Uint8Array } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.session) {
    headers.cookie = options.session.cookie;
    if (!['GET', 'HEAD'].includes(method)) {
      headers['x-csrf-token'] ??= options.session.csrf;
      headers.origin ??= base;
    }
  }
  let payload: string | Uint8Array | undefined = options.rawBody;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  } else if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(base + path, { method, headers, body: payload as BodyInit | undefined, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}

/** Signs in with a password; answers the session as a browser would hold it. */
export async function signIn(base: string, name: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const r = await call(base, 'POST', '/api/v1/session', { body: { name, password } });
  if (r.status !== 200) throw new Error(`sign-in of ${name}: ${r.status} ${r.text}`);
  const cookie = /lifeboat_session=[^;]+/.exec(r.headers.get('set-cookie') ?? '')?.[0];
  if (!cookie) throw new Error(`sign-in of ${name} set no cookie`);
  return { cookie, csrf: r.json<{ csrfToken: string }>().csrfToken };
}
