import { statSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Catalog } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { storageList } from './storage.ts';

/**
 * `GET /metrics`: the catalog's state in Prometheus text format, read at each scrape into a
 * registry of its own (never prom-client's global one, so nothing else's metrics leak in and
 * two servers in one process do not share values). No process metrics: a node exporter does
 * that better. Times are Unix seconds.
 */
export async function renderMetrics(loaded: LoadedConfig, catalog: Catalog, now: Date = new Date()): Promise<{ contentType: string; body: string }> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const lastSuccess = gauge('lifeboat_last_success_timestamp_seconds', 'When the newest successful backup of the target finished', ['target']);
  const duration = gauge('lifeboat_last_backup_duration_seconds', 'How long the newest successful backup of the target took', ['target']);
  const size = gauge('lifeboat_last_backup_size_bytes', 'Bundle size of the newest successful backup of the target', ['target']);
  const backups = gauge('lifeboat_backups', 'Backup records by target and status (running, ok, degraded, failed, deleted)', ['target', 'status']);
  const verificationOk = gauge('lifeboat_verification_ok', '1 when the newest verification of a backup of the target passed, 0 when it failed', ['target']);
  const verifiedAt = gauge('lifeboat_last_verification_timestamp_seconds', 'When the newest verification of a backup of the target finished', ['target']);
  const used = gauge('lifeboat_storage_used_bytes', 'Bytes Lifeboat keeps on the storage, as last measured', ['storage']);
  const free = gauge('lifeboat_storage_free_bytes', 'Free bytes on the storage (or under its quota), as last measured', ['storage']);
  const quota = gauge('lifeboat_storage_quota_bytes', 'The storage\'s quota from lifeboat.yaml', ['storage']);
  const running = gauge('lifeboat_jobs_running', 'Jobs running now, by kind', ['kind']);
  const failedDeliveries = new Counter({ name: 'lifeboat_notification_deliveries_failed_total', help: 'Notification deliveries given up on after every attempt failed, by channel', labelNames: ['channel'], registers: [registry] });
  const protectedNow = gauge('lifeboat_backups_protected', 'Backups of the target protected from retention now', ['target']);
  const wal = gauge('lifeboat_catalog_wal_bytes', 'Size of the catalog\'s SQLite write-ahead log', []);

  const seconds = (iso: string) => Date.parse(iso) / 1000;
  for (const target of Object.keys(loaded.config.targets)) {
    const ok = catalog.newestBackup(target, 'succeeded');
    if (ok) {
      lastSuccess.set({ target }, seconds(ok.finishedAt ?? ok.startedAt));
      const ms = ok.durationMs ?? (ok.finishedAt ? Date.parse(ok.finishedAt) - Date.parse(ok.startedAt) : null);
      if (ms !== null) duration.set({ target }, ms / 1000);
      if (ok.size !== null) size.set({ target }, ok.size);
    }
    const v = catalog.newestVerification(target);
    if (v) {
      verificationOk.set({ target }, v.ok ? 1 : 0);
      verifiedAt.set({ target }, seconds(v.finishedAt));
    }
  }
  const totals = catalog.targetTotals(now.toISOString(), now.toISOString());
  for (const [target, t] of totals) protectedNow.set({ target }, t.protected);
  for (const c of catalog.backupCounts()) backups.set({ target: c.target, status: c.status }, c.count);
  for (const s of storageList(loaded, catalog)) {
    if (s.usedBytes !== null) used.set({ storage: s.name }, s.usedBytes);
    if (s.freeBytes !== null) free.set({ storage: s.name }, s.freeBytes);
    if (s.quotaBytes !== null) quota.set({ storage: s.name }, s.quotaBytes);
  }
  for (const [kind, n] of catalog.runningJobCounts()) running.set({ kind }, n);
  for (const [channel, n] of catalog.failedDeliveryCounts()) failedDeliveries.inc({ channel }, n);
  wal.set(walBytes(catalog.file));
  return { contentType: registry.contentType, body: await registry.metrics() };
}

function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}
