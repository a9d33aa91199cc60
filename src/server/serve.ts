import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { dummyHash } from '../auth/passwords.ts';
import { purgeSessions } from '../auth/sessions.ts';
import { purgeLoginAttempts } from '../auth/throttle.ts';
import { LifeboatError } from '../errors.ts';
import { createApp } from './app.ts';
import type { ServerContext } from './context.ts';
import { CatalogReader } from './catalog-reader.ts';
import { JobHub } from './job-hub.ts';
import { webBuilt } from './web.ts';

export interface ApiServer {
  /** The address it listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  context: ServerContext;
  /** Whether the web UI is built (dist/web): / serves it, or a page saying how to build it. */
  webBuilt: boolean;
  /** Stops accepting, ends event streams, gives running API jobs `graceMs`, then cancels them. */
  close(graceMs: number): Promise<void>;
}

/** Splits `host:port` (or a bare port: loopback). */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(listen);
  const port = Number(m?.[2]);
  if (!m || !(port >= 0 && port < 65536)) throw new LifeboatError('E_CONFIG', `server.listen ${listen}: expected host:port, e.g. 127.0.0.1:8080`);
  return { host: m[1] || '127.0.0.1', port };
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** Why listening like this is risky, or nothing: beyond loopback, plain HTTP, and no proxy in front. */
export function listenWarnings(loaded: LoadedConfig, host: string): string[] {
  const s = loaded.config.server;
  if (LOOPBACK.has(host) || s.tls || s.trustProxy.length) return [];
  return [`the API listens on ${host} over plain HTTP with no trusted proxy: passwords and session cookies cross the network in clear; set server.tls, or put a TLS proxy in front and list it in server.trustProxy`];
}

/**
 * Starts the HTTP API on server.listen (or `listen`). The daemon runs beside it in the same
 * process (cli/commands/daemon.ts); both share the catalog connection.
 */
export async function startApiServer(loaded: LoadedConfig, catalog: Catalog, options: { listen?: string; log: ServerContext['log']; checkResponses?: boolean; current?: () => LoadedConfig; reload?: () => void }): Promise<ApiServer> {
  const cfg = loaded.config.server;
  const { host, port } = parseListen(options.listen ?? cfg.listen);
  const proxies = new BlockList();
  for (const range of cfg.trustProxy) {
    const [addr, bits] = range.split('/');
    const family = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits) proxies.addSubnet(addr!, Number(bits), family);
    else proxies.addAddress(addr!, family);
  }
  const socketAddress = (c: Context) => getConnInfo(c).remote.address ?? 'unknown';
  const fromProxy = (c: Context) => {
    const a = socketAddress(c).replace(/^::ffff:/, '');
    return cfg.trustProxy.length > 0 && isIP(a) !== 0 && proxies.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
  const stopping = new AbortController();
  const hub = new JobHub();
  // The reader thread's failure is always said (pages then cost the main thread); its start only
  // with LIFEBOAT_DEBUG.
  const reader = new CatalogReader(catalog, (level, m) => (level === 'warn' ? options.log('warn', m) : process.env.LIFEBOAT_DEBUG ? options.log('info', m) : undefined));
  const context: ServerContext = {
    loaded: options.current ?? (() => loaded),
    reload: options.reload ?? (() => undefined),
    catalog,
    reader,
    hub,
    planKey: randomBytes(32),
    stopping: stopping.signal,
    secure: (c) => cfg.tls !== undefined || (fromProxy(c) && c.req.header('x-forwarded-proto') === 'https'),
    // The client nearest to the trusted proxies: the last X-Forwarded-For entry not itself a proxy.
    address: (c) => {
      if (!fromProxy(c)) return socketAddress(c).replace(/^::ffff:/, '');
      const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
      while (hops.length > 1 && isIP(hops.at(-1)!) && proxies.check(hops.at(-1)!, isIP(hops.at(-1)!) === 6 ? 'ipv6' : 'ipv4')) hops.pop();
      return hops.at(-1) ?? socketAddress(c);
    },
    publicOrigin: cfg.publicUrl ? new URL(cfg.publicUrl).origin : undefined,
    log: options.log,
  };
  // The S3 SDK takes a quarter of a second of the thread to load: before listening, not on the
  // daemon's first use of the storage while requests wait.
  if (Object.values(loaded.config.storages).some((st) => st.type === 's3')) await import('../storage/drivers/s3.ts');
  const { app } = createApp(context, { checkResponses: options.checkResponses });
  const server = cfg.tls
    ? createAdaptorServer({ fetch: app.fetch, createServer: createHttpsServer, serverOptions: { cert: readPem(cfg.tls.cert, 'cert'), key: readPem(cfg.tls.key, 'key') } })
    : createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new LifeboatError('E_CONFIG', `cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}`, { hint: 'set server.listen in lifeboat.yaml, pass --listen, or run the daemon alone with --no-api' })));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  const url = `${cfg.tls ? 'https' : 'http'}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  for (const w of listenWarnings(loaded, host)) options.log('warn', w);
  // The first login of an unknown name must not answer faster than the rest (auth/throttle.ts).
  void dummyHash();
  // Expired sessions and forgotten login failures leave the catalog now and then.
  const housekeeping = setInterval(() => {
    try {
      purgeSessions(catalog);
      purgeLoginAttempts(catalog);
    } catch (err) {
      options.log('warn', `session clean-up failed: ${(err as Error).message}`);
    }
  }, 3_600_000);
  housekeeping.unref();
  return {
    url,
    context,
    webBuilt: webBuilt(),
    close: async (graceMs) => {
      clearInterval(housekeeping);
      stopping.abort();
      const closed = new Promise<void>((r) => server.close(() => r()));
      // Event streams and keep-alive connections would hold close() open.
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      await hub.stop(graceMs);
      (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await closed;
      await reader.close();
    },
  };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new LifeboatError('E_CONFIG', `server.tls.${what} ${file}: ${(err as Error).message}`);
  }
}
