// The transformer pooler's share of indexing time (issue 7: under 10% at 12 frames per segment).
//
//   measurePoolerOverhead({ modelDir, poolerFile })
//
// Times the image encoder per frame (the bench's ViT-B/32 stand-in, real cost) and the pooling of
// a video's frames into 12-frame segments plus the whole-video vector (what the pipeline pools for
// every video: each frame goes through the transformer twice), with mean and with the transformer
// (CLIP4Clip seqTransf, 512-d, 8 heads, 4 layers). The overhead is relative to encoding alone, so
// it is an upper bound: indexing also decodes.
//
// Standalone: `node --import tsx bench/pooler.ts` (needs /usr/bin/python3 with torch and onnx to
// write an untrained pooler of the real shape; a trained one costs the same).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel } from '../indexer/io/onnx/model';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { loadTransformerPooling } from '../indexer/services/pooler';
import { meanPooling, planSegments, poolSegments, type PoolingStrategy, type TimedVector } from '../indexer/core/pooling';
import type { RawFrame } from '../indexer/core/types';
import { l2normalize } from '../indexer/core/vectors';
import { ensureBenchModel } from './clip-b32';
import { log, median, round } from './util';

export interface PoolerOverhead {
  framesPerSegment: number;
  videoFrames: number;
  threads: number;
  encodeMsPerFrame: number;
  meanPoolMsPerFrame: number;
  transformerPoolMsPerFrame: number;
  /** (transformer - mean) / encode, percent */
  overheadPct: number;
}

function randomFrames(n: number, size: number): RawFrame[] {
  return Array.from({ length: n }, (_, index) => {
    const rgb = new Uint8Array(size * size * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 2654435761 + index * 97) >>> 24;
    return { index, time: index, rgb, width: size, height: size };
  });
}

async function poolMs(strategy: PoolingStrategy, frames: TimedVector[], segmentFrames: number, runs: number): Promise<number> {
  const plan = planSegments(frames.map((f) => f.time), segmentFrames, frames.length, 1);
  await poolSegments(frames, plan, strategy);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await poolSegments(frames, plan, strategy);
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function measurePoolerOverhead(opts: { modelDir: string; poolerFile: string; threads?: number; framesPerSegment?: number; videoFrames?: number }): Promise<PoolerOverhead> {
  const threads = opts.threads ?? os.availableParallelism();
  const framesPerSegment = opts.framesPerSegment ?? 12;
  const videoFrames = opts.videoFrames ?? 120;
  const model = await loadModel({ model: opts.modelDir, modelsDir: path.dirname(opts.modelDir), variant: 'fp32', threads, batchSize: 16 });
  let encodeMsPerFrame: number;
  let vectors: Float32Array[];
  try {
    const batch = randomFrames(16, model.image.size);
    await model.encodeImages(batch);
    const times: number[] = [];
    for (let r = 0; r < 4; r++) {
      const t = performance.now();
      await model.encodeImages(batch);
      times.push((performance.now() - t) / batch.length);
    }
    encodeMsPerFrame = median(times);
    vectors = (await model.encodeImages(randomFrames(16, model.image.size))).map(l2normalize);
  } finally {
    await model.close();
  }
  // A video at 1 fps: frame vectors (the encoder's, recycled), segments of `framesPerSegment` seconds.
  const frames: TimedVector[] = Array.from({ length: videoFrames }, (_, i) => ({ time: i, vector: vectors[i % vectors.length] }));
  const transformer = await loadTransformerPooling(opts.poolerFile, { dim: vectors[0].length, threads });
  try {
    const mean = await poolMs(meanPooling, frames, framesPerSegment, 10);
    const learned = await poolMs(transformer, frames, framesPerSegment, 10);
    return {
      framesPerSegment,
      videoFrames,
      threads,
      encodeMsPerFrame: round(encodeMsPerFrame, 2),
      meanPoolMsPerFrame: round(mean / videoFrames, 4),
      transformerPoolMsPerFrame: round(learned / videoFrames, 4),
      overheadPct: round((100 * (learned - mean)) / videoFrames / encodeMsPerFrame, 2),
    };
  } finally {
    await transformer.close();
  }
}

/**
 * An untrained pooler of the real shape (512-d, 8 heads, 4 layers) in `<benchDir>/pooler-512`,
 * written once by models/pooler/train.py --init-only; a trained one costs the same to run.
 */
export function ensureBenchPooler(benchDir: string): string {
  const poolerDir = path.join(benchDir, 'pooler-512');
  const file = path.join(poolerDir, 'pooler.onnx');
  if (!fs.existsSync(file)) {
    const r = spawnSync('/usr/bin/python3', [path.join(PROJECT_ROOT, 'models', 'pooler', 'train.py'), '--init-only', '--dim', '512', '--out', poolerDir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`models/pooler/train.py --init-only failed (it needs python3-torch and python3-onnx): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  }
  return file;
}

async function main(): Promise<void> {
  const benchDir = path.join(PROJECT_ROOT, 'data', 'bench');
  const modelDir = await ensureBenchModel(path.join(benchDir, 'model'), { log });
  const result = await measurePoolerOverhead({ modelDir, poolerFile: ensureBenchPooler(benchDir) });
  log(`pooler: encode ${result.encodeMsPerFrame} ms/frame; pooling mean ${result.meanPoolMsPerFrame}, transformer ${result.transformerPoolMsPerFrame} ms/frame: +${result.overheadPct}% of encoding`);
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
