import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { LifeboatError } from '../errors.ts';
import { migrations } from './migrations.ts';

export type Row = Record<string, SQLInputValue>;

export const now = () => new Date().toISOString();

/**
 * The catalog's SQLite connection and the few helpers every part of it uses: its migrations,
 * transactions and statements; targets and settings. The parts (jobs, backups, events,
 * schedules) each extend the one before, so \`Catalog\` is one object with one connection.
 */
export class CatalogStore {
  protected readonly db: DatabaseSync;
  readonly file: string;

  protected constructor(db: DatabaseSync, file: string) {
    this.db = db;
    this.file = file;
  }

  protected migrate(): void {
    const current = this.schemaVersion();
    if (current > migrations.length) {
      throw new LifeboatError('E_CONFIG', `the catalog ${this.file} was written by a newer Lifeboat (schema ${current}, this one knows ${migrations.length})`);
    }
    for (let v = current; v < migrations.length; v++) {
      this.tx(() => {
        // Read again under the write lock: two commands started at once on a new catalog both
        // saw the old version, and the second ran the first's migration again (duplicate column).
        if (this.schemaVersion() > v) return;
        this.db.exec(migrations[v]!);
        this.db.exec(`pragma user_version = ${v + 1}`);
      });
    }
  }

  private schemaVersion(): number {
    return Number((this.db.prepare('pragma user_version').get() as { user_version: number }).user_version);
  }

  protected tx<T>(fn: () => T): T {
    this.db.exec('begin immediate');
    try {
      const result = fn();
      this.db.exec('commit');
      return result;
    } catch (err) {
      this.db.exec('rollback');
      throw err;
    }
  }

  readonly #statements = new Map<string, StatementSync>();

  /**
   * The statement for `sql`, prepared once per connection: preparing costs more than running most
   * of the catalog's queries (a token lookup on each API request, say). Statements built from
   * filters vary, but within a small set; the cache is emptied should that ever not hold.
   */
  protected prepare(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      if (this.#statements.size >= 1000) this.#statements.clear();
      s = this.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  protected all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.prepare(sql).all(...params) as Row[];
  }

  protected one(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.prepare(sql).get(...params) as Row | undefined;
  }

  protected run(sql: string, ...params: SQLInputValue[]): void {
    this.prepare(sql).run(...params);
  }

  close(): void {
    this.db.close();
  }

  /** Throws when the catalog cannot take a write now (a full disk, a read-only file, a held lock). */
  probeWritable(): void {
    this.db.exec('begin immediate');
    this.db.exec('rollback');
  }

  /** Records a target as configured; `config` must already be free of secrets. */
  saveTarget(name: string, config: unknown): void {
    const t = now();
    this.run(
      `insert into targets (name, config_json, created_at, updated_at) values (?, ?, ?, ?)
       on conflict (name) do update set config_json = excluded.config_json, updated_at = excluded.updated_at`,
      name, JSON.stringify(config), t, t,
    );
  }

  getSetting<T>(key: string): T | undefined {
    const r = this.one('select value_json from settings where key = ?', key);
    return r ? (JSON.parse(String(r.value_json)) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.run('insert into settings (key, value_json, updated_at) values (?, ?, ?) on conflict (key) do update set value_json = excluded.value_json, updated_at = excluded.updated_at', key, JSON.stringify(value), now());
  }
}
