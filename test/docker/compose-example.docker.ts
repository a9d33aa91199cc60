import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { parse } from 'yaml';
import { workspace } from '../support/workspace.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const dir = path.join(repo, 'examples', 'compose');

interface Service {
  image?: string;
  build?: string | { context: string };
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  group_add?: string[];
}
const compose = parse(readFileSync(path.join(dir, 'n8n.yaml'), 'utf8')) as { name: string; services: Record<string, Service>; volumes: Record<string, unknown> };
const lifeboat = compose.services.lifeboat!;
/** `source:target[:mode]` of each of Lifeboat's mounts, by target. */
const mounts = new Map((lifeboat.volumes ?? []).map((v) => {
  const [source, target, mode] = v.split(':');
  return [target!, { source: source!, mode }];
}));

/** An ENV value the Dockerfile sets. */
function dockerfileEnv(name: string): string {
  const m = new RegExp(`\\b${name}=(\\S+)`).exec(readFileSync(path.join(repo, 'Dockerfile'), 'utf8'));
  assert.ok(m, `the Dockerfile sets ${name}`);
  return m[1]!;
}

describe('examples/compose/n8n.yaml', () => {
  test('n8n, its PostgreSQL and Lifeboat, built from this checkout\'s Dockerfile', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['lifeboat', 'n8n', 'postgres']);
    assert.match(compose.services.postgres!.image!, /^postgres:\d+/);
    assert.match(compose.services.n8n!.image!, /n8nio\/n8n/);
    const context = typeof lifeboat.build === 'string' ? lifeboat.build : lifeboat.build!.context;
    assert.equal(path.resolve(dir, context), path.resolve(repo));
    assert.ok(existsSync(path.join(repo, 'Dockerfile')));
  });

  test('Lifeboat gets the socket read-only, its config where the image reads it, and volumes for its home and storage', () => {
    assert.deepEqual(mounts.get('/var/run/docker.sock'), { source: '/var/run/docker.sock', mode: 'ro' });
    assert.ok(lifeboat.group_add?.length, 'the socket\'s group, for the non-root user');
    const config = mounts.get(dockerfileEnv('LIFEBOAT_CONFIG'));
    assert.deepEqual(config, { source: './lifeboat.yaml', mode: 'ro' });
    assert.ok(existsSync(path.join(dir, config.source)));
    for (const target of [dockerfileEnv('LIFEBOAT_HOME'), '/backups']) {
      const m = mounts.get(target);
      assert.ok(m && m.source in compose.volumes, `a named volume at ${target}`);
    }
    // Nothing listens beyond the host's loopback: the API speaks plain HTTP.
    for (const s of Object.values(compose.services)) for (const p of s.ports ?? []) assert.match(p, /^127\.0\.0\.1:/);
  });

  test('its lifeboat.yaml names the compose project\'s PostgreSQL container, stores in the storage volume, and schedules', () => {
    const config = parse(readFileSync(path.join(dir, 'lifeboat.yaml'), 'utf8')) as { storages: Record<string, { path: string }>; targets: Record<string, { postgres: { container: string }; schedule?: unknown; storage: string; profile?: string; encryption?: unknown; files?: Record<string, { volume?: string; via?: string }> }> };
    const target = config.targets.n8n!;
    // Compose names a service's container <project>-<service>-1.
    assert.equal(target.postgres.container, `${compose.name}-postgres-1`);
    assert.equal(config.storages[target.storage]!.path, '/backups');
    assert.ok(target.schedule);
    assert.equal(target.profile, 'n8n');
    assert.ok(target.encryption, 'the bundle lists n8n\'s credentials: encrypted');
    // n8n's own volume is a file set: Compose names it <project>_<volume>, and Lifeboat's
    // container cannot see its mountpoint, so it must not be forced through one.
    const n8nData = (compose.services.n8n!.volumes ?? []).find((v) => v.endsWith(':/home/node/.n8n'))!.split(':')[0]!;
    assert.ok(n8nData in compose.volumes);
    const sets = Object.values(target.files ?? {});
    assert.deepEqual(sets.map((f) => f.volume), [`${compose.name}_${n8nData}`]);
    assert.ok(sets.every((f) => f.via !== 'mountpoint'));
  });

  test('lifeboat config check accepts its lifeboat.yaml', async () => {
    const ws = workspace();
    try {
      const recipient = await identityToRecipient(await generateIdentity());
      const r = await ws.cli(['config', 'check'], { env: { LIFEBOAT_CONFIG: path.join(dir, 'lifeboat.yaml'), LIFEBOAT_AGE_RECIPIENT: recipient } });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      ws.remove();
    }
  });
});
