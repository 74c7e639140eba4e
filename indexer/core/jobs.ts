// The job queue's decisions, without I/O: the vocabulary of kinds and states, when a failed job is
// tried again, and when a worker counts as gone. The SQLite queue (io/db/jobs.ts) and the workers apply
// them (and the PostgreSQL queue, io/db/postgres/jobs.ts); the unit tests state them.

export const JOB_KINDS = ['scan', 'index', 'remove', 'retag', 'repool'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATES = ['queued', 'running', 'done', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** How long a claim holds without a heartbeat: a worker killed mid-job loses its job this long after its last beat. */
export const LEASE_MS = 30_000;
/** Heartbeats come this often, well inside the lease, so a busy (not dead) worker never loses one. */
export const HEARTBEAT_MS = 5_000;
/** Finished jobs stay listed this long (the Library page's recent work), then are pruned. */
export const KEEP_FINISHED_MS = 24 * 3600_000;
/** Failed jobs stay longer: their errors are what a user comes back to read. */
export const KEEP_FAILED_MS = 7 * 24 * 3600_000;

const BACKOFF_BASE_MS = 2_000;
const BACKOFF_MAX_MS = 5 * 60_000;

/**
 * After a failure: try again (and when), or stay failed. Only a transient failure is tried again
 * (a full disk, a crashed tool, a lost lease): a file that is not a video fails the same way
 * every time. Attempts count claims, so a job whose worker died counts that attempt too.
 */
export function afterFailure(attempts: number, maxAttempts: number, transient: boolean, now: number): { state: 'queued'; runAfter: number } | { state: 'failed' } {
  if (!transient || attempts >= maxAttempts) return { state: 'failed' };
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
  return { state: 'queued', runAfter: now + delay };
}

/**
 * The error of a job failed because its workers kept dying: a printf-style template ('%s' for the
 * attempts, then the last owner), so that a database can fill it in the statement that fails the
 * job (PostgreSQL's format()); abandonedError() fills it in here.
 */
export const ABANDONED_ERROR = 'the worker running it stopped without finishing, %s times (last: %s)';

export function abandonedError(attempts: number, owner: string | null): string {
  const args = [String(attempts), String(owner)];
  return ABANDONED_ERROR.replace(/%s/g, () => args.shift()!);
}

/** A worker row is live while its heartbeat is recent: a missed beat or two is not death. */
export function workerLive(heartbeatAt: number, now: number): boolean {
  return now - heartbeatAt < 3 * HEARTBEAT_MS;
}
