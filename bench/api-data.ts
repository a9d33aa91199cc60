// A catalog shaped like a busy installation's, for the API bench (`npm run bench:api`) and the
// tests of src/reports/: N backups over M targets, written through the Catalog API in one
// transaction (10,000 backups take a few seconds).
//
//   node bench/api-data.ts <home> [backups=10000] [targets=20]
//
// then prints what queryBackups costs per page on it (timeQueries).
//
// Every target backs up at the same times (every 6 hours back from `end`), so backups of
// different targets share start times: keyset pagination must still never repeat or skip one.
// Sizes come from a short list, so sorting by size meets many ties too.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest } from '../src/bundle/manifest.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { queryBackups, type BackupQuery } from '../src/reports/backups.ts';

export interface ApiDataOptions {
  backups: number;
  /** Target names; default `app-01`... `app-<targets>`. */
  targetNames?: string[];
  targets?: number;
  /** The newest slot's start time; default an hour ago. */
  end?: Date;
  /** Time between two backups of a target; default 6 hours. */
  stepMs?: number;
  seed?: number;
}

/** What was generated, per backup, so tests can compute the expected figures on their own. */
export interface GeneratedBackup {
  id: string;
  target: string;
  startedAt: string;
  /** Status as lists show it. */
  status: 'running' | 'ok' | 'degraded' | 'failed' | 'deleted';
  /** The stored status under `deleted` (what a deletion leaves: ok, or failed for a failed record). */
  storedStatus: 'running' | 'ok' | 'failed';
  size: number | null;
  verification: { status: 'unverified' | 'passed' | 'failed'; level: 'quick' | 'full' | null };
  /** Protection as set: `until` null is for good. */
  protection: { until: string | null } | null;
  pendingDeletion: boolean;
}

const SIZES = [1_048_576, 8_388_608, 52_428_800, 268_435_456, 1_073_741_824, 4_294_967_296];
const TABLES = ['users', 'orders', 'order_items', 'products', 'sessions', 'audit_log', 'invoices', 'settings'];

/** A small deterministic PRNG (mulberry32): the same seed gives the same catalog. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const compact = (d: Date) => d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function manifestFor(id: string, target: string, profile: string, started: Date, finished: Date, rnd: () => number): Manifest {
  const tables = TABLES.slice(0, 3 + Math.floor(rnd() * 5)).map((name) => ({
    schema: 'public', name, kind: 'table' as const, rows: Math.floor(rnd() * 100_000),
    columns: [{ name: 'id', type: 'bigint', nullable: false }, { name: 'data', type: 'jsonb', nullable: true }],
  }));
  const items = profile === 'n8n'
    ? [
        ...['Nightly sync', 'Slack alerts', 'Invoice mailer'].map((name, i) => ({ kind: 'workflow', id: `wf${i + 1}`, name, checksum: sha(`${id}${name}`), database: 'app', details: { active: i !== 2, tags: i === 0 ? ['ops'] : [], nodes: 4 + i } })),
        ...['Slack token', 'SMTP account'].map((name, i) => ({ kind: 'credential', id: `cr${i + 1}`, name, checksum: sha(name), database: 'app', details: { type: i ? 'smtp' : 'slackApi', usedBy: ['wf2'] } })),
      ]
    : [];
  const migrations = profile === 'django'
    ? ['auth.0001_initial', 'auth.0002_alter_permission', 'shop.0001_initial', 'shop.0002_orders'].map((name) => ({ name, appliedAt: '2026-01-05T10:00:00.000Z' }))
    : undefined;
  const files = ['.env', 'docker-compose.yaml', 'nginx.conf'].map((f) => ({
    set: 'config', path: `/srv/${target}/${f}`, member: `files/config/srv/${target}/${f}`, type: 'file' as const, mode: 0o100644, uid: 1000, gid: 1000,
    size: 200 + Math.floor(rnd() * 2000), mtime: '2026-01-05T10:00:00.000Z', sha256: sha(f),
  }));
  return {
    format: 'lifeboat-bundle', formatVersion: 1, id, target, lifeboatVersion: '0.1.0',
    startedAt: started.toISOString(), finishedAt: finished.toISOString(),
    host: { hostname: 'bench', platform: 'linux' }, profile,
    compression: { algorithm: 'zstd', level: 3 }, encryption: { kind: 'none' },
    postgres: {
      serverVersion: '15.8', pgDumpVersion: '15.8', globals: false,
      databases: [{ name: 'app', sizeBytes: 10_000_000, encoding: 'UTF8', tables, sequences: [], extensions: [{ name: 'plpgsql', version: '1.0' }], dumpMembers: ['databases/app.dump'], dumpSize: 1_000_000, dumpSha256: sha(id) }],
    },
    files,
    skipped: [],
    app: { profile, items, migrations, metadataMembers: [] },
    warnings: [],
    members: [],
  };
}

/**
 * Fills `catalog` with `options.backups` backups spread over the targets (round-robin by time
 * slot), in one transaction. Returns what it made, newest slot first.
 */
