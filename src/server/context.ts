import type { Context } from 'hono';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { CatalogReader } from './catalog-reader.ts';
import type { JobHub } from './job-hub.ts';

/** What every route is given: the configuration now, the catalog, and the jobs the API started. */
export interface ServerContext {
  /** The configuration now: the file's, plus the objects created over the API. */
  loaded(): LoadedConfig;
  /** Called after an API write to targets, storages or channels, so the next request sees it. */
  reload(): void;
  catalog: Catalog;
  /** Reads pages of the backup list in a worker thread (serve); without it, in this one. */
  reader?: CatalogReader;
  hub: JobHub;
  /** Signs restore plan tokens (restore-token.ts); random per process, so a restart voids old plans. */
  planKey: Buffer;
  /** The requests came over HTTPS (TLS here, or a trusted proxy says so): cookies get `Secure`. */
  secure(c: Context): boolean;
  /** The client's address: the socket's, or X-Forwarded-For's when the socket is a trusted proxy. */
  address(c: Context): string;
  /** The origin the UI is served from (server.publicUrl), for the CSRF check; undefined: the request's Host. */
  publicOrigin: string | undefined;
  /** Fires when the server stops: event streams end. */
  stopping: AbortSignal;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}
