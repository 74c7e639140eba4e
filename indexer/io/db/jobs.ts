// The job queue in SQLite: jobs and workers are rows, so any number of processes on one data
// directory share one queue. Each operation is one short IMMEDIATE transaction (SQLite's write
// lock), which is what makes a claim atomic: two workers can never both move a job to running.
// Plain better-sqlite3 on its own connection, not Prisma: a claim costs one round trip of
// microseconds instead of an engine call per statement (npm run bench -- --only=queue).
import os from 'node:os';
import Database from 'better-sqlite3';
import { LEASE_MS, abandonedError, afterFailure, workerLive, KEEP_FAILED_MS, KEEP_FINISHED_MS, type JobKind, type JobState } from '../../core/jobs';
import { StoreError, asDiskFull, errorMessage } from '../../core/errors';
import type { ClaimFilter, JobOutcome, JobRecord, JobRepository, NewJob, WorkerRecord } from '../../core/storage';

export type { ClaimFilter, JobOutcome, JobRecord, NewJob, WorkerRecord };

const BUSY_TIMEOUT_MS = 15_000;
const ACTIVE = `"state" IN ('queued', 'running')`;

interface JobRow extends Omit<JobRecord, 'payload' | 'result'> {
  payload: string | null;
  result: string | null;
}

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));
const toJob = (r: JobRow): JobRecord => ({ ...r, payload: parse(r.payload), result: parse(r.result) });

export class JobQueue implements JobRepository {
  private constructor(
    private readonly db: Database.Database,
    private readonly file: string,
  ) {}

  /** `file`: the migrated SQLite database (db.ts migrate()). */
  static open(file: string): JobQueue {
    try {
      const db = new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
      db.pragma('journal_mode = WAL');
      return new JobQueue(db, file);
    } catch (err) {
      throw new StoreError(`cannot open the job queue in ${file}: ${errorMessage(err)}`, { cause: { file } });
    }
  }

