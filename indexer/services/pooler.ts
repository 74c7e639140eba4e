// The learned temporal pooler (CLIP4Clip's seqTransf) as a pooling strategy: frame vectors →
// transformer with frame position embeddings → residual → per-frame L2 → masked mean → L2, run by
// ONNX Runtime from a pooler.onnx trained by models/pooler/train.py (architecture in
// models/pooler/seqtransf.py). The session itself lives in model.ts with the other ONNX sessions.
//
// Long segments: the transformer sees at most `chunkFrames` consecutive frames at once (the length
// it was trained on, from pooler.json; 12 without one, as CLIP4Clip). A longer run of frames (a
// long segment, or the whole-video vector) is split into ceil(T / chunkFrames) consecutive chunks
// of near-equal size, each pooled, and the chunk vectors averaged weighted by their frame counts,
// then normalized: the same rule as `pool_groups` in seqtransf.py, which training uses.
import fs from 'node:fs';
import path from 'node:path';
import type { Config, PoolingName } from './config';
import { ModelError } from '../core/errors';
import { POOLER_HINT, loadPoolerSession, resolveModelDir, type PoolerSession } from '../io/onnx/model';
import { meanPooling, type PoolingStrategy } from '../core/pooling';
import { l2normalize } from '../core/vectors';

export const DEFAULT_CHUNK_FRAMES = 12;
/** chunks per ONNX Runtime call */
const MAX_BATCH = 256;

export interface PoolerInfo {
  format?: string;
  dim?: number;
  layers?: number;
  heads?: number;
  positions?: number;
  chunk_frames?: number;
  [key: string]: unknown;
}

/** The pooler file: --pooler / VIDSEARCH_POOLER, else pooler.onnx in the model folder. */
export function poolerPath(cfg: Pick<Config, 'pooler' | 'model' | 'modelsDir'>): string {
  return cfg.pooler ?? path.join(resolveModelDir(cfg), 'pooler.onnx');
}

/** pooler.json beside pooler.onnx (train.py writes it); {} when absent. */
export function readPoolerInfo(file: string): PoolerInfo {
  const sidecar = file.replace(/\.onnx$/i, '') + '.json';
  try {
    return JSON.parse(fs.readFileSync(sidecar, 'utf8')) as PoolerInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ModelError(`${sidecar} is not valid JSON: ${POOLER_HINT}`, { cause: { file: sidecar } });
  }
}

/** `n` frames as ceil(n / chunk) consecutive chunks of near-equal size, larger ones first. */
export function chunkSizes(n: number, chunk: number): number[] {
  if (n <= 0) throw new Error('cannot pool zero frames');
  const parts = Math.ceil(n / chunk);
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, i) => (i < extra ? base + 1 : base));
}

interface Piece {
  group: number;
  frames: Float32Array[];
}

export class TransformerPooling implements PoolingStrategy {
  readonly name: PoolingName = 'transformer';
  readonly identity: { sha256: string; chunkFrames: number };

  constructor(
    private readonly session: PoolerSession,
    readonly dim: number,
    readonly chunkFrames: number,
    readonly info: PoolerInfo,
  ) {
    this.identity = { sha256: session.sha256, chunkFrames };
  }

  get file(): string {
    return this.session.file;
  }

  /** Runs the graph on same-length pieces (no padding needed), in batches. */
  private async runPieces(pieces: Piece[]): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(pieces.length);
    const byLength = new Map<number, number[]>();
    pieces.forEach((p, i) => {
      const list = byLength.get(p.frames.length);
      if (list) list.push(i);
      else byLength.set(p.frames.length, [i]);
    });
    const dim = this.dim;
    for (const [t, all] of byLength) {
      for (let at = 0; at < all.length; at += MAX_BATCH) {
        const ids = all.slice(at, at + MAX_BATCH);
        const embeds = new Float32Array(ids.length * t * dim);
        ids.forEach((pi, b) => pieces[pi].frames.forEach((f, j) => embeds.set(f, (b * t + j) * dim)));
        const mask = new BigInt64Array(ids.length * t).fill(1n);
        const result = await this.session.run(embeds, mask, ids.length, t, dim);
        if (result.length !== ids.length * dim) {
          throw new ModelError(`the pooler ${this.file} returned ${result.length / ids.length} values per item for ${dim}-d vectors: ${POOLER_HINT}`, {
            cause: { file: this.file },
          });
        }
        ids.forEach((pi, b) => (out[pi] = result.slice(b * dim, (b + 1) * dim)));
      }
    }
    return out;
  }

  async pool(groups: Float32Array[][]): Promise<Float32Array[]> {
    const pieces: Piece[] = [];
    const weights: number[] = [];
    groups.forEach((frames, group) => {
      let at = 0;
      for (const size of chunkSizes(frames.length, this.chunkFrames)) {
        pieces.push({ group, frames: frames.slice(at, at + size) });
        weights.push(size);
        at += size;
      }
    });
    const vectors = await this.runPieces(pieces);
    const sums = groups.map(() => new Float32Array(this.dim));
    pieces.forEach((p, i) => {
      const sum = sums[p.group];
      const v = vectors[i];
      for (let d = 0; d < v.length; d++) sum[d] += weights[i] * v[d];
    });
    return sums.map(l2normalize);
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Loads a pooler and checks it against the model's vector size with one probe run, so a pooler
 * trained for another model fails here with a clear message rather than mid-index.
 */
export async function loadTransformerPooling(file: string, opts: { dim: number; threads: number; hashCacheFile?: string; chunkFrames?: number }): Promise<TransformerPooling> {
  const info = readPoolerInfo(file);
  if (info.dim !== undefined && info.dim !== opts.dim) {
    throw new ModelError(`the pooler ${file} was trained on ${info.dim}-d vectors but the model makes ${opts.dim}-d vectors: ${POOLER_HINT}`, {
      cause: { file, poolerDim: info.dim, modelDim: opts.dim },
    });
  }
  const chunkFrames = opts.chunkFrames ?? info.chunk_frames ?? DEFAULT_CHUNK_FRAMES;
  if (!Number.isInteger(chunkFrames) || chunkFrames < 1 || (info.positions !== undefined && chunkFrames > info.positions)) {
    throw new ModelError(`the pooler ${file} has an unusable chunk length ${chunkFrames} (positions: ${info.positions ?? 'unknown'})`, { cause: { file } });
  }
  const session = await loadPoolerSession(file, opts);
  const pooling = new TransformerPooling(session, opts.dim, chunkFrames, info);
  try {
    const probe = new Float32Array(opts.dim);
    probe[0] = 1;
    await pooling.pool([[probe]]);
  } catch (err) {
    await session.release();
    if (err instanceof ModelError) throw err;
    throw new ModelError(`the pooler ${file} does not take ${opts.dim}-d frame vectors (${err instanceof Error ? err.message.split('\n')[0] : err}): ${POOLER_HINT}`, {
      cause: { file, modelDim: opts.dim },
    });
  }
  return pooling;
}

/** The configured pooling strategy: mean (nothing to load) or the transformer pooler. */
export async function loadPooling(cfg: Pick<Config, 'pooling' | 'pooler' | 'model' | 'modelsDir' | 'threads' | 'home'>, dim: number): Promise<PoolingStrategy> {
  if (cfg.pooling === 'mean') return meanPooling;
  return loadTransformerPooling(poolerPath(cfg), { dim, threads: cfg.threads, hashCacheFile: path.join(cfg.home, 'model-hashes.json') });
}