export function fillCatalog(catalog: Catalog, options: ApiDataOptions): GeneratedBackup[] {
  const rnd = random(options.seed ?? 19);
  const names = options.targetNames ?? Array.from({ length: options.targets ?? 20 }, (_, i) => `app-${String(i + 1).padStart(2, '0')}`);
  const end = options.end ?? new Date(Date.now() - 3_600_000);
  const step = options.stepMs ?? 6 * 3_600_000;
  const slot0 = Math.floor(end.getTime() / 1000) * 1000;
  const slots = Math.ceil(options.backups / names.length);
  const made: GeneratedBackup[] = [];
  catalog.bulk(() => {
    // Oldest first, as time went: the verifications recorded last are of the newest backups.
    for (let i = options.backups - 1; i >= 0; i--) {
      const slot = Math.floor(i / names.length);
      const t = i % names.length;
      const target = names[t]!;
      const profile = ['generic', 'n8n', 'django', 'generic'][t % 4]!;
      const started = new Date(slot0 - slot * step);
      const id = `${target}-${compact(started)}`;
      const jobId = `job-${id}`;
      const replica = t % 2 === 0;
      catalog.startBackup({ id, target, trigger: rnd() < 0.9 ? 'schedule' : 'manual', jobId, startedAt: started, compression: 'zstd', encrypted: false, bundleKey: `${target}/${id}.tar.zst` });
      const g: GeneratedBackup = { id, target, startedAt: started.toISOString(), status: 'ok', storedStatus: 'ok', size: null, verification: { status: 'unverified', level: null }, protection: null, pendingDeletion: false };
      made.push(g);
      const roll = rnd();
      // The newest backup of the last target is still running; about 5% of the others failed.
      if (slot === 0 && t === names.length - 1) {
        g.status = g.storedStatus = 'running';
        continue;
      }
      if (roll < 0.05) {
        catalog.failBackup(id, 'pg_dump: error: connection to server lost');
        g.status = g.storedStatus = 'failed';
        continue;
      }
      const durationMs = 20_000 + Math.floor(rnd() * 600_000);
      const finished = new Date(started.getTime() + durationMs);
      const size = SIZES[Math.floor(rnd() * SIZES.length)]!;
      g.size = size;
      const manifest = manifestFor(id, target, profile, started, finished, rnd);
      const tables = manifest.postgres!.databases[0]!.tables;
      catalog.completeBackup(id, {
        size, sha256: sha(`${id}bundle`), manifest,
        summary: { databases: 1, tables: tables.length, rows: tables.reduce((n, x) => n + (x.rows ?? 0), 0), files: manifest.files.length, appItems: manifest.app.items.length, durationMs, warnings: 0 },
        location: { storage: 'local', key: `${target}/${id}.tar.zst`, status: 'ok', size, sha256: sha(`${id}bundle`) },
      });
      if (replica) {
        const failed = rnd() < 0.06;
        catalog.setLocation(id, { storage: 's3', key: `${target}/${id}.tar.zst`, status: failed ? 'failed' : 'ok', size: failed ? null : size, sha256: failed ? null : sha(`${id}bundle`), error: failed ? 'S3: connection reset' : null });
        if (failed) g.status = 'degraded';
      }
      const v = rnd();
      if (v < 0.3) {
        const level = v < 0.21 ? 'quick' : 'full';
        const ok = v > 0.015;
        catalog.recordVerification({ id: `verify-${id}`, backupId: id, level, startedAt: finished.toISOString(), ok, report: { checks: [] } });
        g.verification = { status: ok ? 'passed' : 'failed', level };
      }
      const p = rnd();
      if (p < 0.03) {
        catalog.setProtection(id, null, ['release']);
        g.protection = { until: null };
      } else if (p < 0.05) {
        // Half of these protections are over already: protected in the record, not in effect.
        const until = new Date(started.getTime() + (p < 0.04 ? 400 : 1) * 86_400_000);
        catalog.setProtection(id, until);
        g.protection = { until: until.toISOString() };
      } else if (p < 0.07) {
        catalog.scheduleDeletion(id, new Date(end.getTime() + 86_400_000));
        g.pendingDeletion = true;
      } else if (slot > slots * 0.6 && p < 0.3) {
        // Retention deleted some of the oldest: their records stay, for history.
        catalog.markDeleted(id);
        g.status = 'deleted';
      }
    }
  });
  return made.reverse();
}

