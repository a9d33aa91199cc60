import path from 'node:path';
import type { PgEndpoint } from '../postgres/connection.ts';
import { runInRoom, SYSTEM_PATH } from './drill-room.ts';

/** How long each part of restore.sh took, read from the lines it prints as it goes. */
export interface RestoreShTimes {
  /** Its checks before changing anything: every member's sha256, the tools, the server. */
  checksMs: number;
  /** Roles and databases, each database's row counts validated as it finishes. */
  databasesMs: number;
  /** The file sets, their sha256 validated at the end. */
  filesMs: number;
}

export interface RestoreShRun extends RestoreShTimes {
  /** 0 whole, 1 partial, 2 refused (restore.sh's own statuses). */
  code: number | null;
  /** The lines of its summary table, and its verdict. */
  summary: string[];
  /** What it printed on stderr (its refusals, mismatches), the last 64 KiB. */
  stderr: string;
}

/**
 * Runs the unpacked bundle's restore.sh as a person would: `bash restore.sh` with an empty
 * environment but PATH (system directories and the PostgreSQL client tools' directory, first,
 * as restore.sh's own hint says), PGPASSWORD (the scratch cluster's password: never on a
 * command line) and TMPDIR (inside the drill's directory, so a killed run leaves nothing else).
 */
export async function runRestoreSh(
  dir: string,
  o: {
    server?: PgEndpoint;
    pgBinDir?: string;
    globals: boolean;
    filesRoot?: string;
    jobs: number;
    tmpDir: string;
    signal: AbortSignal;
    onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  },
): Promise<RestoreShRun> {
  const args = [path.join(dir, 'restore.sh')];
  const env: Record<string, string> = { PATH: o.pgBinDir ? `${o.pgBinDir}:${SYSTEM_PATH}` : SYSTEM_PATH, TMPDIR: o.tmpDir };
  if (o.server) {
    args.push('--url', o.server.url);
    if (o.server.password) env.PGPASSWORD = o.server.password;
    if (o.globals) args.push('--globals');
    if (o.jobs > 1) args.push('--jobs', String(o.jobs));
  } else {
    args.push('--no-databases');
  }
  if (o.filesRoot) args.push('--files-root', o.filesRoot);
  const started = Date.now();
  let restoring: number | undefined;
  let files: number | undefined;
  let ended: number | undefined;
  const summary: string[] = [];
  let inSummary = false;
  const r = await runInRoom('/bin/bash', args, env, {
    signal: o.signal,
    onLine: (line, stream) => {
      if (stream === 'stdout') {
        // restore.sh's headings: "Restoring" once its checks passed, "Restoring files under ..."
        // once the databases are done, "Summary (N s)" at the end.
        if (line === 'Restoring' && restoring === undefined) restoring = Date.now();
        else if (line.startsWith('Restoring files under ') && files === undefined) files = Date.now();
        else if (/^Summary \(\d+ s\)$/.test(line)) {
          ended = Date.now();
          inSummary = true;
        } else if (inSummary && line.trim()) summary.push(line.trim());
      }
      o.onLine(line, stream);
    },
  });
  const end = ended ?? Date.now();
  const startRestore = restoring ?? end;
  const startFiles = files ?? end;
  return {
    code: r.code,
    summary,
    stderr: r.stderr,
    checksMs: startRestore - started,
    databasesMs: startFiles - startRestore,
    filesMs: end - startFiles,
  };
}
