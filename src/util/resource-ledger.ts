import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a job leaves behind if it is killed before it cleans up. `database`: a scratch database
 * on a target's server; `cluster`: a scratch cluster's directory and its server process;
 * `dir`: a temp directory; `fifo`: the directory a pipe was made in; `process`: a tool's
 * process group; `upload`: an object being written to a storage under a temporary name;
 * `container`: a scratch or helper container (its name; `server`: the engine's address).
 */
export type ResourceKind = 'database' | 'schema' | 'cluster' | 'dir' | 'fifo' | 'process' | 'upload' | 'container';

/** One resource as the ledger records it. */
export interface ResourceSpec {
  kind: ResourceKind;
  /** What identifies it: a path, a database name, a process group id, a storage key. */
  location: string;
  /** Where it lives: a database's server URL (never with its password), an upload's storage. */
  server?: string;
  /** What the clean-up needs besides: a process's start mark. */
  detail?: string;
}

/** Where resources are recorded (the catalog, through jobs/resources.ts). */
export interface ResourceLedger {
  /** Records a resource about to be created; returns its record id. */
  add(spec: ResourceSpec): number;
  /** Completes a record once the resource exists (a process's pid is known only after spawn). */
  update(id: number, spec: Pick<ResourceSpec, 'location' | 'detail'>): void;
  /** Forgets a resource that was cleaned up. */
  remove(id: number): void;
}

/** A recorded resource: release it once it is cleaned up. */
export interface TrackedResource {
  update(spec: Pick<ResourceSpec, 'location' | 'detail'>): void;
  release(): void;
}

const current = new AsyncLocalStorage<ResourceLedger>();

/**
 * Runs `fn` with `ledger` recording every resource created inside it, across awaits (jobs wrap
 * their whole run in it, so code deep in postgres/ and util/ needs no catalog in hand).
 */
export function runWithLedger<T>(ledger: ResourceLedger, fn: () => T): T {
  return current.run(ledger, fn);
}

/**
 * Records a resource before it is created. Outside a job (no ledger) nothing is recorded: the
 * resource is still cleaned up normally, only a kill would leave it unlisted.
 */
export function track(spec: ResourceSpec): TrackedResource {
  const ledger = current.getStore();
  if (!ledger) return { update: () => undefined, release: () => undefined };
  const id = ledger.add(spec);
  let released = false;
  return {
    update: (s) => {
      if (!released) ledger.update(id, s);
    },
    release: () => {
      if (released) return;
      released = true;
      try {
        ledger.remove(id);
      } catch {
        // A record left behind is only re-checked at the next start: never fail a clean-up on it.
      }
    },
  };
}
