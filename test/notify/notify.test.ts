import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config/load.ts';
import { flushNotifications } from '../../src/notify/deliver.ts';
import { freePort } from '../../src/postgres/scratch-cluster.ts';
import { startReceiver, type Received } from '../support/receiver.ts';
import { useTestServer } from '../support/suite.ts';
import type { Workspace } from '../support/workspace.ts';

const suite = useTestServer();
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let smtp: SMTPServer;
let smtpPort: number;
const mails: { from: string; to: string[]; raw: string }[] = [];
before(async () => {
  receiver = await startReceiver();
  smtpPort = await freePort();
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(smtpPort, '127.0.0.1', resolve));
});
after(async () => {
  await receiver?.stop();
  await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
});

const SECRET = 'whsec-test-3f9a';
const BOT_TOKEN = '123456:ABC-secret-bot-token';

/** A workspace whose target `app` backs up a small database, with the given channels. */
async function setup(channels: string, db?: string): Promise<Workspace> {
  const database = db ?? (await suite.server.createDatabase('notify'));
  if (!db) await suite.server.query(database, 'create table t (x int); insert into t values (1)');
  const ws = suite.workspace();
  ws.writeConfig(`storages:\n  local: { type: local, path: ${ws.storage} }\ntargets:\n  app:\n    postgres: { url: "${suite.server.urlFor(database)}", databases: [${database}] }\n    storage: local\nnotifications:\n${channels}`);
  return ws;
}

const bodies = (path: string): Received[] => receiver.requests.filter((r) => r.url.startsWith(path));

