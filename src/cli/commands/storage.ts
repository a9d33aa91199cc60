import { Command } from 'commander';
import type { StorageHealth } from '../../jobs/storage-health.ts';
import { duration, formatBytes, progressListener, table } from '../output.ts';
import { print, interruptSignal, catalogAction, auditedAction } from '../context.ts';

/** Storages: storage list and test, replicate, catalog rebuild. */
export function registerStorage(program: Command): void {
  const catalogCmd = program.command('catalog').description('the catalog: Lifeboat\'s index of backups');
  catalogCmd
    .command('rebuild')
    .description('recreate the catalog from the manifests in every configured storage')
    .action(
      auditedAction({ action: 'catalog.rebuild' }, async ({ opts, loaded, catalog, audit }) => {
        const listener = progressListener({ json: opts.json === true });
        const { rebuildCatalog } = await import('../../jobs/rebuild.ts');
        const report = await rebuildCatalog(loaded, catalog, { listener });
        listener.end();
        audit.detail.added = report.added.length;
        audit.detail.untrusted = report.untrusted.map((u) => u.id);
        audit.detail.skipped = report.unreadable.length + report.unreachable.length;
        print(opts, report, () =>
          [`read ${report.storages.length} storage(s): ${report.added.length} backup(s) added, ${report.updated.length} already known${report.untrusted.length ? `, ${report.untrusted.length} untrusted` : ''}${report.unreadable.length ? `, ${report.unreadable.length} skipped` : ''}`,
            ...report.untrusted.map((u) => `untrusted ${u.id} (${u.key} on ${u.storage}): ${u.reason}`),
            ...report.unreachable.map((u) => `could not list storage ${u.storage}: ${u.error}`),
            ...report.unreadable.map((u) => `skipped ${u.key} on ${u.storage}: ${u.error}`)].join('\n'),
        );
        if (report.unreadable.length || report.unreachable.length) process.exitCode = 1;
      }),
    );

  program
    .command('replicate')
    .description('copy backups to every storage their target names that lacks a good copy (failed replicas, new replicas, a lost primary)')
    .requiredOption('--pending', 'copy everything pending (the only mode for now)')
    .option('--target <name>', 'only this target')
    .action(
      auditedAction({ action: 'replicate.run', object: (o: { target?: string }) => o.target }, async ({ opts, loaded, catalog, audit }, o: { target?: string }) => {
        const listener = progressListener({ json: opts.json === true });
        const interrupt = interruptSignal();
        try {
          const { runReplicatePending } = await import('../../jobs/replicate.ts');
          const report = await runReplicatePending(loaded, catalog, { target: o.target, signal: interrupt.signal, listener });
          listener.end();
          audit.detail.copies = report.copies.map((c) => `${c.backupId} to ${c.storage}: ${c.status}`);
          if (report.lost.length) audit.detail.lost = report.lost;
          const failed = report.copies.filter((c) => c.status === 'failed');
          print(opts, report, () =>
            report.copies.length === 0 && report.lost.length === 0
              ? 'nothing pending: every backup is on every storage its target names'
              : [
                  ...report.copies.map((c) => (c.status === 'ok' ? `copied ${c.backupId} to ${c.storage} (${formatBytes(c.bytes ?? 0)} from ${c.from})` : `FAILED ${c.backupId} to ${c.storage}: ${c.error}`)),
                  ...report.lost.map((id) => `LOST ${id}: no good copy left anywhere`),
                ].join('\n'),
          );
          if (failed.length || report.lost.length) process.exitCode = 1;
        } finally {
          listener.end();
          interrupt.dispose();
        }
      }),
    );

  const storageCmd = program.command('storage').description('the storages bundles are kept on');
  const space = (h: StorageHealth) => (h.freeBytes === null ? '-' : `${formatBytes(h.freeBytes)} of ${formatBytes(h.totalBytes ?? 0)}`);
  storageCmd
    .command('list')
    .description('every configured storage: reachable, free space, what Lifeboat keeps there')
    .action(
      catalogAction(async ({ opts, loaded, catalog }) => {
        const { checkStorage } = await import('../../jobs/storage-health.ts');
        const report: StorageHealth[] = [];
        for (const name of Object.keys(loaded.config.storages)) report.push(await checkStorage(loaded, catalog, name));
        print(opts, report, () =>
          table(['NAME', 'TYPE', 'REACHABLE', 'FREE', 'USED BY LIFEBOAT', 'BUNDLES', 'PROBLEM'], report.map((h) => [
            h.name, h.type, h.reachable ? 'yes' : 'NO', space(h), h.usedBytes === null ? '-' : formatBytes(h.usedBytes), h.bundles === null ? '-' : String(h.bundles), h.error ?? '',
          ])),
        );
        if (report.some((h) => !h.reachable)) process.exitCode = 1;
      }),
    );
  storageCmd
    .command('test')
    .description('prove a storage works: list it, write, read back and delete a probe object, read its free space')
    .argument('<name>', 'storage name from lifeboat.yaml')
    .action(
      auditedAction({ action: 'storage.test' }, async ({ opts, loaded, catalog, audit }, name: string) => {
        const { checkStorage } = await import('../../jobs/storage-health.ts');
        const h = await checkStorage(loaded, catalog, name, { write: true });
        if (h.error) audit.detail.problem = h.error;
        print(opts, h, () => [
          `storage ${h.name} (${h.type}), checked in ${duration(h.ms)}`,
          `  reachable   ${h.reachable ? 'yes' : 'NO'}`,
          `  writable    ${h.writable ? 'yes (probe written, read back and deleted)' : h.writable === false ? 'NO' : '-'}`,
          `  free        ${h.freeBytes === null ? 'not reported by this backend (set quota: to cap use)' : space(h)}`,
          `  used        ${h.usedBytes === null ? '-' : `${formatBytes(h.usedBytes)} in ${h.objects} objects, ${h.bundles} bundles`}`,
          ...(h.error ? [`  problem     ${h.error}`] : []),
        ].join('\n'));
        if (!h.reachable || !h.writable) process.exitCode = 1;
      }),
    );
}
