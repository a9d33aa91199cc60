import type { BackupRecord, Catalog, LocationRecord } from '../catalog/catalog.ts';
import type { LoadedConfig } from '../config/load.ts';
import { asLifeboatError, LifeboatError } from '../errors.ts';
import { openStorage, type StorageDriver } from '../storage/storage.ts';

type Log = (level: 'info' | 'warn', message: string) => void;

interface CopiesContext {
  loaded: LoadedConfig;
  catalog: Catalog;
  backup: BackupRecord;
  log: Log;
}

/** Holds log lines until a job exists to take them (copies are opened before the job starts). */
export function deferredLog(): Log & { flush(to: Log): void } {
  let target: Log | undefined;
  const held: [level: 'info' | 'warn', message: string][] = [];
  const log = (level: 'info' | 'warn', message: string) => (target ? target(level, message) : held.push([level, message]));
  return Object.assign(log, {
    flush(to: Log) {
      target = to;
      for (const [level, message] of held.splice(0)) to(level, message);
    },
  });
}

/** One stored copy of a bundle, its storage open. */
export interface Copy {
  storage: StorageDriver;
  key: string;
  location: LocationRecord;
  /** True for the target's primary storage. */
  primary: boolean;
}

/**
 * The copies of one backup a reader may use, best first: the target's primary, then its
 * replicas in config order, then any other storage that holds one. `current` is the first that
 * is present with its recorded size; `fallBack` marks it bad in the catalog (so the backup shows
 * `degraded` and `replicate --pending` repairs it) and moves on to the next, saying so.
 */
export class Copies {
  #current: Copy | undefined;
  readonly #rest: LocationRecord[];
  readonly #ctx: CopiesContext;
  readonly #opened: StorageDriver[] = [];
  /** Copies left out because their last check (a verification, a failed read) marked them bad. */
  readonly #marked: LocationRecord[];
  /** Whether the caller can be told to pass --force to read the marked copies anyway. */
  readonly #forceable: boolean;

  private constructor(ctx: CopiesContext, rest: LocationRecord[], marked: LocationRecord[], forceable: boolean) {
    this.#ctx = ctx;
    this.#rest = rest;
    this.#marked = marked;
    this.#forceable = forceable;
  }

  /**
   * Opens the first usable copy; throws E_STORAGE_NOT_FOUND naming every place tried when none is.
   * `force: true` also tries, last, the copies marked bad: safe wherever the reader checks every
   * member against its checksum before it changes anything (a restore does); `force: false`
   * says the caller has that flag, so the error can offer it.
   */
  static async open(
    loaded: LoadedConfig,
    catalog: Catalog,
    backup: BackupRecord,
    log: Log,
    options: { exclude?: string; force?: boolean } = {},
  ): Promise<Copies> {
    const good = readOrder(loaded, backup).filter((l) => l.storage !== options.exclude);
    const marked = readOrder(loaded, backup, { all: true }).filter((l) => l.status !== 'ok' && l.storage !== options.exclude);
    const copies = options.force
      ? new Copies({ loaded, catalog, backup, log }, [...good, ...marked], [], true)
      : new Copies({ loaded, catalog, backup, log }, good, marked, options.force !== undefined);
    await copies.#advance();
    return copies;
  }

  get current(): Copy {
    return this.#current!;
  }

  /** Marks the current copy bad with `problem` and opens the next; false when none is left. */
  async fallBack(problem: string): Promise<boolean> {
    const bad = this.#current!;
    this.#mark(bad.location, 'failed', problem);
    try {
      await this.#advance();
    } catch {
      return false;
    }
    this.#ctx.log('warn', `the copy on ${bad.storage.name} is unusable (${problem}); reading the copy on ${this.#current!.storage.name} instead`);
    return true;
  }

