import { asLifeboatError } from '../errors.ts';
import { toolsForServer, type PgTools } from '../postgres/binaries.ts';
import type { PgEndpoint } from '../postgres/connection.ts';

/**
 * pg_restore must be at least as new as the pg_dump that wrote the archive; against a newer
 * server an older pg_restore works. Prefer the tools matching the server, else the oldest that
 * reads the archive. A server in a container uses the container's own tools.
 */
export async function restoreTools(serverMajor: number, dumpMajor: number, server?: PgEndpoint): Promise<PgTools> {
  if (server?.exec) return server.exec.tools();
  try {
    return await toolsForServer(Math.max(serverMajor, dumpMajor));
  } catch (err) {
    if (asLifeboatError(err).code !== 'E_PG_VERSION' || serverMajor <= dumpMajor) throw err;
    return toolsForServer(dumpMajor);
  }
}
