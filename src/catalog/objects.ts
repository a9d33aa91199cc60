import { LifeboatError } from '../errors.ts';
import { ReportQueries } from './queries.ts';
import { now, type Row } from './store.ts';

/** What config objects the catalog keeps: the sections of lifeboat.yaml that can also be created over the API. */
export type ObjectKind = 'target' | 'storage' | 'channel';

/** One config object created over the API, as the catalog keeps it. */
export interface ConfigObjectRecord {
  kind: ObjectKind;
  name: string;
  /** The object as its creator wrote it, each secret sealed as `{ "$sealed": "v1:..." }`. */
  config: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  /** The actor that created it: a user, a token's name, `cli:<os user>`. */
  createdBy: string;
  updatedBy: string;
}

/** Targets, storages and channels created over the API (config/objects.ts gives them meaning). */
export class ObjectQueries extends ReportQueries {
  listConfigObjects(kind?: ObjectKind): ConfigObjectRecord[] {
    const rows = kind ? this.all('select * from config_objects where kind = ? order by name', kind) : this.all('select * from config_objects order by kind, name');
    return rows.map(toRecord);
  }

  getConfigObject(kind: ObjectKind, name: string): ConfigObjectRecord | undefined {
    const row = this.one('select * from config_objects where kind = ? and name = ?', kind, name);
    return row && toRecord(row);
  }

  /** E_CONFLICT when an object of that kind and name exists already. */
  insertConfigObject(kind: ObjectKind, name: string, config: Record<string, unknown>, actor: string): ConfigObjectRecord {
    const t = now();
    try {
      this.run('insert into config_objects (kind, name, config_json, created_at, updated_at, created_by, updated_by) values (?, ?, ?, ?, ?, ?, ?)', kind, name, JSON.stringify(config), t, t, actor, actor);
    } catch (err) {
      if (/UNIQUE constraint failed/.test((err as Error).message)) throw new LifeboatError('E_CONFLICT', `a ${kind} named "${name}" exists already`, { hint: 'update it instead, or choose another name' });
      throw err;
    }
    return this.getConfigObject(kind, name)!;
  }

  /**
   * Replaces an object's config, only if it is still the version read at `expectedUpdatedAt`:
   * two writers that read the same version cannot both win (the second gets E_CONFLICT).
   */
  updateConfigObject(kind: ObjectKind, name: string, config: Record<string, unknown>, actor: string, expectedUpdatedAt: string): ConfigObjectRecord {
    // Two updates within one millisecond would share a timestamp: keep updated_at increasing.
    let t = now();
    if (t <= expectedUpdatedAt) t = new Date(Date.parse(expectedUpdatedAt) + 1).toISOString();
    const r = this.db
      .prepare('update config_objects set config_json = ?, updated_at = ?, updated_by = ? where kind = ? and name = ? and updated_at = ?')
      .run(JSON.stringify(config), t, actor, kind, name, expectedUpdatedAt);
    if (Number(r.changes) !== 1) {
      throw new LifeboatError('E_CONFLICT', `the ${kind} "${name}" was changed or removed meanwhile`, { hint: 'read it again and repeat the change' });
    }
    return this.getConfigObject(kind, name)!;
  }

  /** False when there was no such object. */
  deleteConfigObject(kind: ObjectKind, name: string): boolean {
    return Number(this.db.prepare('delete from config_objects where kind = ? and name = ?').run(kind, name).changes) === 1;
  }
}

function toRecord(r: Row): ConfigObjectRecord {
  return {
    kind: r.kind as ObjectKind, name: String(r.name), config: JSON.parse(String(r.config_json)) as Record<string, unknown>,
    createdAt: String(r.created_at), updatedAt: String(r.updated_at), createdBy: String(r.created_by), updatedBy: String(r.updated_by),
  };
}
