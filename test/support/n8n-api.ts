import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for n8n's public API that enforces what its OpenAPI spec says about
 * `POST /api/v1/workflows` (n8n-io/n8n, packages/cli/src/public-api/v1/handlers/workflows/spec/
 * schemas/workflowCreate.yml, node.yml, workflowSettings.yml): `additionalProperties: false` at
 * the top, in each node and in settings; read-only fields refused; name, nodes, connections and
 * settings required; the X-N8N-API-KEY header checked.
 */
const TOP = {
  writable: ['name', 'externalId', 'nodes', 'connections', 'nodeGroups', 'settings', 'staticData', 'pinData', 'projectId', 'shared', 'activeVersion'],
  readOnly: ['id', 'active', 'createdAt', 'updatedAt', 'isArchived', 'versionId', 'triggerCount', 'meta', 'tags'],
  required: ['name', 'nodes', 'connections', 'settings'],
};
const NODE = ['id', 'name', 'webhookId', 'disabled', 'notesInFlow', 'notes', 'type', 'typeVersion', 'executeOnce', 'alwaysOutputData', 'retryOnFail', 'maxTries', 'waitBetweenTries', 'continueOnFail', 'onError', 'position', 'parameters', 'credentials', 'customTelemetryTags'];
const SETTINGS = ['saveExecutionProgress', 'saveManualExecutions', 'saveDataErrorExecution', 'saveDataSuccessExecution', 'executionTimeout', 'errorWorkflow', 'timezone', 'executionOrder', 'callerPolicy', 'callerIds', 'timeSavedPerExecution', 'redactionPolicy', 'availableInMCP', 'customTelemetryTags', 'workerPoolOverrideProduction', 'workerPoolOverrideManual', 'workerPoolOverrideEvaluation'];

function problems(body: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(body)) {
    if (TOP.readOnly.includes(k)) out.push(`request/body/${k} is read-only`);
    else if (!TOP.writable.includes(k)) out.push(`request/body must NOT have additional properties (${k})`);
  }
  for (const k of TOP.required) if (!(k in body)) out.push(`request/body must have required property '${k}'`);
  for (const [i, n] of ((body.nodes as Record<string, unknown>[] | undefined) ?? []).entries()) {
    for (const k of Object.keys(n)) if (!NODE.includes(k)) out.push(`request/body/nodes/${i} must NOT have additional properties (${k})`);
  }
  for (const k of Object.keys((body.settings as Record<string, unknown> | undefined) ?? {})) if (!SETTINGS.includes(k)) out.push(`request/body/settings must NOT have additional properties (${k})`);
  return out;
}

export async function startFakeN8n(apiKey: string): Promise<{ url: string; created: Record<string, unknown>[]; stop(): Promise<void> }> {
  const created: Record<string, unknown>[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'GET' && req.url === '/healthz') return send(200, { status: 'ok' });
      if (req.method === 'GET' && req.url?.startsWith('/api/v1/workflows')) {
        if (req.headers['x-n8n-api-key'] !== apiKey) return send(401, { message: 'unauthorized' });
        return send(200, { data: created, nextCursor: null });
      }
      if (req.method === 'POST' && req.url === '/api/v1/workflows') {
        if (req.headers['x-n8n-api-key'] !== apiKey) return send(401, { message: 'unauthorized' });
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        const bad = problems(body);
        if (bad.length) return send(400, { message: bad.join(', ') });
        const made = { ...body, id: `new${created.length + 1}`.padEnd(16, 'x'), active: false };
        created.push(made);
        return send(200, made);
      }
      send(404, { message: 'not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, created, stop: () => new Promise((r) => server.close(() => r())) };
}
