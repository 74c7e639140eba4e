// The job queue in PostgreSQL: the SQLite queue's rows and rules (io/db/jobs.ts, core/jobs.ts) for
// any number of workers on any number of machines. What makes a claim atomic here is row locks,
// not a database-wide write lock: the claim is one statement that locks the job it picks with
// `FOR UPDATE SKIP LOCKED`, so concurrent claimers each take a different job without waiting for
// one another. Heartbeats, finishes and hand-backs touch one job by id, guarded by its owner, so a
// worker whose lease passed to another can no longer change the job.
import os from 'node:os';
import { ABANDONED_ERROR, KEEP_FAILED_MS, KEEP_FINISHED_MS, LEASE_MS, afterFailure, workerLive, type JobState } from '../../../core/jobs';
import type { ClaimFilter, JobOutcome, JobRecord, JobRepository, NewJob, WorkerRecord } from '../../../core/storage';
import type pg from 'pg';
import type { PgClient, PgConnection } from './connection';

const ACTIVE = `"state" IN ('queued', 'running')`;
const UNIQUE_VIOLATION = '23505';

interface JobRow extends Omit<JobRecord, 'payload' | 'result'> {
  payload: string | null;
  result: string | null;
}

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));
const toJob = (r: JobRow): JobRecord => ({ ...r, payload: parse(r.payload), result: parse(r.result) });
const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));