  async close(): Promise<void> {
    for (const s of this.#opened) await s.close().catch(() => {});
  }

  async #advance(): Promise<void> {
    const { loaded, backup } = this.#ctx;
    const tried: string[] = [];
    for (let l = this.#rest.shift(); l; l = this.#rest.shift()) {
      const config = loaded.config.storages[l.storage];
      if (!config) {
        tried.push(`${l.storage}: not in lifeboat.yaml`);
        continue;
      }
      let storage: StorageDriver;
      try {
        storage = await openStorage(l.storage, config);
        this.#opened.push(storage);
        const stat = await storage.stat(l.key);
        const expected = l.size ?? backup.size;
        if (!stat) {
          this.#mark(l, 'missing', 'not found in storage');
          tried.push(`${l.storage}: missing`);
          this.#ctx.log('warn', `backup ${backup.id} is missing from storage ${l.storage}`);
          continue;
        }
        if (expected !== null && stat.size !== expected) {
          const problem = `holds ${stat.size} bytes instead of ${expected}`;
          this.#mark(l, 'failed', problem);
          tried.push(`${l.storage}: ${problem}`);
          this.#ctx.log('warn', `the copy of ${backup.id} on ${l.storage} ${problem}`);
          continue;
        }
      } catch (err) {
        const e = asLifeboatError(err);
        if (e.code === 'E_ABORTED') throw e;
        tried.push(`${l.storage}: ${e.message}`);
        this.#ctx.log('warn', `cannot read storage ${l.storage}: ${e.message}`);
        continue;
      }
      const primary = loaded.config.targets[backup.target]?.storage.primary;
      if (primary && l.storage !== primary) {
        const state = backup.locations.find((x) => x.storage === primary);
        this.#ctx.log('warn', `reading backup ${backup.id} from ${l.storage} instead of the primary ${primary} (${state ? `${state.status}${state.error ? `: ${state.error}` : ''}` : 'no copy there'})`);
      } else if (tried.length) {
        this.#ctx.log('warn', `reading backup ${backup.id} from ${l.storage} instead`);
      }
      this.#current = { storage, key: l.key, location: l, primary: l.storage === primary };
      return;
    }
    if (this.#marked.length) {
      // A verification (or an earlier read) found these bad. Rebuilding the catalog would mark
      // them good unchecked: checking them again is the way back, or reading them anyway.
      const bad = this.#marked.map((l) => `the copy on ${l.storage} ${l.status === 'missing' ? 'was missing at' : 'failed'} its last check${l.error ? ` (${l.error})` : ''}`);
      throw new LifeboatError('E_STORAGE_NOT_FOUND', `no usable copy of backup ${backup.id}: ${[...tried, ...bad].join('; ')}`, {
        hint: `check ${this.#marked.length > 1 ? 'them' : 'it'} again with \`lifeboat verify ${backup.id} --quick\` (a copy that passes is used again)${this.#forceable ? `, or pass --force to read ${this.#marked.length > 1 ? 'them' : 'it'} anyway: every member is still checked against its checksum before anything is changed` : ''}`,
      });
    }
    throw new LifeboatError('E_STORAGE_NOT_FOUND', `no storage holds a usable copy of backup ${backup.id}${tried.length ? `: ${tried.join('; ')}` : ''}`, {
      hint: 'run `lifeboat catalog rebuild` if storages moved',
    });
  }

  #mark(l: LocationRecord, status: 'failed' | 'missing', problem: string): void {
    l.status = status;
    l.error = problem;
    this.#ctx.catalog.setLocation(this.#ctx.backup.id, l);
  }
}

/**
 * Locations of a backup, primary first, then replicas in config order, then the rest: by default
 * only those recorded good; `{ all: true }` adds those marked failed or missing, to look again.
 */
export function readOrder(loaded: LoadedConfig, backup: BackupRecord, options: { all?: boolean } = {}): LocationRecord[] {
  const ref = loaded.config.targets[backup.target]?.storage;
  const rank = (storage: string) => {
    if (storage === ref?.primary) return 0;
    const i = ref?.replicas.indexOf(storage) ?? -1;
    return i >= 0 ? 1 + i : 1000;
  };
  return backup.locations.filter((l) => l.status === 'ok' || (options.all && l.status !== 'pending')).sort((a, b) => rank(a.storage) - rank(b.storage));
}
