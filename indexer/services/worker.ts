// A worker: claims jobs from the queue in the database and runs them, any number of workers per
// data directory (in the server, in `vidsearch index`, as `vidsearch worker`). Every job ends done
// or failed with its error (a transient failure is queued again by the queue's rules, core/jobs.ts);
// a job whose lease is lost (this process stalled past it, another worker took the job over) is
// abandoned here. Stopping hands the running jobs back untouched, so nothing waits for a lease.
import os from 'node:os';
import crypto from 'node:crypto';
import { DiskFullError, ModelError, ToolError, errorMessage, isTransientError } from '../core/errors';
import { HEARTBEAT_MS, type JobKind } from '../core/jobs';
import type { ClaimFilter, JobOutcome, JobRecord, JobRepository, LibraryRepository, NewJob } from '../core/storage';
import { presence } from '../io/files/files';
import { toLocalPath } from '../core/paths';
import { CHANGED_WHILE_INDEXING, indexFile, planTargets, type Engine, type IndexOptions, type IndexReport, type JobResult } from './pipeline';
import { openWork } from './libraries';

/** What a worker works with: the queue, and the libraries whose scans it records. */
export type WorkerRepos = { queue: JobRepository; libraries: LibraryRepository };

export interface WorkerOptions {
  /** jobs run at once (inference is CPU-bound: 1, with batches inside, is right on a small machine) */
  concurrency?: number;
  filter?: ClaimFilter;
  /** return once no job of the filter is queued or running anywhere (a `vidsearch index` run) */
  untilDone?: boolean;
  /** stops the worker: running jobs are handed back */
  signal?: AbortSignal;
  /** the longest wait between looks at an empty queue */
  idleMs?: number;
  /** how long a claim holds without a heartbeat (default: the configuration's jobLeaseMs) */
  leaseMs?: number;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'claimed'; job: JobRecord }
  | { type: 'progress'; job: JobRecord; done: number; total: number }
  | { type: 'finished'; job: JobRecord; outcome: JobOutcome }
  | { type: 'handed-back'; job: JobRecord; reason: string }
  /** a long-running worker lost the database (said once an outage) and got it back */
  | { type: 'queue-unreachable'; error: string }
  | { type: 'queue-reachable' };

/** A failure that is nobody's fault and stops every job alike (a full disk, a broken ffmpeg, a bad model): the run stops. */
export function stopsTheRun(err: unknown): boolean {
  return err instanceof DiskFullError || err instanceof ModelError || (err instanceof ToolError && err.detail.kind !== 'crashed' && err.detail.kind !== 'lacks-filter');
}