describe('notifications', () => {
  test('a failed backup reaches a signed webhook with the versioned payload; the signature verifies independently', async () => {
    const ws = await setup(`  hook: { type: webhook, url: "${receiver.url}/hook-fail", secret: ${SECRET}, headers: { X-Team: ops } }\n`, 'no_such_database');
    const r = await ws.cli(['backup', 'app']);
    assert.equal(r.code, 1);
    const [req] = bodies('/hook-fail');
    assert.ok(req, 'delivered before the command exits');
    assert.equal(req.headers['x-team'], 'ops');
    assert.equal(req.headers['x-lifeboat-event'], 'backup_failed');
    const payload = JSON.parse(req.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(payload), ['version', 'id', 'event', 'severity', 'at', 'target', 'backup', 'message', 'data']);
    assert.equal(payload.version, 1);
    assert.equal(payload.event, 'backup_failed');
    assert.equal(payload.target, 'app');
    assert.match(String(payload.message), /database "no_such_database" does not exist/);
    const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['x-lifeboat-signature']))!;
    assert.equal(v1, createHmac('sha256', SECRET).update(`${t}.${req.body}`).digest('hex'));
    assert.ok(Math.abs(Date.now() / 1000 - Number(t)) < 60);
  });

  test('every chat and push channel gets the exact request its service expects', async () => {
    const ws = await setup([
      `  slack: { type: slack, webhookUrl: "${receiver.url}/slack", on: [backup_succeeded] }`,
      `  discord: { type: discord, webhookUrl: "${receiver.url}/discord", on: [backup_succeeded] }`,
      `  teams: { type: teams, webhookUrl: "${receiver.url}/teams", on: [backup_succeeded] }`,
      `  tg: { type: telegram, botToken: "${BOT_TOKEN}", chatId: -100123, apiUrl: "${receiver.url}/tg", on: [backup_succeeded] }`,
      `  ntfy: { type: ntfy, url: "${receiver.url}/ntfy/lifeboat", token: tk_abc, on: [backup_succeeded] }`,
      `  gotify: { type: gotify, url: "${receiver.url}/gotify", token: AppTok, on: [backup_succeeded] }`,
      `  mail: { type: email, host: 127.0.0.1, port: ${smtpPort}, from: lifeboat@example.com, to: [ops@example.com], on: [backup_succeeded] }`,
      '',
    ].join('\n'));
    const r = await ws.run(['backup', 'app', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const id = r.json<{ id: string }>().id;
    const text = (req: Received) => req.body;
    assert.match(JSON.parse(text(bodies('/slack')[0]!)).text, new RegExp(`^✅ \\[lifeboat\\] backup_succeeded app: backup ${id}: `));
    const discord = JSON.parse(text(bodies('/discord')[0]!));
    assert.match(discord.content, /backup_succeeded app/);
    assert.deepEqual(discord.allowed_mentions, { parse: [] });
    const card = JSON.parse(text(bodies('/teams')[0]!));
    assert.equal(card.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
    assert.match(card.attachments[0].content.body[0].text, /backup_succeeded app/);
    const tg = bodies('/tg')[0]!;
    assert.equal(tg.url, `/tg/bot${BOT_TOKEN}/sendMessage`);
    assert.equal(JSON.parse(tg.body).chat_id, -100123);
    const ntfy = bodies('/ntfy/lifeboat')[0]!;
    assert.equal(ntfy.headers.authorization, 'Bearer tk_abc');
    assert.equal(ntfy.headers.priority, '3');
    assert.equal(ntfy.headers.title, 'lifeboat: backup_succeeded (app)');
    assert.match(ntfy.body, new RegExp(`^backup ${id}: `));
    const gotify = bodies('/gotify/message')[0]!;
    assert.equal(gotify.headers['x-gotify-key'], 'AppTok');
    assert.equal(JSON.parse(gotify.body).priority, 2);
    const mail = mails.at(-1)!;
    assert.deepEqual([mail.from, mail.to], ['lifeboat@example.com', ['ops@example.com']]);
    assert.match(mail.raw, /\r\nSubject: \[lifeboat\] backup_succeeded app: backup/);
    assert.match(mail.raw, /event: {4}backup_succeeded\r\nseverity: info\r\ntarget: {3}app/);
    assert.match(mail.raw, /X-Lifeboat-Event: backup_succeeded/);
  });

  test('routing: default channels get failures only; emergency channels always get critical_space and backup_missing', async () => {
    const ws = await setup([
      `  quiet: { type: webhook, url: "${receiver.url}/route-quiet" }`,
      `  pager: { type: webhook, url: "${receiver.url}/route-pager", on: [backup_succeeded], emergency: true }`,
      `  fails: { type: webhook, url: "${receiver.url}/route-fails", on: [failure] }`,
      '',
    ].join('\n'));
    const loaded = loadConfig(ws.config);
    const catalog = Catalog.open(ws.home);
    try {
      catalog.recordEvent({ kind: 'backup_succeeded', severity: 'info', target: 'app', message: 'fine' });
      catalog.recordEvent({ kind: 'verification_failed', severity: 'error', target: 'app', message: 'bad' });
      catalog.recordEvent({ kind: 'critical_space', severity: 'critical', target: 'app', message: 'disk full' });
      catalog.recordEvent({ kind: 'deleted', severity: 'info', target: 'app', message: 'gone' });
      const outcomes = await flushNotifications(loaded, catalog);
      assert.ok(outcomes.every((o) => o.ok));
      assert.deepEqual(bodies('/route-quiet').map((r) => JSON.parse(r.body).event), ['verification_failed', 'critical_space']);
      assert.deepEqual(bodies('/route-pager').map((r) => JSON.parse(r.body).event), ['backup_succeeded', 'critical_space']);
      assert.equal(bodies('/route-pager')[1]!.headers['x-lifeboat-event'], 'critical_space');
      assert.deepEqual(bodies('/route-fails').map((r) => JSON.parse(r.body).event), ['verification_failed'], '`failure` names the failures, not the emergencies');
    } finally {
      catalog.close();
    }
  });

  test('a webhook body template replaces the JSON payload', async () => {
    const ws = await setup(`  tpl: { type: webhook, url: "${receiver.url}/tpl", on: [deleted], template: "{{event}} on {{target}} ({{backup.id}}): {{message}}" }\n`);
    const loaded = loadConfig(ws.config);
    const catalog = Catalog.open(ws.home);
    try {
      catalog.recordEvent({ kind: 'deleted', severity: 'info', target: 'app', backupId: 'app-20261101T020000Z', message: 'gone' });
      await flushNotifications(loaded, catalog);
      const [req] = bodies('/tpl');
      assert.equal(req!.body, 'deleted on app (app-20261101T020000Z): gone');
      assert.equal(req!.headers['content-type'], 'text/plain; charset=utf-8');
    } finally {
      catalog.close();
    }
  });

  test('a receiver that fails twice gets the event on the third attempt, with backoff; every attempt is recorded', async () => {
    const ws = await setup(`  hook: { type: webhook, url: "${receiver.url}/retry", on: [backup_failed], attempts: 5 }\n`);
    const loaded = loadConfig(ws.config);
    const catalog = Catalog.open(ws.home);
    try {
      catalog.recordEvent({ kind: 'backup_failed', severity: 'error', target: 'app', message: 'boom' });
      receiver.failNext(503, 500);
      const t0 = new Date('2026-11-22T00:00:00Z');
      const first = await flushNotifications(loaded, catalog, { now: t0 });
      assert.deepEqual(first.map((o) => [o.ok, o.statusCode, o.retryAt]), [[false, 503, '2026-11-22T00:00:30.000Z']]);
      assert.deepEqual(await flushNotifications(loaded, catalog, { now: new Date('2026-11-22T00:00:20Z') }), [], 'not due yet');
      const second = await flushNotifications(loaded, catalog, { now: new Date('2026-11-22T00:00:30Z') });
      assert.deepEqual(second.map((o) => [o.ok, o.statusCode, o.retryAt]), [[false, 500, '2026-11-22T00:01:30.000Z']]);
      const third = await flushNotifications(loaded, catalog, { now: new Date('2026-11-22T00:01:30Z') });
      assert.deepEqual(third.map((o) => [o.ok, o.statusCode]), [[true, 200]]);
      const [delivery] = catalog.listDeliveries();
      assert.equal(delivery!.status, 'sent');
      assert.deepEqual(delivery!.tries.map((t) => [t.ok, t.statusCode]), [[false, 503], [false, 500], [true, 200]]);
      assert.equal(bodies('/retry').length, 3);
    } finally {
      catalog.close();
    }
  });

  test('notify test reports the outcome; a failing channel never shows its secret URL or token, and never fails the backup', async () => {
    const port = await freePort();
    const ws = await setup([
      `  tg: { type: telegram, botToken: "${BOT_TOKEN}", chatId: 42, apiUrl: "http://127.0.0.1:${port}", on: [backup_succeeded] }`,
      `  ok: { type: slack, webhookUrl: "${receiver.url}/services/T000/B000/XXXXSECRET" }`,
      '',
    ].join('\n'));
    const sent = await ws.cli(['notify', 'test', 'ok']);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, /sent a test event to ok \(slack\): HTTP 200/);
    // In process from here (ws.run): the first test's backup and `sent` are the spawned ones.
    const failed = await ws.run(['notify', 'test', 'tg']);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /FAILED to send to tg \(telegram\): cannot connect \(ECONNREFUSED\)/);

    const backup = await ws.run(['backup', 'app']);
    assert.equal(backup.code, 0, 'a delivery failure never fails the backup');
    assert.match(backup.stderr, /warn: notification backup_succeeded to tg failed: cannot connect \(ECONNREFUSED\); retrying at /);
    const events = await ws.run(['events', '--json']);
    const everything = [sent, failed, backup, events].map((r) => r.stdout + r.stderr).join('\n');
    const catalog = Catalog.open(ws.home);
    try {
      const stored = JSON.stringify([catalog.listDeliveries(), catalog.listEvents()]);
      for (const secret of [BOT_TOKEN, 'XXXXSECRET']) {
        assert.ok(!everything.includes(secret), `${secret} printed`);
        assert.ok(!stored.includes(secret), `${secret} stored in the catalog`);
      }
    } finally {
      catalog.close();
    }
    const unknown = await ws.run(['notify', 'test', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no notification channel named "nope"/);
  });
});
