// The job queue on real SQLite, with real processes: claims are atomic across processes, a
// worker killed mid-job loses its job to another after its lease, failures follow the retry rules.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { migrate } from '../indexer/io/db/db';
import { JobQueue } from '../indexer/io/db/jobs';
import { REPO_ROOT, tempDir } from './helpers';

const CHILD = path.join(REPO_ROOT, 'test', 'fixtures', 'claim-worker.ts');

function freshQueue(): { file: string; queue: JobQueue } {
  const file = path.join(tempDir('vidsearch-queue-'), 'vidsearch.db');
  migrate(file);
  return { file, queue: JobQueue.open(file) };
}

function claimer(file: string, owner: string, ...rest: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', CHILD, file, owner, ...rest], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ReturnType<typeof claimer>): Promise<{ ids: number[]; code: number | null; stderr: string }> {
  let out = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ ids: out.split('\n').filter(Boolean).map(Number), code, stderr })));
}

describe('the job queue', () => {
  test('4 processes claiming 400 jobs at once: each job claimed exactly once', async () => {
    const { file, queue } = freshQueue();
    queue.enqueue(Array.from({ length: 400 }, (_, i) => ({ kind: 'index' as const, key: `/videos/${i}.mp4` })));
    const runs = await Promise.all(['a', 'b', 'c', 'd'].map((o) => collect(claimer(file, o))));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const all = runs.flatMap((r) => r.ids);
    const twice = all.filter((id, i) => all.indexOf(id) !== i);
    assert.deepEqual(twice, [], `claimed twice: ${twice.slice(0, 10).join(', ')}`);
    assert.equal(new Set(all).size, 400);
    assert.deepEqual(queue.counts(), { queued: 0, running: 0, done: 400, failed: 0 });
    // More than one process did work: the test really ran them side by side.
    assert.ok(runs.filter((r) => r.ids.length > 0).length >= 2, runs.map((r) => r.ids.length).join(' '));
    queue.close();
  });

  test('kill -9 mid-job: after its lease passes, another worker takes the job, once', async () => {
    const { file, queue } = freshQueue();
    const [id] = queue.enqueue([{ kind: 'index', key: '/videos/a.mp4' }]);
    const child = claimer(file, 'doomed', '400', 'hang');
    const claimed = await new Promise<number>((resolve) => child.stdout!.once('data', (d) => resolve(Number(String(d).trim()))));
    assert.equal(claimed, id);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    assert.equal(queue.claim('rescuer'), undefined, 'not before the lease passes');
    await new Promise((r) => setTimeout(r, 500));
    const again = queue.claim('rescuer');
    assert.equal(again?.id, id);
    assert.equal(again?.attempts, 2, 'the lost attempt counts');
    assert.equal(queue.finish(id!, 'doomed', { result: {} }), false, 'the dead owner can no longer finish it');
    assert.equal(queue.finish(id!, 'rescuer', { result: {} }), true);
    assert.equal(queue.get(id!)?.state, 'done');
    queue.close();
  });

  test('one active job per file; transient failures come back after a backoff, others stay failed; retry requeues', () => {
    const { queue } = freshQueue();
    const [a, again] = queue.enqueue([{ kind: 'index', key: '/v/a.mp4' }, { kind: 'index', key: '/v/a.mp4' }]);
    assert.equal(a, again, 'the same file queued twice is one job');
    const [b] = queue.enqueue([{ kind: 'index', key: '/v/b.mp4', maxAttempts: 2 }]);
    const t0 = Date.now();
    const ja = queue.claim('w', {}, t0)!;
    queue.finish(ja.id, 'w', { error: 'not a video', transient: false }, t0);
    assert.equal(queue.get(a!)?.state, 'failed');
    assert.equal(queue.get(a!)?.error, 'not a video');
    const jb = queue.claim('w', {}, t0)!;
    assert.equal(jb.id, b);
    queue.finish(b!, 'w', { error: 'disk full', transient: true }, t0);
    const queued = queue.get(b!)!;
    assert.equal(queued.state, 'queued');
    assert.ok(queued.runAfter > t0, 'backed off');
    assert.equal(queue.claim('w', {}, t0), undefined, 'not claimable during the backoff');
    queue.claim('w', {}, queued.runAfter);
    queue.finish(b!, 'w', { error: 'disk full', transient: true }, queued.runAfter);
    assert.equal(queue.get(b!)?.state, 'failed', 'attempts used up');
    // A failed job queued again from scratch by the retry button.
    assert.equal(queue.retry(a!), a);
    assert.equal(queue.get(a!)?.state, 'queued');
    assert.equal(queue.get(a!)?.attempts, 0);
    // Handing a job back (a worker stopping) does not count the attempt.
    const j = queue.claim('w')!;
    assert.ok(queue.release(j.id, 'w'));
    assert.equal(queue.get(j.id)?.attempts, 0);
    queue.close();
  });
});
