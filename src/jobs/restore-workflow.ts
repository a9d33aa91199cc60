import type { Catalog } from '../catalog/catalog.ts';
import { keysFor } from '../bundle/codec.ts';
import { refuseUntrusted } from '../bundle/trust.ts';
import type { LoadedConfig } from '../config/load.ts';
import { LifeboatError } from '../errors.ts';
import { toolsForServer } from '../postgres/binaries.ts';
import { parsePgUrl } from '../postgres/connection.ts';
import { readCopyData } from '../postgres/copy.ts';
import { runTool } from '../postgres/dump.ts';
import { workflowChecksum } from '../profiles/n8n.ts';
import { pushWorkflow } from '../profiles/n8n-api.ts';
import type { AppItem } from '../profiles/profile.ts';
import { Copies } from './copies.ts';
import { extractBundle } from './extract.ts';
import { Job, type JobListener } from './job.ts';
import { createTempDir, removeTempDir } from './resources.ts';

/** A workflow as `n8n import:workflow` reads it. */
export interface WorkflowExport {
  id: string;
  name: string;
  active: boolean;
  nodes: unknown;
  connections: unknown;
  settings?: unknown;
  staticData?: unknown;
  pinData?: unknown;
  meta?: unknown;
  versionId?: string;
  isArchived?: boolean;
  createdAt?: string;
  updatedAt?: string;
}

const JSON_COLUMNS = new Set(['nodes', 'connections', 'settings', 'staticData', 'pinData', 'meta']);

/** The backup's n8n workflows a user named, by id or exact name; an ambiguous name is refused with the ids. */
export function selectWorkflows(items: AppItem[], wanted: string[], backupId: string): AppItem[] {
  const workflows = items.filter((i) => i.kind === 'workflow');
  if (!workflows.length) throw new LifeboatError('E_USAGE', `backup ${backupId} holds no n8n workflows`, { hint: 'workflows are recorded for targets with profile: n8n' });
  return wanted.map((w) => {
    const byId = workflows.find((i) => i.id === w);
    if (byId) return byId;
    const byName = workflows.filter((i) => i.name === w);
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw new LifeboatError('E_AMBIGUOUS', `${byName.length} workflows are named "${w}": ${byName.map((i) => i.id).join(', ')}`, { hint: 'name it by id' });
    throw new LifeboatError('E_NOT_FOUND', `backup ${backupId} has no workflow "${w}"`, { hint: `find it with \`lifeboat contents ${backupId} --workflows --search <text>\`` });
  });
}

/**
 * Gets n8n workflows out of a backup without restoring its database: the dump is extracted
 * (checksums checked), then only the workflow table's data is read from it
 * (`pg_restore --data-only -t workflow_entity`, COPY text parsed as it streams). Each workflow
 * must match the checksum the backup recorded for it.
 */
export async function exportWorkflows(
  loaded: LoadedConfig,
  catalog: Catalog,
  prefix: string,
  wanted: string[] | 'all',
  options: { signal?: AbortSignal; listener?: JobListener; version?: string } = {},
): Promise<{ backupId: string; workflows: WorkflowExport[] }> {
  const backup = catalog.resolveBackup(prefix);
  if (backup.status !== 'ok' && backup.status !== 'degraded') throw new LifeboatError('E_USAGE', `backup ${backup.id} is ${backup.status}: nothing to restore from it`);
  const manifest = catalog.getManifest(backup.id)!;
  const items = manifest.app.items;
  const selected = wanted === 'all' ? selectWorkflows(items, items.filter((i) => i.kind === 'workflow').map((i) => i.id), backup.id) : selectWorkflows(items, wanted, backup.id);
  if (options.version) {
    if (selected.length !== 1) throw new LifeboatError('E_USAGE', '--workflow-version goes with a single --workflow');
    const versions = (selected[0]!.details?.versions as { versionId: string }[] | undefined) ?? [];
    if (!versions.some((v) => v.versionId === options.version)) {
      throw new LifeboatError('E_NOT_FOUND', `workflow ${selected[0]!.id} has no version ${options.version} in backup ${backup.id}`, {
        hint: versions.length ? `versions in it, newest first: ${versions.map((v) => v.versionId).join(', ')}` : 'this n8n keeps no workflow history',
      });
    }
  }
  const info = (manifest.app.info ?? {}) as { schema?: string; tablePrefix?: string };
  const schema = info.schema ?? 'public';
  const table = `${info.tablePrefix ?? ''}workflow_entity`;
  const signal = options.signal ?? new AbortController().signal;
  return Job.run(catalog, { kind: 'restore-workflow', target: backup.target, backupId: backup.id, trigger: 'manual' }, options.listener ?? {}, signal, async (job) => {
    const copies = await Copies.open(loaded, catalog, backup, (level, message) => job.log(level, message));
    const temp = await createTempDir(loaded, 'lifeboat-workflow-');
    try {
      const workflows: WorkflowExport[] = [];
      for (const dbName of new Set(selected.map((s) => s.database ?? ''))) {
        const db = manifest.postgres?.databases.find((d) => d.name === dbName);
        if (!db) throw new LifeboatError('E_BUNDLE_CORRUPT', `the manifest names workflows in database ${dbName}, which the backup does not hold`);
        const history = `${info.tablePrefix ?? ''}workflow_history`;
        const { dumps } = await extractBundle(
          { storage: copies.current.storage, key: copies.current.key, keys: keysFor(loaded.config.targets[backup.target]?.encryption), manifest },
          { databases: [db], files: [], tables: [{ schema, name: table }, ...(options.version ? [{ schema, name: history }] : [])] },
          temp,
          job,
        );
        const tools = await toolsForServer(Number(manifest.postgres!.pgDumpVersion.split('.')[0]));
        const ids = new Set(selected.filter((s) => s.database === dbName).map((s) => s.id));
        job.log('info', `reading ${schema}.${table} from the dump of ${dbName}`);
        const tablesArgs = options.version ? ['-t', table, '-t', history] : ['-t', table];
        const run = runTool(tools.pgRestore, ['--data-only', '-n', schema, ...tablesArgs, '-f', '-', dumps.get(dbName)!], parsePgUrl('postgres://localhost/postgres'), signal);
        const keep = (t: string, row: Record<string, string | null>) => (t.endsWith(history) ? row.versionId === options.version : ids.has(row.id ?? ''));
        const [data] = await Promise.all([readCopyData(run.stdout, keep), run.done]);
        const found = data.find((t) => t.table === `${schema}.${table}`);
        for (const row of found?.rows ?? []) workflows.push(toExport(Object.fromEntries(found!.columns.map((c, i) => [c, row[i]]))));
        const old = data.find((t) => t.table === `${schema}.${history}`);
        if (options.version && old?.rows[0]) {
          // The version's nodes and connections on the workflow's current name and settings.
          const v = Object.fromEntries(old.columns.map((c, i) => [c, old.rows[0]![i]]));
          const w = workflows.find((x) => x.id === v.workflowId);
          if (w) Object.assign(w, { nodes: JSON.parse(v.nodes!) as unknown, connections: JSON.parse(v.connections!) as unknown, versionId: options.version, fromHistory: true });
        }
      }
      for (const item of selected) {
        const w = workflows.find((x) => x.id === item.id);
        if (!w) throw new LifeboatError('E_BUNDLE_CORRUPT', `workflow ${item.id} is in the manifest but not in the dump`);
        if (options.version) {
          if ((w as { fromHistory?: boolean }).fromHistory !== true) throw new LifeboatError('E_BUNDLE_CORRUPT', `version ${options.version} is in the manifest but not in the dump`);
          delete (w as { fromHistory?: boolean }).fromHistory;
          job.log('info', `workflow ${item.id} (${item.name}) at version ${options.version}, from workflow_history`);
          continue;
        }
        if (workflowChecksum(w as unknown as Record<string, unknown>) !== item.checksum) {
          throw new LifeboatError('E_BUNDLE_CORRUPT', `workflow ${item.id} (${item.name}) does not match the checksum the backup recorded`);
        }
        job.log('info', `workflow ${item.id} (${item.name}) read back with its recorded checksum`);
      }
      return { backupId: backup.id, workflows: selected.map((s) => workflows.find((w) => w.id === s.id)!) };
    } finally {
      await removeTempDir(temp);
      await copies.close();
    }
  });
}

