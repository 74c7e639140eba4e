// Unit: frames → segments → pooled vectors (core/pooling.ts), the rule indexing and tagging share.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { meanPool, meanPooling, planSegments, segmentVideo } from '../../indexer/core/pooling';
import { dot, l2normalize } from '../../indexer/core/vectors';

const v = (...xs: number[]) => Float32Array.from(xs);
const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} ≉ ${b}`);

describe('planSegments', () => {
  test('fixed windows; the last one ends at the video end', () => {
    const plan = planSegments([0, 1, 2, 3, 4, 5, 6], 3, 7.5, 1);
    assert.deepEqual(plan, [
      { idx: 0, start: 0, end: 3, frames: [0, 1, 2] },
      { idx: 1, start: 3, end: 6, frames: [3, 4, 5] },
      { idx: 2, start: 6, end: 7.5, frames: [6] },
    ]);
  });

  test('windows without frames are dropped; their index is kept', () => {
    const plan = planSegments([0, 1, 25], 10, 30, 1);
    assert.deepEqual(plan.map((p) => [p.idx, p.start, p.end, p.frames]), [
      [0, 0, 10, [0, 1]],
      [2, 20, 30, [2]],
    ]);
  });

  test('the last frame covers its interval, past a shorter reported duration', () => {
    assert.equal(planSegments([0, 1, 2, 3, 4, 5, 6], 3, 6.5, 1).at(-1)!.end, 7);
  });

  test('an unknown duration (0) ends the last window one frame interval after its last frame', () => {
    const plan = planSegments([0, 0.5, 1], 10, 0, 0.5);
    assert.equal(plan.at(-1)!.end, 1.5);
  });

  test('a frame on a boundary belongs to the next window, even with floating-point noise', () => {
    const plan = planSegments([0.1 + 0.2 + 2.7], 3, 10, 1); // 3.0000000000000004
    assert.equal(plan[0].idx, 1);
    assert.equal(planSegments([2.9999999999999996], 3, 10, 1)[0].idx, 1);
  });

  test('no frames, no segments', () => {
    assert.deepEqual(planSegments([], 10, 5, 1), []);
  });
});

describe('meanPool', () => {
  test('normalizes each frame, then their mean', () => {
    const p = meanPool([v(2, 0), v(0, 5)]);
    close(p[0], Math.SQRT1_2);
    close(p[1], Math.SQRT1_2);
  });
  test('zero frames is an error', () => {
    assert.throws(() => meanPool([]), /zero frames/);
  });
});

describe('segmentVideo', () => {
  test('plans at 1/fps, pools each segment and the whole video, maps each frame to its segment', async () => {
    const frames = [0, 0.5, 1, 1.5, 2].map((time, i) => ({ time, vector: l2normalize(v(1, i)) }));
    const out = await segmentVideo(frames, 2.8, { segmentSeconds: 1, fps: 2 }, meanPooling);
    assert.deepEqual(out.segmentOf, [0, 0, 1, 1, 2]);
    assert.deepEqual(out.segments.map((s) => [s.idx, s.start, s.end, s.frameCount]), [
      [0, 0, 1, 2],
      [1, 1, 2, 2],
      [2, 2, 2.8, 1],
    ]);
    close(dot(out.segments[0].vector, meanPool([frames[0].vector, frames[1].vector])), 1);
    close(dot(out.video, meanPool(frames.map((f) => f.vector))), 1);
  });
});
