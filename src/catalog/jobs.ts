import { hostname } from 'node:os';
import { LifeboatError } from '../errors.ts';
import { pidAlive } from '../util/pid.ts';
import { CatalogStore, now } from './store.ts';

/** A resource a job created and has not cleaned up yet (jobs/resources.ts). */
export interface ResourceRecord {
  id: number;
  kind: string;
  location: string;
  server: string | null;
  detail: string | null;
  ownerPid: number;
  /** The owner's start mark (util/pid.ts), so a reused pid is not taken for the owner. */
  ownerMark: string | null;
  host: string;
  jobId: string | null;
  createdAt: string;
}

/** Locks, jobs, leases and the resources jobs create: who is running what, and what a dead process left behind. */
export class JobQueries extends CatalogStore {
  /**
   * Takes a named lock for a job, or throws E_LOCKED naming the job that holds it. A lock whose
   * process on this host is gone is taken over.
   */
  acquireLock(name: string, jobId: string, what: string): void {
    this.tx(() => {
      const held = this.one('select job_id, pid, host, acquired_at from locks where name = ?', name);
      if (held) {
        const stale = held.host === hostname() && !pidAlive(Number(held.pid));
        if (!stale) {
          // Name the holder by its job: the lock may be shared by different operations (retention: prune, delete, restore).
          const kind = this.one('select kind from jobs where id = ?', String(held.job_id))?.kind;
          const holder = kind ? `a ${String(kind).replace(/-/g, ' ')} job` : 'another job';
          throw new LifeboatError('E_LOCKED', `cannot start ${what}: ${holder} holds the ${name} lock (job ${String(held.job_id)}, pid ${String(held.pid)} on ${String(held.host)}, since ${String(held.acquired_at)})`, {
            hint: 'wait for it to finish; operations on the same target that would conflict never overlap',
          });
        }
        this.run('delete from locks where name = ?', name);
      }
      this.run('insert into locks (name, job_id, pid, host, acquired_at) values (?, ?, ?, ?, ?)', name, jobId, process.pid, hostname(), now());
    });
  }

  /** The job holding a named lock, or undefined when it is free (for a command that waits for it). */
  lockHolder(name: string): { jobId: string; kind: string | null; pid: number; host: string; since: string } | undefined {
    const held = this.one('select l.job_id, l.pid, l.host, l.acquired_at, j.kind from locks l left join jobs j on j.id = l.job_id where l.name = ?', name);
    if (!held) return undefined;
    return { jobId: String(held.job_id), kind: held.kind === null || held.kind === undefined ? null : String(held.kind), pid: Number(held.pid), host: String(held.host), since: String(held.acquired_at) };
  }

  releaseLock(name: string, jobId: string): void {
    this.run('delete from locks where name = ? and job_id = ?', name, jobId);
  }

  createJob(job: { id: string; kind: string; target?: string; backupId?: string; trigger: string }): void {
    this.run(
      'insert into jobs (id, kind, target, backup_id, trigger, status, pid, started_at) values (?, ?, ?, ?, ?, ?, ?, ?)',
      job.id, job.kind, job.target ?? null, job.backupId ?? null, job.trigger, 'running', process.pid, now(),
    );
  }

  setJobProgress(id: string, progress: unknown): void {
    this.run('update jobs set progress_json = ? where id = ?', JSON.stringify(progress), id);
  }

  appendJobLog(id: string, level: string, message: string): void {
    this.run(
      `insert into job_logs (job_id, seq, at, level, message)
       values (?, coalesce((select max(seq) + 1 from job_logs where job_id = ?), 1), ?, ?, ?)`,
      id, id, now(), level, message,
    );
  }

  /**
   * A job's log lines after sequence number `afterSeq` (0: from the first), oldest first, at most
   * `limit`: a server replays them to a client that joins late, then streams what follows.
   */
  jobLogSince(id: string, afterSeq = 0, limit = 10_000): { seq: number; at: string; level: string; message: string }[] {
    return this.all('select seq, at, level, message from job_logs where job_id = ? and seq > ? order by seq limit ?', id, afterSeq, limit).map((r) => ({
      seq: Number(r.seq), at: String(r.at), level: String(r.level), message: String(r.message),
    }));
  }

  finishJob(id: string, status: 'succeeded' | 'failed' | 'cancelled', error?: string): void {
    this.run('update jobs set status = ?, finished_at = ?, error = ? where id = ?', status, now(), error ?? null, id);
  }

