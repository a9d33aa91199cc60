import { accessSync, constants } from 'node:fs';
import type { Catalog } from '../catalog/catalog.ts';
import type { ObjectKind } from '../catalog/objects.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { checkStorage, type StorageHealth } from '../jobs/storage-health.ts';
import type { DeliveryOutcome } from '../notify/deliver.ts';
import { sendTestNotification } from '../notify/test-send.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { connect, databaseOf, pgError, redactUrl, withDatabase } from '../postgres/connection.ts';
import { targetEndpoint } from '../postgres/target.ts';
import { listDatabases, serverVersion } from '../postgres/introspect.ts';
import type { LoadedConfig } from './load.ts';
import { refreshObjects } from './objects-merge.ts';
import type { TargetConfig } from './schema.ts';

/** One thing a connection test checked. */
export interface ProbeCheck {
  name: string;
  ok: boolean;
  /** What was found, or what failed (never a secret). */
  detail: string;
  hint?: string;
}

/** What testing an object found: `ok` when every check passed. */
export interface ObjectTestReport {
  kind: ObjectKind;
  name: string;
  ok: boolean;
  checks: ProbeCheck[];
  /** Storages: the health check's full report (reachable, writable, free space, use). */
  storage?: StorageHealth;
  /** Channels: the test event's delivery. */
  delivery?: DeliveryOutcome;
  ms: number;
}

/**
 * Tests an object in effect (the file's or the catalog's) the way its first real use would: a
 * target connects to its PostgreSQL server, checks the databases it names exist and that a
 * pg_dump fits the server's version, and that its file sets can be read; a storage is listed,
 * written to, read back and its space measured (jobs/storage-health.ts); a channel is sent a
 * test event (notify/test-send.ts). Failures are the report; only an unknown name throws
 * (E_NOT_FOUND).
 */
export async function testObject(loaded: LoadedConfig, catalog: Catalog, kind: ObjectKind, name: string): Promise<ObjectTestReport> {
  refreshObjects(loaded, catalog);
  const started = Date.now();
  const report: ObjectTestReport = { kind, name, ok: false, checks: [], ms: 0 };
  if (kind === 'storage') {
    const health = await checkStorage(loaded, catalog, name, { write: true });
    report.storage = health;
    report.checks.push({ name: 'reachable', ok: health.reachable, detail: health.reachable ? `${health.objects ?? 0} object(s) there` : health.error ?? 'not reachable' });
    if (health.reachable) report.checks.push({ name: 'writable', ok: health.writable === true, detail: health.writable ? 'wrote, read back and deleted a probe object' : health.error ?? 'not writable' });
  } else if (kind === 'channel') {
    const delivery = await sendTestNotification(loaded, catalog, name);
    report.delivery = delivery;
    report.checks.push({ name: 'test event sent', ok: delivery.ok, detail: delivery.ok ? `delivered${delivery.statusCode ? `: HTTP ${delivery.statusCode}` : ''}` : delivery.error ?? 'not delivered' });
  } else {
    const target = loaded.config.targets[name];
    if (!target) {
      const names = Object.keys(loaded.config.targets);
      throw new LifeboatError('E_NOT_FOUND', `no target named "${name}"`, { hint: names.length ? `targets: ${names.join(', ')}` : 'none is configured' });
    }
    if (target.postgres) report.checks.push(...(await postgresChecks(target.postgres)));
    report.checks.push(...fileChecks(target));
  }
  report.ok = report.checks.every((c) => c.ok);
  report.ms = Date.now() - started;
  return report;
}

async function postgresChecks(pgConfig: NonNullable<TargetConfig['postgres']>): Promise<ProbeCheck[]> {
  const checks: ProbeCheck[] = [];
  let client;
  try {
    const endpoint = await targetEndpoint(pgConfig);
    const maintenance = databaseOf(endpoint) ? endpoint : withDatabase(endpoint, 'postgres');
    client = await connect(maintenance);
    let version: { major: number; version: string };
    let databases: { name: string }[];
    try {
      version = await serverVersion(client);
      databases = await listDatabases(client);
    } catch (err) {
      throw pgError(err, maintenance);
    }
    checks.push({ name: 'server reachable', ok: true, detail: `PostgreSQL ${version.version} at ${redactUrl(maintenance.url)}` });
    if (pgConfig.databases !== 'all') {
      const missing = pgConfig.databases.filter((d) => !databases.some((x) => x.name === d));
      checks.push({
        name: 'databases exist', ok: missing.length === 0,
        detail: missing.length ? `not on the server: ${missing.join(', ')}` : pgConfig.databases.join(', '),
        hint: missing.length ? `databases there: ${databases.map((d) => d.name).join(', ') || 'none'}` : undefined,
      });
    }
    try {
      const tools = endpoint.exec ? await endpoint.exec.tools() : await toolsForServer(version.major, pgConfig.binDir);
      checks.push({ name: 'pg_dump fits the server', ok: true, detail: `pg_dump ${tools.version} from ${tools.dir}` });
    } catch (err) {
      const e = asLifeboatError(err);
      checks.push({ name: 'pg_dump fits the server', ok: false, detail: e.message, hint: e.hint });
    }
  } catch (err) {
    const e = asLifeboatError(err);
    checks.push({ name: 'server reachable', ok: false, detail: e.message, hint: e.hint });
  } finally {
    await client?.end().catch(() => undefined);
  }
  return checks;
}

function fileChecks(target: TargetConfig): ProbeCheck[] {
  return Object.entries(target.files).map(([set, fileSet]) => {
    const unreadable = fileSet.paths.filter((p) => {
      try {
        accessSync(p, constants.R_OK);
        return false;
      } catch {
        return true;
      }
    });
    return {
      name: `file set ${set}`, ok: unreadable.length === 0,
      detail: unreadable.length ? `cannot read: ${unreadable.join(', ')}` : `${fileSet.paths.length} path(s) readable`,
      hint: unreadable.length ? 'fix the paths, or make them readable by the user running lifeboat' : undefined,
    };
  });
}
