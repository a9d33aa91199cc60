// A backup's pre-flight: what the server holds and whether the storage has room, learned before
// a byte is written.

import { LifeboatError } from '../errors.ts';
import type { TargetConfig } from '../config/schema.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { connect, databaseOf, pgError, withDatabase } from '../postgres/connection.ts';
import { targetEndpoint } from '../postgres/target.ts';
import { listDatabases, serverVersion } from '../postgres/introspect.ts';
import { formatBytes } from '../util/format.ts';
import type { PgPlan, WriteContext } from './backup-context.ts';
import type { Job } from './job.ts';
import { freeSpaceFor } from './prune.ts';

export async function planPostgres(pgConfig: NonNullable<TargetConfig['postgres']>, job: Job): Promise<PgPlan> {
  const endpoint = await targetEndpoint(pgConfig);
  const maintenance = databaseOf(endpoint) ? endpoint : withDatabase(endpoint, 'postgres');
  const client = await connect(maintenance);
  let server: { major: number; version: string };
  let available: { name: string; sizeBytes: number }[];
  try {
    server = await serverVersion(client);
    available = await listDatabases(client);
  } catch (err) {
    throw pgError(err, maintenance);
  } finally {
    await client.end().catch(() => undefined);
  }
  const tools = endpoint.exec ? await endpoint.exec.tools() : await toolsForServer(server.major, pgConfig.binDir);
  job.log('info', `PostgreSQL ${server.version}; using pg_dump ${tools.version} from ${tools.dir}`);
  let databases: { name: string; sizeBytes: number }[];
  if (pgConfig.databases === 'all') {
    databases = available;
  } else {
    databases = pgConfig.databases.map((name) => {
      const found = available.find((d) => d.name === name);
      if (!found) {
        throw new LifeboatError('E_PG_DATABASE', `database "${name}" does not exist on the server`, {
          hint: `databases there: ${available.map((d) => d.name).join(', ') || 'none'}`,
        });
      }
      return found;
    });
  }
  return { endpoint, tools, serverVersion: server.version, databases };
}

/**
 * Refuses to start a backup the storage cannot hold, or that would leave it under the target's
 * critical free space (`criticalFreeSpacePercent`, default 5%). The size is estimated from the
 * target's last successful backup, else from the databases' and files' size. With
 * `onCriticalSpace: delete-oldest` the oldest backups retention's floors allow are deleted first
 * to make room; otherwise (or when that is not enough) the backup is refused and a `critical_space`
 * event is raised.
 */
export async function ensureRoom(c: WriteContext, rawEstimate: number): Promise<void> {
  const { storage, target, job, catalog } = c;
  const space = await storage.space();
  if (!space || space.total === 0) return;
  const last = catalog.listBackups(c.targetName).find((b) => (b.status === 'ok' || b.status === 'degraded') && b.size !== null && b.trigger !== 'pre-restore');
  // Compressed bundles of real databases are rarely over half of pg_database_size (indexes are
  // not dumped); uncompressed ones can be as large as the data.
  const needed = last?.size ?? Math.ceil(target.compression.algorithm === 'none' ? rawEstimate : rawEstimate / 2);
  const critical = target.retention?.criticalFreeSpacePercent ?? 5;
  const percentAfter = (free: number) => (100 * (free - needed)) / space.total;
  if (percentAfter(space.free) >= critical && space.free >= needed) return;

  let free = space.free;
  if (target.retention?.onCriticalSpace === 'delete-oldest') {
    const freed = await freeSpaceFor(c, { freeBytes: space.free - needed, totalBytes: space.total }, critical);
    free += freed;
    if (freed) job.log('warn', `deleted ${formatBytes(freed)} of old backups to keep ${critical}% of storage "${storage.name}" free`);
  }
  if (percentAfter(free) >= critical && free >= needed) return;
  const message = `storage "${storage.name}" has ${formatBytes(free)} free of ${formatBytes(space.total)}; this backup needs about ${formatBytes(needed)}, which would leave ${Math.max(0, percentAfter(free)).toFixed(1)}% (critical: ${critical}%)`;
  catalog.recordEvent({ kind: 'critical_space', severity: 'critical', target: c.targetName, backupId: c.id, jobId: job.id, message, data: { storage: storage.name, free, total: space.total, needed } });
  throw new LifeboatError('E_NO_SPACE', message, {
    hint: target.retention?.onCriticalSpace === 'delete-oldest'
      ? 'retention\'s floors (newest, verified, protected, minKeep) keep the rest: free space or move the target to another storage'
      : 'free space, prune old backups, set retention.onCriticalSpace: delete-oldest, or point the target at another storage',
  });
}
