// Unit: the retry and lease decisions: the daemon's retry policy (core/retry.ts) and the job
// queue's (core/jobs.ts afterFailure, workerLive).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mayRetry, retryDelayMs } from '../../indexer/core/retry';
import { HEARTBEAT_MS, LEASE_MS, afterFailure, workerLive } from '../../indexer/core/jobs';

describe("the daemon's retry policy", () => {
  test('a job is tried at most maxAttempts times', () => {
    assert.deepEqual([0, 1, 2, 3].map((attempts) => mayRetry(attempts, 4)), [true, true, true, false]);
    assert.equal(mayRetry(0, 1), false);
  });
  test('exponential backoff from the base', () => {
    assert.deepEqual([1, 2, 3, 4].map((a) => retryDelayMs(a, 2000)), [2000, 4000, 8000, 16000]);
    assert.equal(retryDelayMs(3, 0), 0);
  });
});

describe("the job queue's decisions", () => {
  test('only a transient failure is queued again, with capped backoff', () => {
    assert.deepEqual(afterFailure(1, 5, false, 1000), { state: 'failed' });
    assert.deepEqual(afterFailure(1, 5, true, 1000), { state: 'queued', runAfter: 3000 });
    assert.deepEqual(afterFailure(3, 5, true, 1000), { state: 'queued', runAfter: 9000 });
    assert.deepEqual(afterFailure(5, 5, true, 1000), { state: 'failed' });
    assert.deepEqual(afterFailure(0, 5, true, 0), { state: 'queued', runAfter: 2000 });
    const late = afterFailure(30, 100, true, 0);
    assert.deepEqual(late, { state: 'queued', runAfter: 5 * 60_000 });
  });

  test('a worker is live for three heartbeats after its last, inside the lease', () => {
    assert.equal(workerLive(0, 3 * HEARTBEAT_MS - 1), true);
    assert.equal(workerLive(0, 3 * HEARTBEAT_MS), false);
    assert.ok(3 * HEARTBEAT_MS <= LEASE_MS, 'a live worker never loses its lease');
  });
});
