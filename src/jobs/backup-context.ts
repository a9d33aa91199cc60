// What the phases of one backup share once it has started.

import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { TargetConfig } from '../config/schema.ts';
import type { PgTools } from '../postgres/binaries.ts';
import type { PgEndpoint } from '../postgres/connection.ts';
import type { getProfile } from '../profiles/index.ts';
import type { StorageDriver } from '../storage/storage.ts';
import type { Job } from './job.ts';

export interface WriteContext {
  loaded: LoadedConfig;
  catalog: Catalog;
  target: TargetConfig;
  targetName: string;
  profile: ReturnType<typeof getProfile>;
  storage: StorageDriver;
  id: string;
  key: string;
  bundleName: string;
  started: Date;
  /** The backup's clock: real time, shifted when `options.now` moved the start. */
  now: () => Date;
  job: Job;
  partSize: number | undefined;
}

/** What pre-flight learned about the server, so the dump phase does not ask again. */
export interface PgPlan {
  endpoint: PgEndpoint;
  tools: PgTools;
  serverVersion: string;
  databases: { name: string; sizeBytes: number }[];
}