/** A workflow_entity row (COPY text) as n8n's import JSON: JSON columns parsed, booleans typed, inactive. */
function toExport(raw: Record<string, string | null | undefined>): WorkflowExport {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    if (JSON_COLUMNS.has(k)) out[k] = JSON.parse(v) as unknown;
    else if (k === 'active' || k === 'isArchived') out[k] = v === 't';
    else if (k === 'triggerCount') continue;
    else out[k] = k === 'versionId' ? v.trim() : v;
  }
  // Restored workflows start inactive: two live copies of one trigger would both fire.
  out.active = false;
  return out as unknown as WorkflowExport;
}

/**
 * `restore --workflow ... --to-n8n`: the workflows, read back from the backup as above, created
 * in the target's running n8n (`n8n.url`, `n8n.apiKey`) as new, inactive workflows named
 * `{name}_backup_{YYYYMMDD}` of the backup's date, or `name` for a single one.
 */
export async function restoreWorkflowsToN8n(
  loaded: LoadedConfig,
  catalog: Catalog,
  prefix: string,
  wanted: string[] | 'all',
  options: {
    name?: string;
    version?: string;
    /** Push workflows of an untrusted backup (catalog trust, mac.ts): without it such a backup is refused. */
    trustForeign?: boolean;
    signal?: AbortSignal;
    listener?: JobListener;
  } = {},
): Promise<{ backupId: string; created: { from: string; id: string; name: string }[] }> {
  const backup = catalog.resolveBackup(prefix);
  // A forged manifest names the workflows and their checksums: what reaches a live n8n (its
  // nodes run code and hold credentials' ids) comes only from a backup this installation vouches
  // for, or one the user says to trust, as the other restores.
  refuseUntrusted(backup, { trustForeign: options.trustForeign, files: 0 });
  const n8n = loaded.config.targets[backup.target]?.n8n;
  if (!n8n?.url || !n8n.apiKey) {
    throw new LifeboatError('E_CONFIG', `target "${backup.target}" has no n8n.url and n8n.apiKey in ${loaded.file}`, { hint: 'set them (an API key from n8n\'s Settings > n8n API), or use --as-file' });
  }
  const { workflows } = await exportWorkflows(loaded, catalog, backup.id, wanted, options);
  if (options.name && workflows.length > 1) throw new LifeboatError('E_USAGE', '--name goes with a single --workflow');
  const day = backup.startedAt.slice(0, 10).replaceAll('-', '');
  const created: { from: string; id: string; name: string }[] = [];
  for (const w of workflows) {
    const made = await pushWorkflow({ url: n8n.url, apiKey: n8n.apiKey }, w, options.name ?? `${w.name}_backup_${day}`);
    options.listener?.onLog?.('info', `created workflow ${made.id} "${made.name}" in n8n from ${w.id}`);
    created.push({ from: w.id, ...made });
  }
  return { backupId: backup.id, created };
}
