import { LifeboatError } from '../errors.ts';
import { VERSION } from '../version.ts';
import type { WorkflowExport } from '../jobs/restore-workflow.ts';

/**
 * The fields n8n's public API accepts when creating a workflow (its OpenAPI spec:
 * packages/cli/src/public-api/v1/handlers/workflows/spec/schemas/{node,workflowSettings}.yml in
 * n8n-io/n8n). Both schemas say `additionalProperties: false`: anything else is refused with 400.
 */
const NODE_KEYS = new Set([
  'id', 'name', 'webhookId', 'disabled', 'notesInFlow', 'notes', 'type', 'typeVersion', 'executeOnce', 'alwaysOutputData',
  'retryOnFail', 'maxTries', 'waitBetweenTries', 'continueOnFail', 'onError', 'position', 'parameters', 'credentials', 'customTelemetryTags',
]);
const SETTINGS_KEYS = new Set([
  'saveExecutionProgress', 'saveManualExecutions', 'saveDataErrorExecution', 'saveDataSuccessExecution', 'executionTimeout', 'errorWorkflow',
  'timezone', 'executionOrder', 'callerPolicy', 'callerIds', 'timeSavedPerExecution', 'redactionPolicy', 'availableInMCP', 'customTelemetryTags',
  'workerPoolOverrideProduction', 'workerPoolOverrideManual', 'workerPoolOverrideEvaluation',
]);

const pick = (o: unknown, keys: Set<string>) =>
  o && typeof o === 'object' ? Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k, v]) => keys.has(k) && v !== null)) : {};

/** The body of `POST /api/v1/workflows`: only what the API accepts; read-only fields (id, active, tags...) left out. */
export function createBody(w: WorkflowExport, name: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name,
    nodes: (Array.isArray(w.nodes) ? w.nodes : []).map((n) => pick(n, NODE_KEYS)),
    connections: w.connections ?? {},
    settings: pick(w.settings, SETTINGS_KEYS),
  };
  if (w.staticData !== undefined && w.staticData !== null) body.staticData = w.staticData;
  return body;
}

/**
 * Creates a workflow in a running n8n through its public API. Checks `/healthz` first, so an
 * unreachable n8n and a rejected key are told apart. n8n creates it inactive.
 */
export async function pushWorkflow(n8n: { url: string; apiKey: string }, w: WorkflowExport, name: string): Promise<{ id: string; name: string }> {
  const base = n8n.url.replace(/\/+$/, '');
  const hint = 'write it to a file instead: --as-file flow.json, then `n8n import:workflow --input=flow.json`';
  const call = async (path: string, init: RequestInit) => {
    try {
      return await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(20_000), headers: { 'user-agent': `lifeboat/${VERSION}`, ...(init.headers ?? {}) } });
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new LifeboatError('E_STORAGE_UNREACHABLE', `n8n at ${base} is not reachable (${code})`, { cause: err, hint });
    }
  };
  const health = await call('/healthz', { method: 'GET' });
  if (!health.ok) throw new LifeboatError('E_STORAGE_UNREACHABLE', `n8n at ${base} is not healthy (HTTP ${health.status} from /healthz)`, { hint });
  const res = await call('/api/v1/workflows', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-n8n-api-key': n8n.apiKey },
    body: JSON.stringify(createBody(w, name)),
  });
  const text = await res.text();
  if (res.status === 401 || res.status === 403) {
    throw new LifeboatError('E_STORAGE_AUTH', `n8n at ${base} rejected the API key (HTTP ${res.status})`, { hint: `create one in n8n under Settings > n8n API and set n8n.apiKey; or ${hint}` });
  }
  if (!res.ok) throw new LifeboatError('E_RESTORE_FAILED', `n8n refused the workflow (HTTP ${res.status}): ${text.slice(0, 300)}`, { hint });
  const created = JSON.parse(text) as { id: string; name: string };
  return { id: created.id, name: created.name };
}

/** Whether a running n8n would take a workflow now: what the UI says before offering "restore to n8n". */
export interface N8nReachability {
  /** True when `/healthz` answered and the API key was not refused. */
  reachable: boolean;
  /** What was found, or what failed (never the key). */
  detail: string;
  hint?: string;
}

/**
 * A cheap look at a running n8n, in at most `timeoutMs` per request: `/healthz`, then one page of
 * workflows with the key (a 401 or 403 there is a refused key; other answers leave the key to the
 * push itself, which reports them). Never throws.
 */
export async function checkN8n(n8n: { url: string; apiKey: string }, timeoutMs = 3_000): Promise<N8nReachability> {
  const base = n8n.url.replace(/\/+$/, '');
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': `lifeboat/${VERSION}`, ...headers } });
  try {
    const health = await get('/healthz');
    await health.body?.cancel();
    if (!health.ok) return { reachable: false, detail: `n8n at ${base} is not healthy (HTTP ${health.status} from /healthz)`, hint: 'start n8n, or check n8n.url' };
    const auth = await get('/api/v1/workflows?limit=1', { 'x-n8n-api-key': n8n.apiKey });
    await auth.body?.cancel();
    if (auth.status === 401 || auth.status === 403) {
      return { reachable: false, detail: `n8n at ${base} rejected the API key (HTTP ${auth.status})`, hint: 'create one in n8n under Settings > n8n API and set n8n.apiKey' };
    }
    return { reachable: true, detail: `n8n at ${base} is up` };
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return { reachable: false, detail: `n8n at ${base} is not reachable (${code})`, hint: 'start n8n, or check n8n.url' };
  }
}