/** The claim filter as SQL conditions on parameters from `first` on. */
function filterSql(filter: ClaimFilter, first: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (filter.ids) parts.push(`"id" = ANY($${first + params.length}::int[])`), params.push(filter.ids);
  if (filter.kinds) parts.push(`"kind" = ANY($${first + params.length}::text[])`), params.push(filter.kinds);
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

export class PgJobQueue implements JobRepository {
  /** `db`: an open connection (migrated); the queue does not own it, its opener closes it. */
  constructor(private readonly db: PgConnection) {}

  /**
   * A write about a job's run (claim, heartbeat, finish, hand-back), committed without waiting for
   * the WAL flush: the flush is most of a claim's cost on a disk with slow fsync (npm run bench --
   * --only=queue), and losing such a write in a server crash costs a job done again, never a wrong
   * result (the lease hands back what a lost write left running; a redone index finds its file
   * saved and unchanged). Enqueues, retries and drops stay durable: they are what a user asked for.
   */
  private run<R extends pg.QueryResultRow>(sql: string, params: unknown[], client?: PgClient): Promise<pg.QueryResult<R>> {
    const go = async (c: PgClient) => {
      await c.query('SET LOCAL synchronous_commit = off');
      return c.query<R>(sql, params);
    };
    return client ? go(client) : this.db.transaction(go);
  }

  close(): void {}

  /**
   * Queues jobs; one already queued or running for the same (kind, key) is not queued twice (the
   * partial unique index Job_active_key). Returns, per job given, the id of the job that will do it.
   * One insert for the whole list, in its order (claims go by id: a batch's removals after its files).
   */
  async enqueue(jobs: readonly NewJob[], now = Date.now()): Promise<number[]> {
    const first = new Map<string, NewJob>();
    for (const j of jobs) if (!first.has(`${j.kind}\n${j.key}`)) first.set(`${j.kind}\n${j.key}`, j);
    const ids = new Map<string, number>();
    // An active job that finishes between the insert's conflict and the look-up leaves its key
    // free: the next round inserts it.
    for (let todo = [...first.values()]; todo.length; todo = todo.filter((j) => !ids.has(`${j.kind}\n${j.key}`))) {
      const inserted = await this.db.query<{ id: number; kind: string; key: string }>(
        `INSERT INTO "Job" ("kind", "key", "libraryId", "batch", "payload", "maxAttempts", "createdAt")
         SELECT kind, key, lib, batch, payload, max, $7 FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[]) WITH ORDINALITY AS t(kind, key, lib, batch, payload, max, ord)
         ORDER BY ord
         ON CONFLICT ("kind", "key") WHERE ${ACTIVE} DO NOTHING RETURNING "id", "kind", "key"`,
        [
          todo.map((j) => j.kind),
          todo.map((j) => j.key),
          todo.map((j) => j.libraryId ?? null),
          todo.map((j) => j.batch ?? null),
          todo.map((j) => json(j.payload)),
          todo.map((j) => j.maxAttempts ?? 3),
          now,
        ],
      );
      for (const r of inserted.rows) ids.set(`${r.kind}\n${r.key}`, r.id);
      const rest = todo.filter((j) => !ids.has(`${j.kind}\n${j.key}`));
      if (!rest.length) break;
      const existing = await this.db.query<{ id: number; kind: string; key: string }>(
        `SELECT "id", "kind", "key" FROM "Job" WHERE ("kind", "key") IN (SELECT * FROM unnest($1::text[], $2::text[])) AND ${ACTIVE}`,
        [rest.map((j) => j.kind), rest.map((j) => j.key)],
      );
      for (const r of existing.rows) ids.set(`${r.kind}\n${r.key}`, r.id);
    }
    return jobs.map((j) => ids.get(`${j.kind}\n${j.key}`)!);
  }

  /**
   * Moves the next runnable job to running under `owner`, in one statement: a queued job whose
   * backoff has passed, or a running one whose lease has expired (its worker died; that attempt
   * counts). Expired jobs that used up their attempts that way are failed by the same statement
   * instead of claimed. Rows another claimer holds are skipped, never waited for.
   */
  async claim(owner: string, filter: ClaimFilter = {}, now = Date.now(), leaseMs = LEASE_MS): Promise<JobRecord | undefined> {
    const f = filterSql(filter, 5);
    const r = await this.run<JobRow>(
      `WITH spent AS (
         UPDATE "Job" SET "state" = 'failed', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = $1, "error" = format($4, "attempts", "owner")
         WHERE "id" IN (SELECT "id" FROM "Job" WHERE "state" = 'running' AND "leaseUntil" < $1 AND "attempts" >= "maxAttempts"${f.sql} FOR UPDATE SKIP LOCKED)
         RETURNING "id"
       ), next AS (
         SELECT "id" FROM "Job"
         WHERE (("state" = 'queued' AND "runAfter" <= $1) OR ("state" = 'running' AND "leaseUntil" < $1 AND "attempts" < "maxAttempts"))${f.sql}
         ORDER BY "id" LIMIT 1 FOR UPDATE SKIP LOCKED
       )
       UPDATE "Job" j SET "state" = 'running', "owner" = $2, "leaseUntil" = $3, "heartbeatAt" = $1, "attempts" = j."attempts" + 1, "startedAt" = $1, "progressDone" = 0
       FROM next WHERE j."id" = next."id" RETURNING j.*`,
      [now, owner, now + leaseMs, ABANDONED_ERROR, ...f.params],
    );
    return r.rows[0] && toJob(r.rows[0]);
  }

  /** Extends the lease and records progress; false when the job is no longer this owner's. */
  async heartbeat(id: number, owner: string, progress?: { done: number; total: number }, now = Date.now(), leaseMs = LEASE_MS): Promise<boolean> {
    const r = await this.run(
      `UPDATE "Job" SET "leaseUntil" = $1, "heartbeatAt" = $2, "progressDone" = coalesce($3, "progressDone"), "progressTotal" = coalesce($4, "progressTotal")
       WHERE "id" = $5 AND "owner" = $6 AND "state" = 'running'`,
      [now + leaseMs, now, progress?.done ?? null, progress?.total ?? null, id, owner],
    );
    return r.rowCount === 1;
  }

  /** Records how a job ended (core/jobs.ts afterFailure decides a failure's fate). False when the job was not this owner's any more. */
  async finish(id: number, owner: string, outcome: JobOutcome, now = Date.now()): Promise<boolean> {
    if (!('error' in outcome)) {
      const r = await this.run(
        `UPDATE "Job" SET "state" = 'done', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = $1, "result" = $2, "error" = NULL, "progressDone" = greatest("progressDone", "progressTotal")
         WHERE "id" = $3 AND "owner" = $4 AND "state" = 'running'`,
        [now, json(outcome.result), id, owner],
      );
      return r.rowCount === 1;
    }
    return this.db.transaction(async (c) => {
      const row = (
        await this.run<{ attempts: number; maxAttempts: number }>(`SELECT "attempts", "maxAttempts" FROM "Job" WHERE "id" = $1 AND "owner" = $2 AND "state" = 'running' FOR UPDATE`, [id, owner], c)
      ).rows[0];
      if (!row) return false;
      const next = afterFailure(row.attempts, row.maxAttempts, outcome.transient, now);
      if (next.state === 'queued') {
        await c.query(`UPDATE "Job" SET "state" = 'queued', "owner" = NULL, "leaseUntil" = NULL, "runAfter" = $1, "error" = $2 WHERE "id" = $3`, [next.runAfter, outcome.error, id]);
      } else {
        await c.query(`UPDATE "Job" SET "state" = 'failed', "owner" = NULL, "leaseUntil" = NULL, "finishedAt" = $1, "error" = $2 WHERE "id" = $3`, [now, outcome.error, id]);
      }
      return true;
    });
  }

  /** Hands a claimed job back untouched (a worker asked to stop): queued again, the attempt not counted. */
  async release(id: number, owner: string): Promise<boolean> {
    const r = await this.run(
      `UPDATE "Job" SET "state" = 'queued', "owner" = NULL, "leaseUntil" = NULL, "attempts" = greatest(0, "attempts" - 1), "runAfter" = 0 WHERE "id" = $1 AND "owner" = $2 AND "state" = 'running'`,
      [id, owner],
    );
    return r.rowCount === 1;
  }

  /** A failed job queued again from scratch; undefined if there is no such failed job. An equal job already active is returned instead. */
  async retry(id: number, now = Date.now()): Promise<number | undefined> {
    for (;;) {
      try {
        return await this.db.transaction(async (c) => {
          const row = (await c.query<{ kind: string; key: string }>(`SELECT "kind", "key" FROM "Job" WHERE "id" = $1 AND "state" = 'failed' FOR UPDATE`, [id])).rows[0];
          if (!row) return undefined;
          const active = (await c.query<{ id: number }>(`SELECT "id" FROM "Job" WHERE "kind" = $1 AND "key" = $2 AND ${ACTIVE}`, [row.kind, row.key])).rows[0];
          if (active) return active.id;
          await c.query(
            `UPDATE "Job" SET "state" = 'queued', "attempts" = 0, "runAfter" = 0, "error" = NULL, "finishedAt" = NULL, "startedAt" = NULL, "progressDone" = 0, "createdAt" = $1 WHERE "id" = $2`,
            [now, id],
          );
          return id;
        });
      } catch (err) {
        // An equal job was queued between the look and the update: look again, it is the answer.
        if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      }
    }
  }

  /** Drops a library's jobs that no worker has started (the library was removed). */
  async dropQueued(libraryId: number): Promise<number> {
    return (await this.db.query(`DELETE FROM "Job" WHERE "libraryId" = $1 AND "state" = 'queued'`, [libraryId])).rowCount ?? 0;
  }

  async get(id: number): Promise<JobRecord | undefined> {
    const r = (await this.db.query<JobRow>(`SELECT * FROM "Job" WHERE "id" = $1`, [id])).rows[0];
    return r && toJob(r);
  }

  /** Jobs by state (all when none is given), newest first; `ids` restricts to those. */
  async list(opts: { states?: readonly JobState[]; ids?: readonly number[]; limit?: number } = {}): Promise<JobRecord[]> {
    const where: string[] = ['true'];
    const params: unknown[] = [];
    if (opts.states) params.push(opts.states), where.push(`"state" = ANY($${params.length}::text[])`);
    if (opts.ids) params.push(opts.ids), where.push(`"id" = ANY($${params.length}::int[])`);
    params.push(opts.limit ?? 100);
    return (await this.db.query<JobRow>(`SELECT * FROM "Job" WHERE ${where.join(' AND ')} ORDER BY "id" DESC LIMIT $${params.length}`, params)).rows.map(toJob);
  }

  async counts(): Promise<Record<JobState, number>> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0 };
    for (const r of (await this.db.query<{ state: JobState; n: number }>(`SELECT "state", count(*)::int AS n FROM "Job" GROUP BY "state"`)).rows) out[r.state] = r.n;
    return out;
  }

  /** Forgets finished jobs older than their keep time. */
  async prune(now = Date.now()): Promise<number> {
    const r = await this.db.query(`DELETE FROM "Job" WHERE ("state" = 'done' AND "finishedAt" < $1) OR ("state" = 'failed' AND "finishedAt" < $2)`, [now - KEEP_FINISHED_MS, now - KEEP_FAILED_MS]);
    return r.rowCount ?? 0;
  }

  // -- workers ---------------------------------------------------------------------------------

  async registerWorker(id: string, concurrency: number, now = Date.now()): Promise<void> {
    await this.db.query(
      `INSERT INTO "Worker" ("id", "host", "pid", "concurrency", "startedAt", "heartbeatAt") VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT ("id") DO UPDATE SET "heartbeatAt" = excluded."heartbeatAt"`,
      [id, os.hostname(), process.pid, concurrency, now],
    );
  }

  async beatWorker(id: string, jobId: number | null, now = Date.now()): Promise<void> {
    await this.db.query(`UPDATE "Worker" SET "heartbeatAt" = $1, "jobId" = $2 WHERE "id" = $3`, [now, jobId, id]);
  }

  async removeWorker(id: string): Promise<void> {
    await this.db.query(`DELETE FROM "Worker" WHERE "id" = $1`, [id]);
  }

  /** Workers seen in the last hour, live or not (a dead one's row stays a while: it says where a job was lost). */
  async workers(now = Date.now()): Promise<WorkerRecord[]> {
    await this.db.query(`DELETE FROM "Worker" WHERE "heartbeatAt" < $1`, [now - 3600_000]);
    const rows = (await this.db.query<Omit<WorkerRecord, 'live'>>(`SELECT * FROM "Worker" ORDER BY "startedAt"`)).rows;
    return rows.map((w) => ({ ...w, live: workerLive(w.heartbeatAt, now) }));
  }
}
