// Frames → segments → pooled vectors, CLIP4Clip-style. Pooling is a named strategy so a learned
// temporal pooler can stand beside parameter-free mean pooling.
import type { PoolingName, SegmentVectors } from './types';
import { l2normalize } from './vectors';

export interface TimedVector {
  time: number;
  vector: Float32Array;
}

export interface PoolingStrategy {
  readonly name: PoolingName;
  /** One pooled, L2-normalized vector per group of frame vectors. */
  pool(groups: Float32Array[][]): Promise<Float32Array[]>;
  /** what, besides the name, makes its vectors comparable (the pooler file's hash); recorded in the index identity */
  readonly identity?: { sha256: string; chunkFrames: number };
  /** releases what the strategy holds (an ONNX session) */
  close?(): Promise<void>;
}

/** CLIP4Clip's mean pooling, in its order: normalize each frame, masked mean, normalize again. */
export function meanPool(frames: Float32Array[]): Float32Array {
  if (frames.length === 0) throw new Error('cannot pool zero frames');
  const dim = frames[0].length;
  const sum = new Float32Array(dim);
  for (const f of frames) {
    const n = l2normalize(f);
    for (let i = 0; i < dim; i++) sum[i] += n[i];
  }
  for (let i = 0; i < dim; i++) sum[i] /= frames.length;
  return l2normalize(sum);
}

export const meanPooling: PoolingStrategy = {
  name: 'mean',
  async pool(groups) {
    return groups.map(meanPool);
  },
};

export interface SegmentPlan {
  idx: number;
  start: number;
  end: number;
  /** indexes into the frame list */
  frames: number[];
}

/**
 * Groups frames into fixed windows of `segmentSeconds`. Windows without frames are dropped; the
 * last window ends at the video's end (or just after its last frame when the duration is unknown).
 */
export function planSegments(times: number[], segmentSeconds: number, duration: number, frameInterval: number): SegmentPlan[] {
  const byIdx = new Map<number, number[]>();
  times.forEach((t, i) => {
    const idx = Math.floor(t / segmentSeconds + 1e-9);
    const list = byIdx.get(idx);
    if (list) list.push(i);
    else byIdx.set(idx, [i]);
  });
  const lastTime = times.length ? times[times.length - 1] : 0;
  const videoEnd = Math.max(duration, lastTime + Math.min(frameInterval, segmentSeconds));
  return [...byIdx.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([idx, frames]) => ({
      idx,
      start: idx * segmentSeconds,
      end: Math.min((idx + 1) * segmentSeconds, videoEnd),
      frames,
    }));
}

export async function poolSegments(
  frames: TimedVector[],
  plan: SegmentPlan[],
  strategy: PoolingStrategy,
): Promise<{ segments: SegmentVectors[]; video: Float32Array }> {
  const groups = plan.map((p) => p.frames.map((i) => frames[i].vector));
  const [pooled, [video]] = await Promise.all([strategy.pool(groups), strategy.pool([frames.map((f) => f.vector)])]);
  return {
    segments: plan.map((p, i) => ({ idx: p.idx, start: p.start, end: p.end, frameCount: p.frames.length, vector: pooled[i] })),
    video,
  };
}

/** The parameter-free strategies; the learned one is loaded from its file by pooler.ts (loadPooling). */
const STRATEGIES: Partial<Record<PoolingName, PoolingStrategy>> = { mean: meanPooling };

export function poolingStrategy(name: PoolingName): PoolingStrategy {
  const strategy = STRATEGIES[name];
  if (!strategy) throw new Error(`${name} pooling needs its pooler file: use loadPooling (indexer/services/pooler.ts)`);
  return strategy;
}

/** What segmenting one video's frame vectors gives: its segments and video vector, and each frame's segment. */
export interface SegmentedVideo {
  plan: SegmentPlan[];
  segments: SegmentVectors[];
  video: Float32Array;
  /** for each frame, the idx of its segment */
  segmentOf: number[];
}

/**
 * Encoded frames → planned segments → pooled vectors: the one rule indexing (services/pipeline.ts)
 * and tagging a file that is not indexed (services/tagging.ts) share. Frames are `1 / fps` apart.
 */
export async function segmentVideo(
  frames: TimedVector[],
  duration: number,
  settings: { segmentSeconds: number; fps: number },
  strategy: PoolingStrategy,
): Promise<SegmentedVideo> {
  const plan = planSegments(frames.map((v) => v.time), settings.segmentSeconds, duration, 1 / settings.fps);
  const segmentOf = new Array<number>(frames.length);
  for (const p of plan) for (const i of p.frames) segmentOf[i] = p.idx;
  const { segments, video } = await poolSegments(frames, plan, strategy);
  return { plan, segments, video, segmentOf };
}