/**
 * A lifeboat.yaml naming what fillCatalog made: its targets (each with a schedule and
 * retention, so GET /targets and the retention preview have something to show) and the two
 * storages its copies are on. Nothing in it is contacted by the listing routes: the database
 * URL points at a closed port, the S3 endpoint too.
 */
export function apiDataConfig(options: { storageDir: string; targetNames?: string[]; targets?: number }): string {
  const names = options.targetNames ?? Array.from({ length: options.targets ?? 20 }, (_, i) => `app-${String(i + 1).padStart(2, '0')}`);
  return [
    'storages:',
    `  local: { type: local, path: ${JSON.stringify(options.storageDir)}, quota: 2TB }`,
    '  s3: { type: s3, bucket: bench-backups, endpoint: "http://127.0.0.1:9", pathStyle: true }',
    'targets:',
    ...names.flatMap((name, i) => [
      `  ${name}:`,
      '    postgres: { url: "postgres://bench@127.0.0.1:9/app" }',
      `    storage: ${i % 2 === 0 ? '{ primary: local, replicas: [s3] }' : 'local'}`,
      '    schedule: { cron: "daily at 02:00", timezone: Europe/Amsterdam }',
      '    retention: { keepLast: 7, keepDaily: 14, keepWeekly: 8, keepMonthly: 6 }',
    ]),
    '',
  ].join('\n');
}

/** Opens (creating) the catalog under `home`, fills it, closes it. */
export function generateApiData(home: string, options: ApiDataOptions): GeneratedBackup[] {
  const catalog = Catalog.open(home);
  try {
    return fillCatalog(catalog, options);
  } finally {
    catalog.close();
  }
}

/**
 * Milliseconds per page of queryBackups (limit 50) on a filled catalog, wall and CPU (the CPU
 * figure holds on a busy machine), for a few filtered queries, first pages and later ones, each
 * run `rounds` times after a warm-up with a fresh `now`, so the read memo never answers: what
 * the query itself costs.
 */
export function timeQueries(home: string, rounds = 200): { query: string; msPerPage: number; cpuMsPerPage: number; items: number }[] {
  const catalog = Catalog.open(home);
  try {
    const targets = catalog.targetTotals(new Date().toISOString(), new Date(0).toISOString());
    const target = [...targets.keys()].sort()[Math.floor(targets.size / 2)];
    const queries: [string, BackupQuery][] = [
      ['newest 50', {}],
      [`target=${target}`, { target }],
      ['status=failed', { status: 'failed' }],
      ['status=degraded', { status: 'degraded' }],
      ['verified=full', { verified: 'full' }],
      ['protected=true', { protected: true }],
      ['pendingDeletion=true', { pendingDeletion: true }],
      ['sort=size', { sort: 'size' }],
      [`target=${target}&status=ok&sort=size&order=asc`, { target, status: 'ok', sort: 'size', order: 'asc' }],
      ['from/to (a month)', { from: new Date(Date.now() - 60 * 86_400_000), to: new Date(Date.now() - 30 * 86_400_000) }],
    ];
    return queries.flatMap(([name, q]) => {
      const second = queryBackups(catalog, { ...q, now: new Date() }).nextCursor ?? undefined;
      return ([['', undefined], [' (page 2)', second]] as const).filter(([, cursor], i) => i === 0 || cursor).map(([suffix, cursor]) => {
        let items = 0;
        const run = (n: number) => {
          for (let i = 0; i < n; i++) items = queryBackups(catalog, { ...q, cursor, now: new Date(Date.now() + i) }).items.length;
        };
        run(20);
        const started = performance.now();
        const cpu = process.cpuUsage();
        run(rounds);
        const used = process.cpuUsage(cpu);
        return { query: name + suffix, msPerPage: (performance.now() - started) / rounds, cpuMsPerPage: (used.user + used.system) / 1000 / rounds, items };
      });
    });
  } finally {
    catalog.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [home, backups = '10000', targets = '20'] = process.argv.slice(2);
  if (!home) {
    process.stderr.write('usage: node bench/api-data.ts <home> [backups] [targets]\n');
    process.exit(2);
  }
  const started = performance.now();
  const made = generateApiData(path.resolve(home), { backups: Number(backups), targets: Number(targets) });
  process.stdout.write(`${made.length} backups over ${targets} targets in ${path.resolve(home)} (${Math.round(performance.now() - started)} ms)\n`);
  for (const t of timeQueries(path.resolve(home))) process.stdout.write(`${t.msPerPage.toFixed(3).padStart(7)} ms/page (${t.cpuMsPerPage.toFixed(3)} ms CPU)  ${String(t.items).padStart(3)} items  ${t.query}\n`);
}
