// The other ONNX graphs: the transformer pooler (CLIP4Clip seqTransf, models/pooler/train.py), and
// graphs the project builds in code (the label scoring of actions.ts). The pooling rules around the
// pooler live in services/pooler.ts; model.ts re-exports these names.
import fs from 'node:fs';
import type * as Ort from 'onnxruntime-node';
import { ModelError, errorMessage } from '../../core/errors';
import { fileHash, onnxRuntime } from './session';

/** A tensor fed to a graph the project builds in code. */
export type GraphTensor = { type: 'float32'; data: Float32Array; dims: number[] } | { type: 'int64'; data: BigInt64Array; dims: number[] };

export interface GraphSession {
  run(feeds: Record<string, GraphTensor>): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** Loads a graph built in code (no file), e.g. the label scoring of actions.ts: float32 outputs only. */
export async function loadGraph(bytes: Uint8Array, threads: number): Promise<GraphSession> {
  const ort = onnxRuntime();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return {
    async run(feeds) {
      const tensors: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) tensors[name] = t.type === 'float32' ? new ort.Tensor('float32', t.data, t.dims) : new ort.Tensor('int64', t.data, t.dims);
      const result = await session.run(tensors);
      return Object.fromEntries(Object.entries(result).map(([name, t]) => [name, t.data as Float32Array]));
    },
    release: () => session.release(),
  };
}

export const POOLER_HINT = 'train one with models/pooler/train.py (see the README) or use --pooling mean';

export interface PoolerSession {
  readonly file: string;
  readonly sha256: string;
  /** embeds: [batch, frames, dim] row-major; mask: [batch, frames] (1 frame, 0 padding) → [batch, dim] */
  run(embeds: Float32Array, mask: BigInt64Array, batch: number, frames: number, dim: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Loads a pooler graph: inputs frame_embeds f32[B,T,D] and frame_mask i64[B,T], output video_embeds f32[B,D]. */
export async function loadPoolerSession(file: string, opts: { threads: number; hashCacheFile?: string }): Promise<PoolerSession> {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new ModelError(`--pooling transformer needs a pooler file, and there is none at ${file}: ${POOLER_HINT} (--pooler or VIDSEARCH_POOLER point elsewhere)`, {
      cause: { file, setting: 'VIDSEARCH_POOLER' },
    });
  }
  const ort = onnxRuntime();
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: opts.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new ModelError(`cannot load the pooler ${file}: ${errorMessage(err)}; ${POOLER_HINT}`, { cause: { file } });
  }
  const inputs = [...session.inputNames].sort().join(',');
  if (inputs !== 'frame_embeds,frame_mask' || !session.outputNames.includes('video_embeds')) {
    await session.release();
    throw new ModelError(
      `${file} declares inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; a pooler needs inputs ` +
        `[frame_embeds, frame_mask] and output video_embeds: ${POOLER_HINT}`,
      { cause: { file, inputs: session.inputNames, outputs: session.outputNames } },
    );
  }
  const sha256 = await fileHash(file, opts.hashCacheFile);
  return {
    file,
    sha256,
    async run(embeds, mask, batch, frames, dim) {
      const result = await session.run({
        frame_embeds: new ort.Tensor('float32', embeds, [batch, frames, dim]),
        frame_mask: new ort.Tensor('int64', mask, [batch, frames]),
      });
      return result.video_embeds.data as Float32Array;
    },
    release: () => session.release(),
  };
}
