import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import type { FileSetConfig, TargetConfig } from '../config/schema.ts';
import { ident } from '../postgres/introspect.ts';
import type { AppItem, Profile, ProfileContext, ProfileReading } from './profile.ts';

type N8nOptions = NonNullable<TargetConfig['n8n']>;

/** What the manifest keeps of one workflow (metadata/workflows.json holds the same list). */
export interface WorkflowEntry {
  id: string;
  name: string;
  active: boolean;
  archived: boolean;
  createdAt: string | null;
  updatedAt: string | null;
  versionId: string | null;
  tags: string[];
  project: string | null;
  folder: string | null;
  nodes: number;
  triggers: string[];
  credentials: string[];
  /** The newest 20 versions in workflow_history, newest first, where n8n keeps history. */
  versions: { versionId: string; createdAt: string | null }[];
  checksum: string;
}

/** What the manifest keeps of one credential: never its `data`, in clear or encrypted. */
export interface CredentialEntry {
  id: string;
  name: string;
  type: string;
  createdAt: string | null;
  updatedAt: string | null;
  usedBy: string[];
}

const DEFAULTS: N8nOptions = { schema: 'public', tablePrefix: '', encryptionKeyEnv: 'N8N_ENCRYPTION_KEY', excludeExecutionData: false };

