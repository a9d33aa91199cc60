import { accessSync, constants } from 'node:fs';
import type { Catalog } from '../catalog/catalog.ts';
import type { ObjectKind } from '../catalog/objects.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { checkStorage, type StorageHealth } from '../jobs/storage-health.ts';
import type { DeliveryOutcome } from '../notify/deliver.ts';
import { sendTestNotification } from '../notify/test-send.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { connect, databaseOf, pgError, redactUrl, withDatabase, type PgEndpoint } from '../postgres/connection.ts';
import { targetEndpoint } from '../postgres/target.ts';
import { listDatabases, serverVersion } from '../postgres/introspect.ts';
import { detectProfile } from '../profiles/index.ts';
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

/** A target's databases as a backup would take them, and the app profile `auto` finds in each. */
export interface DetectedApp {
  /** The profile the target names (`auto` chooses per database). */
  configured: string;
  /** `error`: this database could not be looked into (e.g. no CONNECT privilege); a backup would fail the same way. */
  databases: { name: string; sizeBytes: number; tables: number; profile: 'n8n' | 'django' | 'prisma' | 'generic'; error?: string }[];
  /** More databases than were looked into (the first DETECT_LIMIT are). */
  more: number;
}

/** How many databases a test looks into: a server with hundreds is still tested in seconds. */
const DETECT_LIMIT = 20;

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
  /** Targets: what a backup would find now, before any backup (the first-run wizard shows it). */
  detected?: DetectedApp;
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
    if (target.postgres) {
      const pg = await postgresChecks(target.postgres, target);
      report.checks.push(...pg.checks);
      report.detected = pg.detected;
    }
    report.checks.push(...fileChecks(target));
  }
  report.ok = report.checks.every((c) => c.ok);
  report.ms = Date.now() - started;
  return report;
}

async function postgresChecks(pgConfig: NonNullable<TargetConfig['postgres']>, target: TargetConfig): Promise<{ checks: ProbeCheck[]; detected?: DetectedApp }> {
  const checks: ProbeCheck[] = [];
  let detected: DetectedApp | undefined;
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
    const taken = pgConfig.databases === 'all' ? databases : databases.filter((d) => (pgConfig.databases as string[]).includes(d.name));
    detected = await detect(maintenance, taken as { name: string; sizeBytes: number }[], target);
    checks.push(profileCheck(detected));
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
  return { checks, detected };
}

/** Each database's tables and the profile `auto` would choose there (profiles/index.ts). */
async function detect(endpoint: PgEndpoint, databases: { name: string; sizeBytes: number }[], target: TargetConfig): Promise<DetectedApp> {
  const out: DetectedApp = { configured: target.profile, databases: [], more: Math.max(0, databases.length - DETECT_LIMIT) };
  for (const d of databases.slice(0, DETECT_LIMIT)) {
    let client;
    try {
      client = await connect(withDatabase(endpoint, d.name));
      const profile = await detectProfile(client, target);
      const { rows } = await client.query<{ n: string }>("select count(*) as n from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')");
      out.databases.push({ name: d.name, sizeBytes: d.sizeBytes, tables: Number(rows[0]!.n), profile });
    } catch (err) {
      out.databases.push({ name: d.name, sizeBytes: d.sizeBytes, tables: 0, profile: 'generic', error: asLifeboatError(pgError(err, withDatabase(endpoint, d.name))).message });
    } finally {
      await client?.end().catch(() => undefined);
    }
  }
  return out;
}

/** Says which app was found; a profile that would miss an app's items says what to set (not a failure: the dump is whole either way). */
function profileCheck(d: DetectedApp): ProbeCheck {
  const apps = d.databases.filter((x) => x.profile !== 'generic');
  const found = d.databases.map((x) => `${x.name}: ${x.profile}`).join(', ') || 'no database';
  if (d.configured === 'auto' || apps.every((x) => x.profile === d.configured)) {
    return { name: 'app profile', ok: true, detail: d.configured === 'auto' ? `auto detects ${found}` : `${d.configured}, as set (${found})` };
  }
  const want = apps[0]!.profile;
  return {
    name: 'app profile', ok: true, detail: `${want} found (${found}), but the target's profile is ${d.configured}`,
    hint: `set profile: ${want} (or auto) to also back up its app items (workflows, credentials' names, migration state)`,
  };
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