export function workerId(): string {
  return `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
}

/**
 * Runs jobs until stopped (or, with untilDone, until the filter's jobs are all finished). A
 * run-stopping error in an untilDone run hands its job back and is thrown, so the CLI can say
 * what stopped it; a long-running worker records it as a transient failure and goes on, so the
 * job is tried again after a backoff.
 * A long-running worker also outlives the database's outages (a server restart, a network cut
 * between machines): a claim that fails is said once and tried again at the next look, and a job
 * whose end cannot be recorded is left to its lease (another worker redoes it, and finds the file
 * unchanged if it was saved). An untilDone run fails instead: its caller reports the error.
 */
export async function runWorker(engine: Engine, work: WorkerRepos, opts: WorkerOptions = {}): Promise<void> {
  const { queue } = work;
  const id = workerId();
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const idleMs = opts.idleMs ?? 1000;
  const leaseMs = opts.leaseMs ?? engine.cfg.jobLeaseMs;
  const running = new Map<number, Promise<void>>();
  let stopError: unknown;
  let wake: () => void = () => {};
  let down = false;
  await queue.registerWorker(id, concurrency);
  // The worker row says who is alive (stats, /api/health); a missed beat is harmless.
  const beat = setInterval(() => void Promise.resolve().then(() => queue.beatWorker(id, running.keys().next().value ?? null)).catch(() => {}), HEARTBEAT_MS);
  beat.unref();
  const onAbort = () => wake();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    for (;;) {
      if (opts.signal?.aborted || stopError) break;
      while (running.size < concurrency && !opts.signal?.aborted && !stopError) {
        let job: JobRecord | undefined;
        try {
          job = await queue.claim(id, opts.filter, Date.now(), leaseMs);
        } catch (err) {
          if (opts.untilDone) throw err;
          if (!down) opts.onEvent?.({ type: 'queue-unreachable', error: errorMessage(err) });
          down = true;
          break;
        }
        if (down) opts.onEvent?.({ type: 'queue-reachable' });
        down = false;
        if (!job) break;
        const claimed = job;
        opts.onEvent?.({ type: 'claimed', job: claimed });
        await Promise.resolve().then(() => queue.beatWorker(id, claimed.id)).catch(() => {});
        const done = runOne(engine, work, id, claimed, opts, leaseMs).catch((err) => {
          stopError ??= err;
        });
        running.set(claimed.id, done.finally(() => {
          running.delete(claimed.id);
          wake();
        }));
      }
      if (opts.untilDone && running.size === 0 && !(await pending(queue, opts.filter))) break;
      // Sleep until a job of ours ends, the worker is stopped, or it is time to look again.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, idleMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await Promise.all(running.values());
    if (stopError) throw stopError;
  } finally {
    clearInterval(beat);
    opts.signal?.removeEventListener('abort', onAbort);
    // Its row goes by itself an hour after its last beat when the database cannot be told now.
    await Promise.resolve().then(() => queue.removeWorker(id)).catch(() => {});
  }
}

/** Whether any job of the filter is still queued or running (here or in another worker). */
async function pending(queue: JobRepository, filter: ClaimFilter | undefined): Promise<boolean> {
  if (!filter?.ids) {
    const c = await queue.counts();
    return c.queued + c.running > 0;
  }
  return (await queue.list({ ids: filter.ids, states: ['queued', 'running'], limit: 1 })).length > 0;
}

async function runOne(engine: Engine, work: WorkerRepos, owner: string, job: JobRecord, opts: WorkerOptions, leaseMs: number): Promise<void> {
  const { queue } = work;
  const controller = new AbortController();
  const stop = () => controller.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', stop);
  let lost = false;
  let progress: { done: number; total: number } | undefined;
  // One beat at a time; a beat that cannot reach the database is not a lost lease (the next may
  // get through in time), only the database saying the job is another's is.
  let beating = false;
  const lease = setInterval(() => {
    if (beating || lost) return;
    beating = true;
    Promise.resolve().then(() => queue.heartbeat(job.id, owner, progress, Date.now(), leaseMs))
      .then((held) => {
        if (held) return;
        lost = true;
        controller.abort(new Error('lease lost'));
      })
      .catch(() => {})
      .finally(() => (beating = false));
  }, Math.min(HEARTBEAT_MS, leaseMs / 4));
  lease.unref();
  /** a queue write after the work: false when the database cannot take it (see runWorker) */
  const record = async (write: () => unknown): Promise<boolean> => {
    try {
      await write();
      return true;
    } catch (err) {
      if (opts.untilDone) throw err;
      opts.onEvent?.({ type: 'handed-back', job, reason: `the database cannot record it (${errorMessage(err)}): its lease passes it to another worker` });
      return false;
    }
  };
  try {
    let outcome: JobOutcome;
    try {
      outcome = await perform(engine, work, job, controller.signal, (done, total) => {
        progress = { done, total };
        opts.onEvent?.({ type: 'progress', job, done, total });
      });
    } catch (err) {
      if (lost) return opts.onEvent?.({ type: 'handed-back', job, reason: 'its lease passed to another worker' });
      if (controller.signal.aborted) {
        if (await record(() => queue.release(job.id, owner))) opts.onEvent?.({ type: 'handed-back', job, reason: 'the worker is stopping' });
        return;
      }
      if (stopsTheRun(err) && opts.untilDone) {
        await queue.release(job.id, owner);
        opts.onEvent?.({ type: 'handed-back', job, reason: errorMessage(err) });
        throw err;
      }
      outcome = { error: errorMessage(err), transient: stopsTheRun(err) || isTransientError(err) };
    }
    if (lost) return opts.onEvent?.({ type: 'handed-back', job, reason: 'its lease passed to another worker' });
    if (!(await record(() => queue.finish(job.id, owner, outcome)))) return;
    opts.onEvent?.({ type: 'finished', job, outcome });
    // A file that changed under its job is queued again, to be indexed once it is final.
    const r = 'result' in outcome ? (outcome.result as JobResult | undefined) : undefined;
    if (job.kind === 'index' && r?.status === 'skipped' && r.reason === CHANGED_WHILE_INDEXING) {
      await record(() => queue.enqueue([{ kind: 'index', key: job.key, libraryId: job.libraryId ?? undefined, batch: job.batch ?? undefined, payload: job.payload ?? undefined }]));
    }
  } finally {
    clearInterval(lease);
    opts.signal?.removeEventListener('abort', stop);
  }
}

interface IndexPayload {
  force?: boolean;
  retryFailed?: boolean;
}

/** One job's work, by kind. Throws only for what is not the job's own outcome (see runOne). */
async function perform(engine: Engine, { queue, libraries }: WorkerRepos, job: JobRecord, signal: AbortSignal, progress: (done: number, total: number) => void): Promise<JobOutcome> {
  const kind: JobKind = job.kind;
  if (kind === 'index') {
    const p = (job.payload ?? {}) as IndexPayload;
    const r = await indexFile(engine, job.key, { force: p.force, retryFailed: p.retryFailed, signal }, (frames, duration) =>
      progress(frames, Math.max(frames, Math.ceil(duration * engine.cfg.fps))),
    );
    if (r.status === 'failed') return { error: r.error, transient: !!r.transient, result: r };
    return { result: r };
  }
  if (kind === 'remove') {
    // Decided by a plan (the file is gone, or reached through a link out of the library): removed
    // as decided. Queued by a watch event: removed only if the file is still gone.
    const decided = (job.payload as { decided?: boolean } | null)?.decided === true;
    const now = decided ? ({ state: 'gone' } as const) : presence(toLocalPath(job.key, engine.cfg.pathMap));
    if (now.state !== 'gone') return { result: { status: 'skipped', path: job.key, reason: now.state === 'present' ? 'the file is there again' : `cannot tell whether it still exists (${now.code})` } };
    const video = await engine.store.videoByPath(job.key);
    if (video) await engine.store.removeVideo(video.id);
    return { result: { status: 'removed', path: job.key, videoId: video?.id ?? null } };
  }
  if (kind === 'scan') {
    const plan = await planTargets(engine.store, [job.key], (job.payload ?? {}) as IndexPayload, engine.cfg.pathMap);
    const jobs: NewJob[] = [
      ...plan.work.map((w) => ({ kind: 'index' as const, key: w.path, libraryId: job.libraryId ?? undefined, batch: job.batch ?? undefined, payload: job.payload ?? undefined })),
      ...plan.gone.map((v) => ({ kind: 'remove' as const, key: v.path, libraryId: job.libraryId ?? undefined, batch: job.batch ?? undefined, payload: { decided: true } })),
    ];
    await engine.store.markPendingMany(plan.work);
    const ids = await queue.enqueue(jobs);
    // The library's "scanned" time: what the Library page shows, and whether a watcher starting on it must scan first.
    if (job.libraryId !== null) await libraries.scanned(job.libraryId);
    return { result: { queued: ids.length, unchanged: plan.unchanged.length, problems: plan.problems, missing: plan.missing } };
  }
  throw new Error(`no worker can run a job of kind "${kind}" yet`);
}

/**
 * One indexing run through the queue (`vidsearch index`, and indexTargets for every caller):
 * queues the files (and the removals, after them), works on those jobs in this process until each
 * is finished here or by another worker, and fills `report` from the jobs' results. A run-stopping
 * failure (a full disk, a broken tool) hands its job back and is thrown (indexTargets says what
 * was saved before it); a stop (the signal) hands the running job back, and the run's remaining
 * jobs stay queued for the next run or worker.
 */
export async function runBatch(engine: Engine, files: string[], gone: string[], opts: IndexOptions, report: IndexReport): Promise<void> {
  if (files.length === 0 && gone.length === 0) return;
  const work = await openWork(engine.cfg);
  let ids: number[] = [];
  try {
    const payload = opts.force || opts.retryFailed ? { force: opts.force, retryFailed: opts.retryFailed } : undefined;
    ids = await work.queue.enqueue([...files.map((key) => ({ kind: 'index' as const, key, payload })), ...gone.map((key) => ({ kind: 'remove' as const, key, payload: { decided: true } }))]);
    const position = new Map(files.map((f, i) => [f, i]));
    let done = 0;
    await runWorker(engine, work, {
      filter: { ids },
      untilDone: true,
      signal: opts.signal,
      idleMs: 250,
      onEvent: (e) => {
        if (!('job' in e) || e.job.kind !== 'index') return;
        const index = position.get(e.job.key) ?? done;
        if (e.type === 'claimed') opts.onEvent?.({ type: 'start', path: e.job.key, index, files: files.length });
        else if (e.type === 'progress') opts.onEvent?.({ type: 'frames', path: e.job.key, frames: e.done, duration: e.total / engine.cfg.fps });
        else if (e.type === 'finished') {
          done++;
          const result: JobResult = 'error' in e.outcome ? ((e.outcome as { result?: JobResult }).result ?? { status: 'failed', path: e.job.key, error: e.outcome.error }) : (e.outcome.result as JobResult);
          opts.onEvent?.({ type: 'done', result, index, files: files.length });
        }
      },
    });
    if (opts.signal?.aborted) return;
    collect(await work.queue.list({ ids, limit: ids.length }), report);
  } catch (err) {
    // What was done before the failure, when the database can still say (the failure may be it).
    collect(await Promise.resolve().then(() => work.queue.list({ ids, limit: ids.length })).catch(() => []), report);
    throw err;
  } finally {
    await work.close();
  }
}

/** The report of finished jobs: what each index job did, which removal removed a video. */
function collect(jobs: JobRecord[], report: IndexReport): void {
  for (const j of jobs.sort((a, b) => a.id - b.id)) {
    const r = j.result as (JobResult & { videoId?: number | null }) | { status: 'removed'; path: string; videoId: number | null } | null;
    if (j.kind === 'remove') {
      if (r?.status === 'removed' && r.videoId !== null) report.removed.push({ path: j.key });
      continue;
    }
    if (j.state === 'failed' && (!r || r.status !== 'failed')) report.failed.push({ path: j.key, error: j.error ?? 'failed' });
    else if (r?.status === 'indexed') report.indexed.push({ path: j.key, videoId: r.videoId, segments: r.segments, frames: r.frames });
    else if (r?.status === 'skipped') report.skipped.push({ path: j.key, reason: r.reason });
    else if (r?.status === 'failed') report.failed.push({ path: j.key, error: r.error });
  }
}
