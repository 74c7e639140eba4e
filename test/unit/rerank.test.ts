// Unit: the re-ranking maths (core/rerank.ts, core/framepack.ts) and the re-scoring of candidates
// (services/rerank.ts, on a store double), and the best moment as search and the video page pick it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { packBestFrame, packFrames, packRescore, packScore, readPack, unpackFrames } from '../../indexer/core/framepack';
import { bestCandidates, bestFrameTime, bestIndex, bestMoment, segmentMoment } from '../../indexer/core/rerank';
import { compareCandidates, meanScore, queryAdaptiveScore, rerankCandidates, topCandidateIds, type RerankCandidate } from '../../indexer/services/rerank';

const unit = (xs: number[]) => {
  const n = Math.hypot(...xs);
  return Float32Array.from(xs, (x) => x / n);
};

describe('query-adaptive score', () => {
  const q = unit([1, 0, 0]);
  const hit = unit([1, 0, 0]);
  const miss = unit([0, 1, 0]);
  const frames = [hit, hit, miss, miss, miss, miss, miss, miss, miss, miss];

  test('a large temperature is mean pooling; a small one the best frame', () => {
    const mean = 0.2 / Math.hypot(0.2, 0.8);
    assert.ok(Math.abs(meanScore(q, frames) - mean) < 1e-6);
    assert.ok(Math.abs(queryAdaptiveScore(q, frames, 1e6) - mean) < 1e-4);
    assert.ok(queryAdaptiveScore(q, frames, 0.01) > 0.9999);
    // τ = 0.1: weights e^10 : 1, the moment dominates
    assert.ok(queryAdaptiveScore(q, frames, 0.1) > 0.999);
    // one frame: its cosine; none: never ranked
    assert.equal(queryAdaptiveScore(q, [miss], 0.1), 0);
    assert.equal(queryAdaptiveScore(q, [], 0.1), -Infinity);
    // large similarities do not overflow
    assert.ok(Number.isFinite(queryAdaptiveScore(q, frames, 1e-6)));
  });

  test('packed frames (int8 + Gram matrix) score as the exact frames do', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
    const vec = (d: number) => unit(Array.from({ length: d }, rnd));
    for (const [t, d] of [[10, 512], [3, 8], [1, 16], [70, 32]]) {
      const frames = Array.from({ length: t }, (_, i) => ({ time: i * 0.5, vector: vec(d) }));
      const pack = readPack(packFrames(frames));
      assert.equal(pack.frames, t);
      assert.equal(!!pack.gram, t <= 64, 'the Gram matrix only for short segments');
      assert.deepEqual([...pack.times], frames.map((f) => f.time));
      const back = unpackFrames(pack);
      for (let i = 0; i < t; i++) assert.ok(Math.max(...back[i].vector.map((x, k) => Math.abs(x - frames[i].vector[k]))) < 0.01);
      for (const tau of [0.01, 0.1, 1]) {
        const q = vec(d);
        const exact = queryAdaptiveScore(q, frames.map((f) => f.vector), tau);
        assert.ok(Math.abs(packScore(q, pack, tau) - exact) < 5e-3, `T ${t} D ${d} τ ${tau}: ${packScore(q, pack, tau)} vs ${exact}`);
      }
    }
    // unaligned storage buffers are copied, not misread
    const bytes = packFrames([{ time: 1, vector: vec(8) }]);
    const shifted = new Uint8Array(bytes.length + 1).fill(0);
    shifted.set(bytes, 1);
    assert.equal(readPack(shifted.subarray(1)).times[0], 1);
  });

  test('a pack gives the best moment: the time of the frame nearest the query', () => {
    const frames = [miss, miss, hit, miss].map((vector, i) => ({ time: 20 + i, vector }));
    const pack = readPack(packFrames(frames));
    assert.deepEqual(packBestFrame(q, pack), { time: 22, score: pack.scales[2] * pack.codes[2 * 3] });
    const r = packRescore(q, pack, 0.1);
    assert.equal(r.bestTime, 22);
    assert.equal(r.score, packScore(q, pack, 0.1));
  });

  test('only the best K candidates by HNSW score are re-scored; the rest follow them in HNSW order', async () => {
    // Segment id → frames. Segment 1 has the best HNSW score but no matching frame; segment 3 a
    // matching moment; segment 4 would match best of all but lies beyond K = 3.
    const segFrames = new Map<number, Float32Array[]>([
      [1, [miss, miss]],
      [2, [miss, unit([1, 1, 0])]],
      [3, [miss, hit]],
      [4, [hit, hit]],
    ]);
    const store = {
      segmentPacks: async (ids: number[]) => new Map(ids.filter((id) => segFrames.has(id)).map((id) => [id, readPack(packFrames(segFrames.get(id)!.map((vector, i) => ({ time: i, vector }))))])),
      segmentFrames: async () => new Map(),
    };
    const byVideo = new Map<number, Array<RerankCandidate & { id: number }>>([
      [10, [{ id: 1, idx: 0, score: 0.9 }, { id: 4, idx: 1, score: 0.1 }]],
      [20, [{ id: 2, idx: 0, score: 0.8 }]],
      [30, [{ id: 3, idx: 0, score: 0.7 }]],
    ]);
    assert.deepEqual(topCandidateIds(byVideo, 3), [1, 2, 3]);
    await rerankCandidates(store, q, byVideo, { temperature: 0.1, k: 3 });
    const v10 = byVideo.get(10)!;
    assert.deepEqual(v10.map((c) => c.id), [1, 4], 'the re-scored candidate comes first even with a lower score');
    assert.equal(v10[1].rescored, undefined);
    assert.equal(v10[1].score, 0.1, 'beyond K the HNSW score stays');
    assert.ok(byVideo.get(30)![0].score > 0.99 && byVideo.get(30)![0].bestTime === 1, 'the moment is found and timed');
    assert.ok(v10[0].score < 0.01);
    const order = [...byVideo].sort((a, b) => compareCandidates(a[1][0], b[1][0])).map(([id]) => id);
    assert.deepEqual(order, [30, 20, 10]);
  });

});