/** JSON with object keys sorted at every level: equal content, equal text, equal checksum. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    return v;
  };
  return JSON.stringify(sort(value)) ?? 'null';
}

/** A JSON column as an object: json/jsonb arrive parsed, text columns (older n8n) as strings. */
function json(v: unknown): unknown {
  if (typeof v !== 'string') return v ?? null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

/** The checksum of a workflow: sha256 of the canonical JSON of what makes it behave. */
export function workflowChecksum(row: Record<string, unknown>): string {
  const body = { nodes: json(row.nodes), connections: json(row.connections), settings: json(row.settings), staticData: json(row.staticData), pinData: json(row.pinData) };
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** n8n's instance id: sha256 of the second half of the encryption key, as n8n computes it. */
export function instanceIdOf(key: string): string {
  return createHash('sha256').update(key.slice(Math.round(key.length / 2))).digest('hex');
}

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : null);

function options(target: TargetConfig): N8nOptions {
  return { ...DEFAULTS, ...(target.n8n ?? {}) };
}

/** The user folder's `.n8n/config`, where n8n keeps the encryption key it generated. */
function configFile(o: N8nOptions, configDir: string): string {
  const folder = o.userFolder ? path.resolve(configDir, o.userFolder) : homedir();
  return path.join(folder, '.n8n', 'config');
}

/** The encryption key and where it was found, or undefined. */
export function findKey(target: TargetConfig, configDir: string): { key: string; source: string } | undefined {
  const o = options(target);
  const env = process.env[o.encryptionKeyEnv];
  if (env) return { key: env, source: `$${o.encryptionKeyEnv}` };
  const file = configFile(o, configDir);
  try {
    const key = (JSON.parse(readFileSync(file, 'utf8')) as { encryptionKey?: string }).encryptionKey;
    if (key) return { key, source: file };
  } catch {
    // No config file, or not JSON: no key there.
  }
  return undefined;
}

/**
 * findKey, then, for a database in a container, the n8n container beside it (src/docker/): a
 * Compose stack keeps the key there, not on the host. A Docker problem only means no key found.
 */
async function findKeyAnywhere(target: TargetConfig, configDir: string): Promise<{ key: string; source: string } | undefined> {
  const local = findKey(target, configDir);
  if (local || !target.postgres || target.postgres.url) return local;
  const { n8nKeyFromContainers } = await import('../docker/n8n-key.ts');
  return n8nKeyFromContainers(target, options(target).encryptionKeyEnv).catch(() => undefined);
}

async function tables(client: pg.Client, schema: string): Promise<Set<string>> {
  const { rows } = await client.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1', [schema]);
  return new Set(rows.map((r) => r.table_name));
}

async function columns(client: pg.Client, schema: string, table: string): Promise<string[]> {
  const { rows } = await client.query<{ column_name: string }>('select column_name from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position', [schema, table]);
  return rows.map((r) => r.column_name);
}

/**
 * n8n: its workflows (with tags, project, folder, node count, triggers and a checksum of their
 * canonical JSON), its credentials (names and types, never their data) and its migrations, read
 * in the dump's snapshot. Columns are read from information_schema: n8n's schema changes between
 * versions. The encryption key is looked for (environment, then the user folder's config file,
 * which the profile adds to the bundle's files); only n8n's instance id derived from it is kept.
 */
export const n8nProfile: Profile = {
  name: 'n8n',

  excludedData(target) {
    const o = options(target);
    if (!o.excludeExecutionData) return undefined;
    const prefix = `${o.tablePrefix}execution_`;
    // Quoted parts are literal in pg_dump patterns; the * outside the quotes is the wildcard.
    return { patterns: [`"${o.schema}"."${prefix}"*`], matches: (schema, table) => schema === o.schema && table.startsWith(prefix) };
  },

  /** The key n8n has here must be the one the backup's credentials were encrypted with. */
  async compatibility(app, target, configDir) {
    const recorded = app.info?.instanceId as string | null | undefined;
    const credentials = app.items.filter((i) => i.kind === 'credential').length;
    if (!recorded || !credentials) return [];
    const key = await findKeyAnywhere(target, configDir);
    if (!key) return [{ name: 'n8n encryption key', ok: true, detail: `warning: no key found here ($${options(target).encryptionKeyEnv} or the user folder's .n8n/config); restore the backup's n8n-config file with it, or the ${credentials} credential(s) cannot be decrypted` }];
    const here = instanceIdOf(key.key);
    return here === recorded
      ? [{ name: 'n8n encryption key', ok: true, detail: `the key in ${key.source} opens the backup's ${credentials} credential(s) (instance id ${here.slice(0, 12)}...)` }]
      : [{ name: 'n8n encryption key', ok: false, detail: `the key in ${key.source} is not the one the backup's credentials were encrypted with (instance ${here.slice(0, 12)}..., backup ${recorded.slice(0, 12)}...): restore the backup's n8n-config file too, or the credentials will not decrypt` }];
  },

  fileSets(target, configDir, purpose): Record<string, FileSetConfig> {
    const file = configFile(options(target), configDir);
    return existsSync(file) || purpose === 'restore' ? { 'n8n-config': { paths: [file], include: undefined, exclude: undefined } } : {};
  },

  async readDatabase(ctx: ProfileContext): Promise<ProfileReading> {
    const o = options(ctx.target);
    const { client } = ctx;
    const t = (name: string) => `${o.tablePrefix}${name}`;
    const q = (name: string) => `${ident(o.schema)}.${ident(t(name))}`;
    const present = await tables(client, o.schema);
    if (!present.has(t('workflow_entity'))) {
      return { items: [], warnings: [`database ${ctx.database} has no n8n tables (${o.schema}.${t('workflow_entity')}); check n8n.schema and n8n.tablePrefix`] };
    }

    const wfColumns = new Set(await columns(client, o.schema, t('workflow_entity')));
    const { rows: workflows } = await client.query<Record<string, unknown>>(`select * from ${q('workflow_entity')} order by id`);
    const tagsOf = new Map<string, string[]>();
    if (present.has(t('workflows_tags')) && present.has(t('tag_entity'))) {
      const { rows } = await client.query<{ workflowId: string; name: string }>(`select wt."workflowId", te.name from ${q('workflows_tags')} wt join ${q('tag_entity')} te on te.id = wt."tagId" order by te.name`);
      for (const r of rows) tagsOf.set(r.workflowId, [...(tagsOf.get(r.workflowId) ?? []), r.name]);
    }
    const projectOf = new Map<string, string>();
    if (present.has(t('shared_workflow')) && present.has(t('project'))) {
      const { rows } = await client.query<{ workflowId: string; name: string }>(`select sw."workflowId", p.name from ${q('shared_workflow')} sw join ${q('project')} p on p.id = sw."projectId" where sw.role = 'workflow:owner'`);
      for (const r of rows) projectOf.set(r.workflowId, r.name);
    }
    const folderName = new Map<string, string>();
    if (present.has(t('folder'))) {
      const { rows } = await client.query<{ id: string; name: string }>(`select id, name from ${q('folder')}`);
      for (const r of rows) folderName.set(r.id, r.name);
    }

    const versionsOf = new Map<string, { versionId: string; createdAt: string | null }[]>();
    if (present.has(t('workflow_history'))) {
      const { rows } = await client.query<{ workflowId: string; versionId: string; createdAt: Date }>(`select "workflowId", "versionId", "createdAt" from ${q('workflow_history')} order by "createdAt" desc`);
      for (const r of rows) {
        const list = versionsOf.get(r.workflowId) ?? [];
        if (list.length < 20) list.push({ versionId: r.versionId, createdAt: iso(r.createdAt) });
        versionsOf.set(r.workflowId, list);
      }
    }
    const entries: WorkflowEntry[] = workflows.map((w) => {
      const nodes = (json(w.nodes) as { type?: string; credentials?: Record<string, { id?: string }> }[] | null) ?? [];
      const credentials = [...new Set(nodes.flatMap((n) => Object.values(n.credentials ?? {}).map((c) => c?.id).filter((id): id is string => typeof id === 'string')))].sort();
      const triggers = [...new Set(nodes.map((n) => n.type ?? '').filter((type) => /trigger$/i.test(type) || /\.webhook$/.test(type) || /\.cron$/.test(type)))].sort();
      const id = String(w.id);
      return {
        id,
        name: String(w.name),
        active: w.active === true,
        archived: wfColumns.has('isArchived') ? w.isArchived === true : false,
        createdAt: iso(w.createdAt),
        updatedAt: iso(w.updatedAt),
        versionId: typeof w.versionId === 'string' ? w.versionId.trim() : null,
        tags: tagsOf.get(id) ?? [],
        project: projectOf.get(id) ?? null,
        folder: typeof w.parentFolderId === 'string' ? (folderName.get(w.parentFolderId) ?? w.parentFolderId) : null,
        nodes: nodes.length,
        triggers,
        credentials,
        versions: versionsOf.get(id) ?? [],
        checksum: workflowChecksum(w),
      };
    });

    const credentials: CredentialEntry[] = [];
    if (present.has(t('credentials_entity'))) {
      // Only columns known to hold no secret: `data` is never selected.
      const safe = (await columns(client, o.schema, t('credentials_entity'))).filter((c) => ['id', 'name', 'type', 'createdAt', 'updatedAt'].includes(c));
      const { rows } = await client.query<Record<string, unknown>>(`select ${safe.map(ident).join(', ')} from ${q('credentials_entity')} order by id`);
      for (const r of rows) {
        const id = String(r.id);
        credentials.push({ id, name: String(r.name), type: String(r.type), createdAt: iso(r.createdAt), updatedAt: iso(r.updatedAt), usedBy: entries.filter((w) => w.credentials.includes(id)).map((w) => w.id) });
      }
    }

    let migrations: { name: string; appliedAt?: string }[] | undefined;
    if (present.has(t('migrations'))) {
      const { rows } = await client.query<{ name: string; timestamp: string | number }>(`select name, timestamp from ${q('migrations')} order by id`);
      migrations = rows.map((r) => ({ name: r.name }));
    }

    const warnings: string[] = [];
    const key = await findKeyAnywhere(ctx.target, ctx.configDir);
    if (!key && credentials.length) {
      warnings.push(`n8n: ${credentials.length} credential(s) are backed up but no encryption key was found ($${o.encryptionKeyEnv}, or ${configFile(o, ctx.configDir)}); without it they cannot be decrypted after a restore`);
    }
    if (key && !ctx.target.encryption) {
      warnings.push(`n8n: this bundle holds n8n's encryption key${key.source.startsWith('$') ? '' : ` (${key.source})`} and the credentials it opens, UNENCRYPTED: set encryption: in lifeboat.yaml`);
    }

    const items: AppItem[] = [
      ...entries.map((w): AppItem => ({
        kind: 'workflow', id: w.id, name: w.name, updatedAt: w.updatedAt ?? undefined, checksum: w.checksum, database: ctx.database,
        details: { active: w.active, archived: w.archived, tags: w.tags, project: w.project, folder: w.folder, nodes: w.nodes, triggers: w.triggers, credentials: w.credentials, versionId: w.versionId, createdAt: w.createdAt, versions: w.versions },
      })),
      ...credentials.map((c): AppItem => ({
        kind: 'credential', id: c.id, name: c.name, updatedAt: c.updatedAt ?? undefined, database: ctx.database,
        checksum: createHash('sha256').update(canonicalJson({ id: c.id, name: c.name, type: c.type })).digest('hex'),
        details: { type: c.type, usedBy: c.usedBy },
      })),
    ];
    return {
      items,
      migrations,
      metadata: { workflows: entries, credentials },
      info: {
        database: ctx.database, schema: o.schema, tablePrefix: o.tablePrefix, keyFound: key !== undefined, keySource: key?.source ?? null,
        instanceId: key ? instanceIdOf(key.key) : null, workflows: entries.length, credentials: credentials.length,
        workflowHistory: present.has(t('workflow_history')),
      },
      warnings,
    };
  },
};
