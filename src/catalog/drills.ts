import { now, type Row } from './store.ts';
import { ObjectQueries } from './objects.ts';

/** The RTO of a drill, by part, in milliseconds: what a bare-metal restore of the bundle took. */
export interface DrillPhases {
  /** The bundle fetched from storage as a file, checked while copied. */
  fetch: number;
  /** Decrypted (when encrypted), decompressed and unpacked into an empty directory. */
  unpack: number;
  /** restore.sh's checks before it changes anything (every member's sha256, tools, server). */
  checks: number;
  /** Roles and databases restored by restore.sh (each validated on its row counts as it ends). */
  databases: number;
  /** File sets restored by restore.sh (validated on their sha256). */
  files: number;
  /** The drill's own comparison of the restore with the manifest. */
  validation: number;
}

/** One drill as the catalog keeps it. */
export interface DrillRecord {
  /** The drill's job id. */
  id: string;
  backupId: string;
  target: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** Sum of the phases; null when the drill failed before restoring. */
  rtoMs: number | null;
  phases: Partial<DrillPhases>;
  /** Bytes of the bundle as stored. */
  bundleSize: number | null;
  /** The storage the bundle was fetched from. */
  storage: string | null;
  /** `--version` of each tool the room used: bash, tar, zstd, age, psql, pg_restore, the server. */
  tools: Record<string, string>;
  /** The whole report (checks, restore.sh's summary, error). */
  report: unknown;
}

/** Drills: a bare-metal restore of a bundle, timed, and its verdict. */
export class DrillQueries extends ObjectQueries {
  recordDrill(d: Omit<DrillRecord, 'finishedAt'>): void {
    this.run(
      `insert into drills (id, backup_id, target, started_at, finished_at, ok, rto_ms, phases_json, bundle_size, storage, tools_json, report_json)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      d.id, d.backupId, d.target, d.startedAt, now(), d.ok ? 1 : 0, d.rtoMs, JSON.stringify(d.phases), d.bundleSize, d.storage, JSON.stringify(d.tools), JSON.stringify(d.report),
    );
  }

  /** A backup's drills, newest first. */
  listDrills(backupId: string, limit = 20): DrillRecord[] {
    return this.all('select * from drills where backup_id = ? order by started_at desc, id desc limit ?', backupId, limit).map(toDrill);
  }

  /** The newest drill of a target (`ok: true`: the newest that passed). */
  lastDrill(target: string, options: { ok?: boolean } = {}): DrillRecord | undefined {
    const r = options.ok
      ? this.one('select * from drills where target = ? and ok = 1 order by started_at desc, id desc limit 1', target)
      : this.one('select * from drills where target = ? order by started_at desc, id desc limit 1', target);
    return r ? toDrill(r) : undefined;
  }
}

function toDrill(r: Row): DrillRecord {
  return {
    id: String(r.id), backupId: String(r.backup_id), target: String(r.target), startedAt: String(r.started_at), finishedAt: String(r.finished_at),
    ok: Number(r.ok) === 1, rtoMs: r.rto_ms === null ? null : Number(r.rto_ms), phases: JSON.parse(String(r.phases_json)) as Partial<DrillPhases>,
    bundleSize: r.bundle_size === null ? null : Number(r.bundle_size), storage: (r.storage as string | null) ?? null,
    tools: JSON.parse(String(r.tools_json)) as Record<string, string>, report: JSON.parse(String(r.report_json)) as unknown,
  };
}
