import type { TestServer } from './postgres.ts';

/** A marker inside the encrypted credential data: it must never leave the dump. */
export const CREDENTIAL_SECRET = 'U2FsdGVkX19SECRETcredentialPAYLOADmarker';

/**
 * n8n's tables as n8n 1.x creates them on PostgreSQL (json columns, varchar(36) nanoid ids,
 * timestamp(3) with time zone), in `schema` with `prefix`, filled with three workflows (tags, a
 * project, a folder, an archived one, a webhook trigger, a credential reference), two credentials
 * and the migrations table.
 */
export async function seedN8n(server: TestServer, db: string, options: { schema?: string; prefix?: string } = {}): Promise<void> {
  const s = options.schema ?? 'public';
  const p = options.prefix ?? '';
  const t = (name: string) => `"${s}"."${p}${name}"`;
  const ts = 'timestamp(3) with time zone not null default CURRENT_TIMESTAMP(3)';
  await server.query(db, `
    create schema if not exists "${s}";
    create table ${t('migrations')} (id serial primary key, "timestamp" bigint not null, name varchar not null);
    create table ${t('project')} (id varchar(36) primary key, name varchar(255) not null, type varchar(36) not null, "createdAt" ${ts}, "updatedAt" ${ts});
    create table ${t('folder')} (id varchar(36) primary key, name varchar(128) not null, "parentFolderId" varchar(36), "projectId" varchar(36) not null, "createdAt" ${ts}, "updatedAt" ${ts});
    create table ${t('workflow_entity')} (
      id varchar(36) primary key, name varchar(128) not null, active boolean not null, nodes json not null, connections json not null,
      settings json, "staticData" json, "pinData" json, "versionId" char(36), "triggerCount" integer not null default 0, meta json,
      "parentFolderId" varchar(36), "createdAt" ${ts}, "updatedAt" ${ts}, "isArchived" boolean not null default false);
    create table ${t('credentials_entity')} (id varchar(36) primary key, name varchar(128) not null, data text not null, type varchar(128) not null, "createdAt" ${ts}, "updatedAt" ${ts}, "isManaged" boolean not null default false);
    create table ${t('tag_entity')} (id varchar(36) primary key, name varchar(24) not null, "createdAt" ${ts}, "updatedAt" ${ts});
    create table ${t('workflows_tags')} ("workflowId" varchar(36) not null, "tagId" varchar(36) not null, primary key ("workflowId", "tagId"));
    create table ${t('shared_workflow')} ("workflowId" varchar(36) not null, "projectId" varchar(36) not null, role text not null, "createdAt" ${ts}, "updatedAt" ${ts}, primary key ("workflowId", "projectId"));
    create table ${t('workflow_history')} ("versionId" varchar(36) primary key, "workflowId" varchar(36) not null, authors varchar(255) not null, nodes json not null, connections json not null, "createdAt" ${ts}, "updatedAt" ${ts});
    create table ${t('execution_entity')} (id serial primary key, "workflowId" varchar(36), finished boolean not null, mode varchar not null, status varchar, "startedAt" timestamp(3) with time zone, "stoppedAt" timestamp(3) with time zone);

    insert into ${t('migrations')} ("timestamp", name) values (1587669153312, 'InitialMigration1587669153312'), (1690000000000, 'AddWorkflowHistory1690000000000'), (1740000000000, 'CreateFolderTable1740000000000');
    insert into ${t('project')} values ('pRj0ps8nYdK2Lx1a', 'Operations', 'team', now(), now());
    insert into ${t('folder')} values ('fLd3rBilling0001', 'Billing', null, 'pRj0ps8nYdK2Lx1a', now(), now());
    insert into ${t('tag_entity')} values ('tAg00000000000a1', 'billing', now(), now()), ('tAg00000000000b2', 'nightly', now(), now());
    insert into ${t('credentials_entity')} values
      ('cR3dStripe000001', 'Stripe live', '${CREDENTIAL_SECRET}-stripe', 'stripeApi', '2026-10-01 10:00:00+00', '2026-11-02 09:30:00+00', false),
      ('cR3dSlack0000002', 'Slack bot', '${CREDENTIAL_SECRET}-slack', 'slackApi', '2026-10-05 10:00:00+00', '2026-10-05 10:00:00+00', false);
    insert into ${t('workflow_entity')} (id, name, active, nodes, connections, settings, "staticData", "pinData", "versionId", "triggerCount", meta, "parentFolderId", "createdAt", "updatedAt", "isArchived") values
      ('wF1nvoiceSync001', 'Invoice sync', true,
       '[{"id":"a1","name":"Webhook","type":"n8n-nodes-base.webhook","typeVersion":2,"position":[0,0],"parameters":{"path":"invoices","httpMethod":"POST"},"webhookId":"9f1c"},{"id":"a2","name":"Stripe","type":"n8n-nodes-base.stripe","typeVersion":1,"position":[220,0],"parameters":{"resource":"charge"},"credentials":{"stripeApi":{"id":"cR3dStripe000001","name":"Stripe live"}}}]',
       '{"Webhook":{"main":[[{"node":"Stripe","type":"main","index":0}]]}}', '{"executionOrder":"v1","timezone":"Europe/Amsterdam"}', null, '{}', 'a3c1e1f0-0000-4000-8000-000000000001', 1, '{"templateCredsSetupCompleted":true}',
       'fLd3rBilling0001', '2026-09-01 08:00:00+00', '2026-11-20 16:45:12.345+00', false),
      ('wFn1ghtlyReport2', 'Nightly report', false,
       '[{"id":"b1","name":"Schedule Trigger","type":"n8n-nodes-base.scheduleTrigger","typeVersion":1.2,"position":[0,0],"parameters":{"rule":{"interval":[{"field":"days"}]}}},{"id":"b2","name":"Slack","type":"n8n-nodes-base.slack","typeVersion":2.2,"position":[200,0],"parameters":{"text":"=Report: {{ $json.total }}\\ttab\\\\back\\nnewline"},"credentials":{"slackApi":{"id":"cR3dSlack0000002","name":"Slack bot"}}}]',
       '{"Schedule Trigger":{"main":[[{"node":"Slack","type":"main","index":0}]]}}', '{"executionOrder":"v1"}', '{"node:Schedule Trigger":{"recurrenceRules":[]}}', null, 'b3c1e1f0-0000-4000-8000-000000000002', 1, null,
       null, '2026-09-02 08:00:00+00', '2026-11-19 02:00:00+00', false),
      ('wFo1dArchived003', 'Old import (ünïcode ✓)', false, '[]', '{}', null, null, null, null, 0, null, null, '2026-01-01 00:00:00+00', '2026-02-01 00:00:00+00', true);
    insert into ${t('workflow_history')} values
      ('b3c1e1f0-0000-4000-8000-00000000000a', 'wFn1ghtlyReport2', 'ops@example.com', '[{"id":"b1","name":"Cron","type":"n8n-nodes-base.cron","typeVersion":1,"position":[0,0],"parameters":{}}]', '{}', '2026-10-01 00:00:00+00', '2026-10-01 00:00:00+00'),
      ('b3c1e1f0-0000-4000-8000-000000000002', 'wFn1ghtlyReport2', 'ops@example.com', '[]', '{}', '2026-11-19 02:00:00+00', '2026-11-19 02:00:00+00');
    insert into ${t('workflows_tags')} values ('wF1nvoiceSync001', 'tAg00000000000a1'), ('wFn1ghtlyReport2', 'tAg00000000000b2'), ('wF1nvoiceSync001', 'tAg00000000000b2');
    insert into ${t('shared_workflow')} values ('wF1nvoiceSync001', 'pRj0ps8nYdK2Lx1a', 'workflow:owner', now(), now()), ('wFn1ghtlyReport2', 'pRj0ps8nYdK2Lx1a', 'workflow:owner', now(), now());
    insert into ${t('execution_entity')} ("workflowId", finished, mode, status, "startedAt", "stoppedAt") select 'wF1nvoiceSync001', true, 'webhook', 'success', now(), now() from generate_series(1, 20);
  `);
}
