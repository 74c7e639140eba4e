// Training the transformer pooler end to end on a synthetic feature-level task where context across
// frames matters: each 10-frame "video" shows its concept in only 2-3 frames; the other frames are
// distractors that share a recognisable direction (plus a random per-video scene). Mean pooling
// lets the scene swamp the concept; a pooler that learns to recognise the distractors and lean on
// the other frames does much better. Features are written in the export-features format, trained
// by models/pooler/train.py (symmetric InfoNCE), exported to ONNX and measured here through the
// TypeScript runtime on held-out videos.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { FEATURES_FORMAT } from '../indexer/services/features';
import { loadTransformerPooling } from '../indexer/services/pooler';
import { meanPool } from '../indexer/core/pooling';
import { retrievalMetrics, rankOf } from '../indexer/services/eval';
import { dot, l2normalize } from '../indexer/core/vectors';
import { tempDir } from './helpers';
import { torchMissing, trainPy } from './python';

const D = 64;
const T = 10;

/** Seeded normal samples (mulberry32 + Box-Muller). */
function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

interface Synthetic {
  videos: Float32Array[][];
  texts: Float32Array[];
}

function synthetic(n: number, seed: number): Synthetic {
  const g = gaussian(seed);
  const randomUnit = () => l2normalize(Float32Array.from({ length: D }, g));
  const noisy = (base: Float32Array[], sigma: number) =>
    l2normalize(Float32Array.from({ length: D }, (_, i) => base.reduce((s, b) => s + b[i], 0) + (sigma / Math.sqrt(D)) * g()));
  const distractor = l2normalize(Float32Array.from({ length: D }, gaussian(12345)));
  const videos: Float32Array[][] = [];
  const texts: Float32Array[] = [];
  for (let v = 0; v < n; v++) {
    const concept = randomUnit();
    const scene = randomUnit();
    const len = 2 + Math.floor(Math.abs(g()) * 10) % 2;
    const start = Math.floor(Math.abs(g()) * 100) % (T - len + 1);
    videos.push(Array.from({ length: T }, (_, t) => (t >= start && t < start + len ? noisy([concept], 0.5) : noisy([scene, distractor], 0.5))));
    texts.push(noisy([concept], 0.3));
  }
  return { videos, texts };
}

function writeFeatures(dir: string, s: Synthetic): void {
  fs.mkdirSync(dir, { recursive: true });
  const rows = (vs: Float32Array[]) => Buffer.concat(vs.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
  fs.writeFileSync(path.join(dir, 'frames.f32'), rows(s.videos.flat()));
  fs.writeFileSync(path.join(dir, 'texts.f32'), rows(s.texts));
  fs.writeFileSync(
    path.join(dir, 'features.json'),
    JSON.stringify({
      format: FEATURES_FORMAT,
      dim: D,
      model: { name: 'synthetic', dim: D },
      fps: 1,
      segmentSeconds: T,
      frames: 'frames.f32',
      texts: 'texts.f32',
      videos: s.videos.map((f, i) => ({ path: `synthetic-${i}.mp4`, frameOffset: i * T, frameCount: T, times: f.map((_, t) => t) })),
      captions: s.texts.map((_, i) => ({ video: i, text: `concept ${i}` })),
    }),
  );
}

function recallAt1(texts: Float32Array[], pooled: Float32Array[]) {
  const ranks = texts.map((t, i) => rankOf(pooled.map((v) => dot(t, v)), i));
  return retrievalMetrics(ranks);
}

describe('training the transformer pooler', { skip: torchMissing() }, () => {
  test('on a task where context matters, the trained transformer beats mean pooling on held-out R@1', async (t) => {
    const dir = tempDir('vidsearch-train-');
    const train = synthetic(1536, 1);
    const held = synthetic(300, 2);
    writeFeatures(path.join(dir, 'train'), train);
    writeFeatures(path.join(dir, 'val'), held);
    const started = Date.now();
    const summary = trainPy([
      '--features', path.join(dir, 'train'),
      '--val-features', path.join(dir, 'val'),
      '--out', path.join(dir, 'out'),
      '--epochs', '3', '--batch-size', '64', '--lr', '2e-3', '--seed', '0',
    ]);
    const seconds = (Date.now() - started) / 1000;
    const info = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'pooler.json'), 'utf8'));
    assert.deepEqual([info.dim, info.heads, info.layers, info.chunk_frames], [D, 1, 4, 12]);
    assert.equal(info.trained, true);

    const pooling = await loadTransformerPooling(path.join(dir, 'out', 'pooler.onnx'), { dim: D, threads: 1 });
    let transformer;
    try {
      transformer = recallAt1(held.texts, await pooling.pool(held.videos));
    } finally {
      await pooling.close();
    }
    const mean = recallAt1(held.texts, held.videos.map(meanPool));
    t.diagnostic(
      `held-out text→video on ${held.videos.length} videos: mean pooling R@1 ${mean.R1}% (R@5 ${mean.R5}, MdR ${mean.medianRank}); ` +
        `trained transformer R@1 ${transformer.R1}% (R@5 ${transformer.R5}, MdR ${transformer.medianRank}); ` +
        `train.py ${seconds.toFixed(0)} s, ${summary.steps} steps; its own validation: mean ${summary.val_mean_pooling['R@1']}%, transformer ${summary.val_transformer['R@1']}%`,
    );
    // The runtime measures what training measured (same vectors, same protocol).
    assert.ok(Math.abs(transformer.R1 - summary.val_transformer['R@1']) <= 1, 'TypeScript and PyTorch agree on the held-out R@1');
    assert.ok(Math.abs(mean.R1 - summary.val_mean_pooling['R@1']) <= 1);
    assert.ok(transformer.R1 >= mean.R1 + 20, `transformer R@1 ${transformer.R1} vs mean ${mean.R1}`);
    assert.ok(transformer.R1 >= 80, `transformer R@1 ${transformer.R1}`);
  });
});
