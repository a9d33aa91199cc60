// The protected backup of what a restore is about to replace, taken before anything is changed.
import type { TargetConfig } from '../config/schema.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { runBackup } from './backup.ts';
import type { RestoreContext } from './restore-context.ts';
import type { PlannedFile } from './restore-files.ts';
import { literalGlob } from './restore-files-volumes.ts';

/** Backs up the databases about to be replaced, as they are now, and protects that backup. */
export async function safetyBackup(ctx: RestoreContext, databases: string[], overwritten: PlannedFile[], days: number, signal: AbortSignal): Promise<string> {
  const base = ctx.loaded.config.targets[ctx.backup.target];
  let postgres;
  if (databases.length && ctx.server?.exec && base?.postgres) {
    // A server in a container is backed up through the container again, as the target says.
    postgres = { ...base.postgres, databases, globals: false };
  } else if (databases.length && ctx.server) {
    const url = new URL(ctx.server.url);
    if (ctx.server.password !== undefined) url.password = encodeURIComponent(ctx.server.password);
    postgres = { url: url.toString(), databases, globals: false };
  }
  const files = overwritten.filter((f) => f.via !== 'helper').map((f) => f.destination);
  const fileSets: TargetConfig['files'] = files.length ? { 'pre-restore': { paths: files, include: undefined, exclude: undefined } } : {};
  // A volume this process cannot read at its mountpoint is read through a helper again: only the
  // files about to be replaced (their paths relative to the volume, as literal patterns).
  for (const [volume, mountpoint] of new Map(overwritten.filter((f) => f.via === 'helper').map((f) => [f.volume!, f.mountpoint!]))) {
    const include = overwritten.filter((f) => f.volume === volume).map((f) => literalGlob(f.destination.slice(mountpoint.length + 1)));
    fileSets[`pre-restore-${volume}`] = { paths: [], include, exclude: undefined, volume, via: 'helper' };
  }
  const target: TargetConfig = {
    ...(base ?? { profile: 'generic', onUnreadable: 'fail', compression: { algorithm: 'zstd' }, storage: { primary: ctx.storage.name, replicas: [] } }),
    postgres,
    files: fileSets,
  };
  const loaded = { ...ctx.loaded, config: { ...ctx.loaded.config, targets: { ...ctx.loaded.config.targets, [ctx.backup.target]: target } } };
  try {
    const result = await runBackup(loaded, ctx.catalog, ctx.backup.target, { trigger: 'pre-restore', signal });
    ctx.catalog.setProtection(result.id, new Date(Date.now() + days * 86_400_000), ['pre-restore']);
    return result.id;
  } catch (err) {
    const e = asLifeboatError(err);
    throw new LifeboatError(e.code, `the safety backup failed, so the restore did not start: ${e.message}`, { cause: err, hint: e.hint });
  }
}