  /**
   * Marks jobs and backups whose process on this host died (killed, power cut) as failed and
   * frees their locks: a killed backup never stays "running".
   */
  recoverInterrupted(): number {
    const orphans = this.all("select id, pid from jobs where status = 'running'").filter((j) => !pidAlive(Number(j.pid)));
    for (const { id } of orphans) {
      const j = { id: id as string };
      this.tx(() => {
        this.run("update jobs set status = 'failed', finished_at = ?, error = ? where id = ?", now(), 'interrupted: the process running it ended', j.id);
        this.run(
          "update backups set status = 'failed', finished_at = coalesce(finished_at, ?), error = ? where job_id = ? and status = 'running'",
          now(), 'interrupted: the process running it ended before the bundle was complete', j.id,
        );
        this.run("update restores set status = 'failed', finished_at = ?, error = ? where id = ? and status = 'running'", now(), 'interrupted: the process running it ended', j.id);
        this.run('delete from locks where job_id = ?', j.id);
      });
    }
    return orphans.length;
  }

  /** Jobs running now (after recoverInterrupted, only those of live processes), newest first. */
  runningJobs(): { id: string; kind: string; target: string | null; backupId: string | null; trigger: string; startedAt: string; progress: unknown }[] {
    return this.all("select * from jobs where status = 'running' order by started_at desc").map((r) => ({
      id: String(r.id), kind: String(r.kind), target: (r.target as string | null) ?? null, backupId: (r.backup_id as string | null) ?? null,
      trigger: String(r.trigger), startedAt: String(r.started_at), progress: r.progress_json ? JSON.parse(String(r.progress_json)) : null,
    }));
  }

  /**
   * Leases: one holder at a time across processes, expiring without a manual unlock.
   * Takes or renews the lease `name` for `holder` until `now + ttlMs`. Returns false when another
   * holder's lease has not expired. Atomic: SQLite serialises the write transaction.
   */
  acquireLease(name: string, holder: string, at: Date, ttlMs: number): boolean {
    return this.tx(() => {
      const row = this.one('select holder, expires_at from leases where name = ?', name);
      if (row && row.holder !== holder && new Date(String(row.expires_at)) > at) return false;
      this.run(
        `insert into leases (name, holder, heartbeat_at, expires_at) values (?, ?, ?, ?)
         on conflict (name) do update set holder = excluded.holder, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`,
        name, holder, at.toISOString(), new Date(at.getTime() + ttlMs).toISOString(),
      );
      return true;
    });
  }

  releaseLease(name: string, holder: string): void {
    this.run('delete from leases where name = ? and holder = ?', name, holder);
  }

  getLease(name: string): { holder: string; heartbeatAt: string; expiresAt: string } | undefined {
    const r = this.one('select * from leases where name = ?', name);
    return r && { holder: String(r.holder), heartbeatAt: String(r.heartbeat_at), expiresAt: String(r.expires_at) };
  }

  /** Records a resource a job is about to create, owned by this process (jobs/resources.ts). */
  addResource(r: { kind: string; location: string; server?: string; detail?: string; ownerPid: number; ownerMark?: string; jobId?: string }): number {
    const row = this.one(
      'insert into resources (kind, location, server, detail, owner_pid, owner_mark, host, job_id, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) returning id',
      r.kind, r.location, r.server ?? null, r.detail ?? null, r.ownerPid, r.ownerMark ?? null, hostname(), r.jobId ?? null, now(),
    );
    return Number(row!.id);
  }

  updateResource(id: number, r: { location: string; detail?: string }): void {
    this.run('update resources set location = ?, detail = ? where id = ?', r.location, r.detail ?? null, id);
  }

  removeResource(id: number): void {
    this.run('delete from resources where id = ?', id);
  }

  /** Every recorded resource, oldest first; `host` limits them to one machine's. */
  listResources(host?: string): ResourceRecord[] {
    return this.all(`select * from resources ${host === undefined ? '' : 'where host = ?'} order by id`, ...(host === undefined ? [] : [host])).map((r) => ({
      id: Number(r.id),
      kind: String(r.kind),
      location: String(r.location),
      server: (r.server as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
      ownerPid: Number(r.owner_pid),
      ownerMark: (r.owner_mark as string | null) ?? null,
      host: String(r.host),
      jobId: (r.job_id as string | null) ?? null,
      createdAt: String(r.created_at),
    }));
  }
}
