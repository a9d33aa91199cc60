// Where a target's client tools run when not on this host: inside the database's container
// (src/docker/). dump.ts and connection.ts take this seam; the rest of the pipeline cannot tell.

import type { EventEmitter } from 'node:events';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Filler } from '../util/pipe.ts';
import type { PgTools } from './binaries.ts';

/**
 * A tool started elsewhere, shaped like the part of a ChildProcess that dump.ts watches: it emits
 * `close` (exit code, signal) once its output has ended, or `error` when it could not start.
 */
export interface ToolProcess extends EventEmitter {
  stdout: Readable;
  stderr: Readable;
  /** Present when started with input. */
  stdin: Writable | null;
  /** Stops the tool (by cutting its streams where no signal can reach it). */
  kill(): boolean;
  /**
   * Set when started with `fill`: the output read straight into the caller's buffers (util/pipe.ts
   * says why), to be read through this instead of stdout. Destroying stdout still stops reading.
   */
  fill?: Filler;
}

export interface ToolExec {
  /** Where the tools run, for messages: `container n8n-postgres-1`. */
  readonly where: string;
  /**
   * Starts a client tool by name (pg_dump, pg_restore, psql) with this environment only: the
   * password travels here, never in argv. Arguments naming files on this host are made readable
   * to it first.
   */
  start(tool: string, args: string[], env: Record<string, string>, options: { input: boolean; fill?: boolean }): ToolProcess;
  /** A byte stream to the server, for the node driver's `stream` option (introspection, snapshots). */
  socket(): Duplex;
  /** The client tools there, with their version. */
  tools(): Promise<PgTools>;
}