describe('the best moment', () => {
  const q = unit([1, 0, 0]);
  const hit = unit([1, 0, 0]);
  const near = unit([1, 1, 0]);
  const miss = unit([0, 1, 0]);

  test('the frame nearest the query; the first wins ties; none: undefined', () => {
    const frames = [miss, near, hit, hit].map((vector, i) => ({ time: 10 + i, vector }));
    assert.equal(bestFrameTime(q, frames), 12);
    assert.equal(bestFrameTime(q, []), undefined);
  });

  test("a segment's moment: from its pack when there is one, else its frames, else its start", () => {
    const frames = [miss, hit, miss].map((vector, i) => ({ time: 4 + i, vector }));
    const pack = readPack(packFrames(frames));
    assert.equal(segmentMoment(q, { start: 4 }, { pack }), 5);
    assert.equal(segmentMoment(q, { start: 4 }, { frames }), 5);
    assert.equal(segmentMoment(q, { start: 4 }, {}), 4);
    assert.equal(bestMoment(q, [], { start: 7 }), 7);
  });

  test('the best segment: the highest score, the first of equals; none: -1', () => {
    assert.equal(bestIndex([0.1, 0.5, 0.5, 0.2]), 1);
    assert.equal(bestIndex([-3]), 0);
    assert.equal(bestIndex([]), -1);
  });

  test('the best K candidates across videos', () => {
    const byVideo = new Map([
      [1, [{ score: 0.2 }, { score: 0.9 }]],
      [2, [{ score: 0.5 }]],
    ]);
    assert.deepEqual(bestCandidates(byVideo, 2).map(({ videoId, c }) => [videoId, c.score]), [
      [1, 0.9],
      [2, 0.5],
    ]);
  });
});