  close(): void {
    this.db.close();
  }

  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw asDiskFull(err, this.file) ?? err;
    }
  }

  /**
   * Queues jobs; one already queued or running for the same (kind, key) is not queued twice.
   * Returns, per job given, the id of the job that will do it (new or already there).
   */
  enqueue(jobs: readonly NewJob[], now = Date.now()): number[] {
    const insert = this.db.prepare(
      `INSERT INTO "Job" ("kind", "key", "libraryId", "batch", "payload", "maxAttempts", "createdAt") VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT ("kind", "key") WHERE ${ACTIVE} DO NOTHING RETURNING "id"`,
    );
    const existing = this.db.prepare(`SELECT "id" FROM "Job" WHERE "kind" = ? AND "key" = ? AND ${ACTIVE}`).pluck();
    return this.write(() =>
      jobs.map((j) => {
        const row = insert.get(j.kind, j.key, j.libraryId ?? null, j.batch ?? null, j.payload === undefined ? null : JSON.stringify(j.payload), j.maxAttempts ?? 3, now) as
          | { id: number }
          | undefined;
        return row ? row.id : (existing.get(j.kind, j.key) as number);
      }),
    );
  }

  /**
   * Moves the next runnable job to running under `owner`, with a lease: a queued job whose backoff
   * has passed, or a running one whose lease has expired (its worker died; that attempt counts,
   * and a job that used up its attempts that way is failed instead of claimed).
   */
  claim(owner: string, filter: ClaimFilter = {}, now = Date.now(), leaseMs = LEASE_MS): JobRecord | undefined {
    const where: string[] = [`(("state" = 'queued' AND "runAfter" <= @now) OR ("state" = 'running' AND "leaseUntil" < @now))`];
    const params: Record<string, unknown> = { now };
    if (filter.ids) where.push(`"id" IN (SELECT value FROM json_each(@ids))`), (params.ids = JSON.stringify(filter.ids));
    if (filter.kinds) where.push(`"kind" IN (SELECT value FROM json_each(@kinds))`), (params.kinds = JSON.stringify(filter.kinds));
    const next = this.db.prepare(`SELECT * FROM "Job" WHERE ${where.join(' AND ')} ORDER BY "id" LIMIT 1`);
    // A look without the write lock first: an idle worker polling an empty queue takes no lock
    // and writes nothing (npm run bench -- --only=queue).
    if (!next.get(params)) return undefined;
    return this.write(() => {
      for (;;) {
        const row = next.get(params) as JobRow | undefined;
        if (!row) return undefined;
        if (row.state === 'running' && row.attempts >= row.maxAttempts) {
          this.db
            .prepare(`UPDATE "Job" SET "state" = 'failed', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = ?, "error" = ? WHERE "id" = ?`)
            .run(now, abandonedError(row.attempts, row.owner), row.id);
          continue;
        }
        this.db
          .prepare(`UPDATE "Job" SET "state" = 'running', "owner" = ?, "leaseUntil" = ?, "heartbeatAt" = ?, "attempts" = "attempts" + 1, "startedAt" = ?, "progressDone" = 0 WHERE "id" = ?`)
          .run(owner, now + leaseMs, now, now, row.id);
        return toJob({ ...row, state: 'running', owner, leaseUntil: now + leaseMs, heartbeatAt: now, attempts: row.attempts + 1, startedAt: now, progressDone: 0 });
      }
    });
  }

  /** Extends the lease and records progress; false when the job is no longer this owner's (its lease expired and another worker took it). */
  heartbeat(id: number, owner: string, progress?: { done: number; total: number }, now = Date.now(), leaseMs = LEASE_MS): boolean {
    const r = this.db
      .prepare(
        `UPDATE "Job" SET "leaseUntil" = ?, "heartbeatAt" = ?, "progressDone" = coalesce(?, "progressDone"), "progressTotal" = coalesce(?, "progressTotal")
         WHERE "id" = ? AND "owner" = ? AND "state" = 'running'`,
      )
      .run(now + leaseMs, now, progress?.done ?? null, progress?.total ?? null, id, owner);
    return r.changes === 1;
  }

  /** Records how a job ended. A transient failure is queued again after a backoff until its attempts run out. False when the job was not this owner's any more. */
  finish(id: number, owner: string, outcome: JobOutcome, now = Date.now()): boolean {
    return this.write(() => {
      const row = this.db.prepare(`SELECT "attempts", "maxAttempts" FROM "Job" WHERE "id" = ? AND "owner" = ? AND "state" = 'running'`).get(id, owner) as
        | { attempts: number; maxAttempts: number }
        | undefined;
      if (!row) return false;
      if (!('error' in outcome)) {
        this.db
          .prepare(`UPDATE "Job" SET "state" = 'done', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = ?, "result" = ?, "error" = NULL, "progressDone" = max("progressDone", "progressTotal") WHERE "id" = ?`)
          .run(now, outcome.result === undefined ? null : JSON.stringify(outcome.result), id);
        return true;
      }
      const next = afterFailure(row.attempts, row.maxAttempts, outcome.transient, now);
      if (next.state === 'queued') {
        this.db.prepare(`UPDATE "Job" SET "state" = 'queued', "owner" = NULL, "leaseUntil" = NULL, "runAfter" = ?, "error" = ? WHERE "id" = ?`).run(next.runAfter, outcome.error, id);
      } else {
        this.db.prepare(`UPDATE "Job" SET "state" = 'failed', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = ?, "error" = ? WHERE "id" = ?`).run(now, outcome.error, id);
      }
      return true;
    });
  }

  /** Hands a claimed job back untouched (a worker asked to stop): queued again, the attempt not counted. */
  release(id: number, owner: string): boolean {
    const r = this.db
      .prepare(`UPDATE "Job" SET "state" = 'queued', "owner" = NULL, "leaseUntil" = NULL, "attempts" = max(0, "attempts" - 1), "runAfter" = 0 WHERE "id" = ? AND "owner" = ? AND "state" = 'running'`)
      .run(id, owner);
    return r.changes === 1;
  }

  /** A failed job queued again from scratch (the retry button); undefined if there is no such failed job. An equal job already active is returned instead. */
  retry(id: number, now = Date.now()): number | undefined {
    return this.write(() => {
      const row = this.db.prepare(`SELECT "kind", "key" FROM "Job" WHERE "id" = ? AND "state" = 'failed'`).get(id) as { kind: string; key: string } | undefined;
      if (!row) return undefined;
      const active = this.db.prepare(`SELECT "id" FROM "Job" WHERE "kind" = ? AND "key" = ? AND ${ACTIVE}`).pluck().get(row.kind, row.key) as number | undefined;
      if (active !== undefined) return active;
      this.db
        .prepare(`UPDATE "Job" SET "state" = 'queued', "attempts" = 0, "runAfter" = 0, "error" = NULL, "finishedAt" = NULL, "startedAt" = NULL, "progressDone" = 0, "createdAt" = ? WHERE "id" = ?`)
        .run(now, id);
      return id;
    });
  }

  /** Drops a library's jobs that no worker has started (the library was removed). */
  dropQueued(libraryId: number): number {
    return this.db.prepare(`DELETE FROM "Job" WHERE "libraryId" = ? AND "state" = 'queued'`).run(libraryId).changes;
  }

  get(id: number): JobRecord | undefined {
    const r = this.db.prepare(`SELECT * FROM "Job" WHERE "id" = ?`).get(id) as JobRow | undefined;
    return r && toJob(r);
  }

  /** Jobs by state (all when none is given), newest first; `ids` restricts to those. */
  list(opts: { states?: readonly JobState[]; ids?: readonly number[]; limit?: number } = {}): JobRecord[] {
    const where: string[] = ['1'];
    const params: unknown[] = [];
    if (opts.states) where.push(`"state" IN (SELECT value FROM json_each(?))`), params.push(JSON.stringify(opts.states));
    if (opts.ids) where.push(`"id" IN (SELECT value FROM json_each(?))`), params.push(JSON.stringify(opts.ids));
    params.push(opts.limit ?? 100);
    return (this.db.prepare(`SELECT * FROM "Job" WHERE ${where.join(' AND ')} ORDER BY "id" DESC LIMIT ?`).all(...params) as JobRow[]).map(toJob);
  }

  /** How many jobs are in each state. */
  counts(): Record<JobState, number> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const r of this.db.prepare(`SELECT "state", count(*) AS n FROM "Job" GROUP BY "state"`).all() as Array<{ state: JobState; n: number }>) out[r.state] = r.n;
    return out;
  }

  /** Forgets finished jobs older than their keep time. */
  prune(now = Date.now()): number {
    return this.db
      .prepare(`DELETE FROM "Job" WHERE ("state" = 'done' AND "finishedAt" < ?) OR ("state" = 'failed' AND "finishedAt" < ?)`)
      .run(now - KEEP_FINISHED_MS, now - KEEP_FAILED_MS).changes;
  }

  // -- workers ---------------------------------------------------------------------------------

  registerWorker(id: string, concurrency: number, now = Date.now()): void {
    this.db
      .prepare(`INSERT INTO "Worker" ("id", "host", "pid", "concurrency", "startedAt", "heartbeatAt") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT ("id") DO UPDATE SET "heartbeatAt" = excluded."heartbeatAt"`)
      .run(id, os.hostname(), process.pid, concurrency, now, now);
  }

  beatWorker(id: string, jobId: number | null, now = Date.now()): void {
    this.db.prepare(`UPDATE "Worker" SET "heartbeatAt" = ?, "jobId" = ? WHERE "id" = ?`).run(now, jobId, id);
  }

  removeWorker(id: string): void {
    this.db.prepare(`DELETE FROM "Worker" WHERE "id" = ?`).run(id);
  }

  /** Workers seen in the last hour, live or not (a dead one's row stays a while: it says where a job was lost). */
  workers(now = Date.now()): WorkerRecord[] {
    this.db.prepare(`DELETE FROM "Worker" WHERE "heartbeatAt" < ?`).run(now - 3600_000);
    return (this.db.prepare(`SELECT * FROM "Worker" ORDER BY "startedAt"`).all() as Omit<WorkerRecord, 'live'>[]).map((w) => ({ ...w, live: workerLive(w.heartbeatAt, now) }));
  }
}
