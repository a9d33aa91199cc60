// How a backup names things: its id, its members and its sidecar in storage. Shared by the jobs
// that write, copy, prune and rebuild, so none of them imports another for a name.

/** The tar member a database's dump is written to (before any `.part-NNNN`). */
export function dumpMemberName(db: string): string {
  return `databases/${encodeURIComponent(db)}.dump`;
}

/** The storage key of a bundle's sidecar manifest. */
export function sidecarKey(bundleKey: string): string {
  return `${bundleKey}.manifest.json`;
}

/** `<target>-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`... when that second is taken already. */
export function newBackupId(target: string, at: Date, taken: (id: string) => boolean): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const base = `${target}-${stamp}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}-${n}`)) return `${base}-${n}`;
}
