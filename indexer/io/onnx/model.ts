// The model I/O boundary: the only module that touches ONNX Runtime. Loads any CLIP-family model
// folder in the Hugging Face layout (see DESIGN.md) and returns L2-normalized vectors.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Config, ModelVariant } from '../../services/config';
import { ModelError, errorMessage } from '../../core/errors';
import { normalizeFrames, type ImageSpec } from '../../core/preprocess';
import { TextTokenizer } from './tokenizer';
import type { ModelIdentity } from '../../core/types';
import type { RawFrame } from '../../core/types';
import { l2normalize } from '../../core/vectors';
import { PROJECT_ROOT } from '../files/paths';
import { verifyModelFiles } from '../../../models/pull';
import { GRAPH_FILE, mappedCopy } from './onnx-external';
import { logOnce } from '../files/log-once';

export type { ModelIdentity };

export interface ClipModel {
  readonly dir: string;
  readonly identity: ModelIdentity;
  readonly dim: number;
  readonly image: ImageSpec;
  readonly contextLength: number;
  readonly tokenizer: TextTokenizer;
  encodeImages(frames: RawFrame[]): Promise<Float32Array[]>;
  encodeTexts(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
  /** Cumulative time spent per stage since load (for progress, logs and the benchmark). */
  readonly timings?: ModelTimings;
}

export interface ModelTimings {
  images: number;
  /** normalizing frames into the input tensor (main thread) */
  preprocessMs: number;
  /** the image encoder's run() calls */
  inferenceMs: number;
  texts: number;
  /** tokenizing and the text encoder */
  textMs: number;
}

const VARIANT_SUFFIX: Record<ModelVariant, string> = { fp32: '', quantized: '_quantized', fp16: '_fp16' };
const PULL_HINT = 'run `vidsearch models pull` or set VIDSEARCH_MODEL to a model folder';

/** A name under the models folder, or a path to a model folder. */
export function resolveModelDir(cfg: Pick<Config, 'model' | 'modelsDir'>): string {
  const looksLikePath = path.isAbsolute(cfg.model) || cfg.model.startsWith('.') || cfg.model.includes('/') || cfg.model.includes(path.sep);
  return looksLikePath ? path.resolve(cfg.model) : path.join(cfg.modelsDir, cfg.model);
}

export function modelFiles(variant: ModelVariant): { vision: string; text: string } {
  const s = VARIANT_SUFFIX[variant];
  return { vision: `onnx/vision_model${s}.onnx`, text: `onnx/text_model${s}.onnx` };
}

function readJson(dir: string, file: string): Record<string, any> {
  const p = path.join(dir, file);
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (err) {
    throw new ModelError(`model file ${p} is not valid JSON (${errorMessage(err)}): ${PULL_HINT}`, { cause: { file: p } });
  }
}

function sideOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, number>;
    return o.height ?? o.shortest_edge ?? o.width;
  }
  return undefined;
}

function triple(v: unknown, name: string, file: string): [number, number, number] {
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as [number, number, number];
  if (typeof v === 'number') return [v, v, v];
  throw new ModelError(`${file} has no usable ${name} (expected 3 numbers)`, { cause: { file, field: name } });
}

/** sha256 of a file, cached by (path, size, mtime) so large models are hashed once. */
async function fileHash(file: string, cacheFile: string | undefined): Promise<string> {
  const st = fs.statSync(file);
  const key = `${file}|${st.size}|${st.mtimeMs}`;
  let cache: Record<string, string> = {};
  if (cacheFile) {
    try {
      cache = JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
    } catch {
      cache = {};
    }
    if (cache[key]) return cache[key];
  }
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  const digest = hash.digest('hex');
  if (cacheFile) {
    cache[key] = digest;
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
      fs.writeFileSync(tmp, JSON.stringify(cache, null, 1));
      fs.renameSync(tmp, cacheFile);
    } catch {
      // Only a cache (a full disk, a read-only data directory): the hash is recomputed next time.
      fs.rmSync(tmp, { force: true });
    }
  }
  return digest;
}

/** What the engine uses of an ONNX Runtime session, so that one can live in a worker thread. */
interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
  release(): Promise<void>;
}

// Runs in the worker: plain CommonJS, so it needs no TypeScript loader whatever started the process.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ort);
let session;
parentPort.on('message', async (m) => {
  try {
    if (m.op === 'load') {
      session = await ort.InferenceSession.create(m.file, m.options);
      parentPort.postMessage({ id: m.id, ok: true, value: { inputNames: session.inputNames, outputNames: session.outputNames } });
    } else if (m.op === 'run') {
      const feeds = {};
      for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const result = await session.run(feeds);
      const value = {};
      for (const [name, t] of Object.entries(result)) value[name] = { data: t.data, dims: t.dims };
      parentPort.postMessage({ id: m.id, ok: true, value });
    } else if (m.op === 'release') {
      if (session) await session.release();
      session = undefined;
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, message: (err && err.message) || String(err) });
  }
});
`;

/**
 * An ONNX Runtime session in a worker thread. onnxruntime-node's run() is synchronous: on the main
 * thread, each image batch (seconds of work) would stop the event loop, and with it the reading of
 * ffmpeg's output, so decoding could never overlap inference. The worker is referenced only while
 * a call is in flight, so an idle model does not keep the process alive.
 */
class WorkerSession implements Session {
  inputNames: readonly string[] = [];
  outputNames: readonly string[] = [];
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor() {
    const require = createRequire(path.join(PROJECT_ROOT, 'package.json'));
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ort: require.resolve('onnxruntime-node') } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; ok: boolean; value?: unknown; message?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.message));
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the inference worker failed: ${errorMessage(err)}`)));
    this.worker.on('exit', (code) => fail(new Error(`the inference worker exited (code ${code})`)));
  }

  static async create(file: string, options: ort.InferenceSession.SessionOptions): Promise<WorkerSession> {
    const s = new WorkerSession();
    try {
      const names = await s.call<{ inputNames: string[]; outputNames: string[] }>({ op: 'load', file, options });
      s.inputNames = names.inputNames;
      s.outputNames = names.outputNames;
      return s;
    } catch (err) {
      await s.worker.terminate();
      throw err;
    }
  }

  private call<T>(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, { data: unknown; dims: readonly number[] }>> {
    const plain: Record<string, { type: string; data: unknown; dims: readonly number[] }> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      plain[name] = { type: t.type, data: t.data, dims: t.dims };
      // The input buffers are handed over, not copied (the callers build fresh ones per call).
      const buffer = (t.data as ArrayBufferView).buffer;
      if (buffer instanceof ArrayBuffer && !transfer.includes(buffer)) transfer.push(buffer);
    }
    return this.call({ op: 'run', feeds: plain }, transfer);
  }

  async release(): Promise<void> {
    try {
      if (!this.failure) await this.call({ op: 'release' });
    } finally {
      await this.worker.terminate();
    }
  }
}

async function createSession(
  file: string,
  threads: number,
  expectIn: string[],
  optionalIn: string[],
  expectOut: string,
  where: 'here' | 'worker' = 'here',
  prepack = true,
): Promise<Session> {
  let session: Session;
  try {
    const extra: Record<string, unknown> = {};
    if (!prepack) extra.disable_prepacking = '1';
    // The worker's session shares the cores with ffmpeg decoding the next frames: threads that
    // spin-wait between operators burn CPU the decoder needs. Alone it makes no difference to speed
    // (bench/); on a busy 2-core machine it used less CPU for the same batches.
    if (where === 'worker') extra.intra_op = { allow_spinning: '0' };
    const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', extra: { session: extra } };
    session = where === 'worker' ? await WorkerSession.create(file, options) : await ort.InferenceSession.create(file, options);
  } catch (err) {
    throw new ModelError(`cannot load ${file}: ${errorMessage(err)}; the file may be truncated or not an ONNX model: ${PULL_HINT}`, {
      cause: { file },
    });
  }
  const unknown = session.inputNames.filter((n) => !expectIn.includes(n) && !optionalIn.includes(n));
  const missing = expectIn.filter((n) => !session.inputNames.includes(n));
  if (unknown.length || missing.length || !session.outputNames.includes(expectOut)) {
    await session.release();
    throw new ModelError(
      `${file} declares inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]; ` +
        `vidsearch needs inputs [${[...expectIn, ...optionalIn.map((n) => `${n}?`)].join(', ')}] and output ${expectOut} ` +
        `(the transformers.js CLIP export layout): use a CLIP model exported that way`,
      { cause: { file, inputs: session.inputNames, outputs: session.outputNames } },
    );
  }
  return session;
}

export interface LoadModelOptions extends Pick<Config, 'model' | 'modelsDir' | 'variant' | 'threads'> {
  /** where to cache file hashes between runs (usually the data directory) */
  hashCacheFile?: string;
  batchSize?: number;
  /**
   * Where to keep a copy of the text encoder with its weights beside the graph (onnx-external.ts),
   * for text encoders of at least `minBytes` (default 16 MB: a test model is not worth a copy).
   */
  mapped?: { dir: string; minBytes?: number };
  /**
   * The process encodes one query and exits (a CLI search): the text encoder skips pre-packing its
   * weights, which costs more load time and memory than it saves on one query (ViT-B/32: load
   * 0.21 → 0.08 s and 238 → 86 MB, encode 31 → 74 ms; npm run bench -- --only=cli).
   */
  oneQuery?: boolean;
}

const MAP_MIN_BYTES = 16 * 1024 * 1024;

/**
 * The model folder and the files it must hold, without loading anything: a cheap check for
 * callers that only need to know whether a model is there (server start). ModelError otherwise.
 */
export function locateModel(opts: Pick<Config, 'model' | 'modelsDir' | 'variant'>): { dir: string; required: string[] } {
  const dir = resolveModelDir(opts);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ModelError(`model not found at ${dir}: ${PULL_HINT}`, { cause: { dir, setting: 'VIDSEARCH_MODEL' } });
  }
  const files = modelFiles(opts.variant);
  const required = ['config.json', 'preprocessor_config.json', 'tokenizer.json', files.vision, files.text];
  const missing = required.filter((f) => !fs.existsSync(path.join(dir, f)));
  if (missing.length) {
    const variantHint = opts.variant === 'fp32' ? '' : ` (variant "${opts.variant}": pick another with --variant or VIDSEARCH_VARIANT)`;
    throw new ModelError(`model at ${dir} is missing ${missing.join(', ')}${variantHint}: ${PULL_HINT}`, { cause: { dir, missing } });
  }
  return { dir, required };
}

export async function loadModel(opts: LoadModelOptions): Promise<ClipModel> {
  const { dir, required } = locateModel(opts);
  const files = modelFiles(opts.variant);
  await verifyModelFiles(dir, required);

  // Each encoder is loaded when first used: a search needs only the text encoder, and loading the
  // image encoder it never runs cost a CLI search about a second and 600 MB with ViT-B/32
  // (npm run bench -- --only=cli). Loading errors (a truncated file, inputs named off-contract)
  // are the same ModelErrors, raised by the first encode instead of by loadModel.
  // The image encoder runs in a worker thread so that indexing can decode while it infers.
  const vision = lazySession(() => createSession(path.join(dir, files.vision), opts.threads, ['pixel_values'], [], 'image_embeds', 'worker'));
  const hashes: Record<string, string> = {};
  for (const f of [files.vision, files.text]) hashes[f] = await fileHash(path.join(dir, f), opts.hashCacheFile);
  const text = lazySession(async () => {
    const file = path.join(dir, files.text);
    const open = (f: string) => createSession(f, opts.threads, ['input_ids'], ['attention_mask'], 'text_embeds', opts.oneQuery ? 'worker' : 'here', !opts.oneQuery);
    const mapped = opts.mapped && fs.statSync(file).size >= (opts.mapped.minBytes ?? MAP_MIN_BYTES) ? mappedText(file, hashes[files.text]!, opts.mapped.dir) : undefined;
    if (mapped) {
      try {
        return await open(mapped);
      } catch (err) {
        // A damaged copy is only a cache: drop it, the original still loads (or says what is wrong).
        logOnce(`mapped:${mapped}`, `vidsearch: the mapped copy ${mapped} of ${file} did not load (${errorMessage(err)}); loading the original, a new copy is made next time`);
        fs.rmSync(path.dirname(mapped), { recursive: true, force: true });
      }
    }
    return open(file);
  });
  // A one-query process needs the text encoder at once: loading it in a worker thread overlaps
  // the tokenizer, the store and the index opening on the main thread. An error waits for the
  // encode that needs it.
  if (opts.oneQuery) text.get().catch(() => {});
  try {
    return await describe();
  } catch (err) {
    await Promise.all([vision.release(), text.release()]);
    throw err;
  }

  // What the folder's JSON files say: read while the text encoder loads (oneQuery).
  async function describe(): Promise<ClipModel> {
    const config = readJson(dir, 'config.json');
    const pre = readJson(dir, 'preprocessor_config.json');
    const tokenizerJson = readJson(dir, 'tokenizer.json');
    const tokenizerConfig = fs.existsSync(path.join(dir, 'tokenizer_config.json')) ? readJson(dir, 'tokenizer_config.json') : {};

    const dim = config.projection_dim;
    if (!Number.isInteger(dim) || dim <= 0) {
      throw new ModelError(`${path.join(dir, 'config.json')} has no projection_dim (the vector size)`, { cause: { dir, field: 'projection_dim' } });
    }
    const contextLength = config.text_config?.max_position_embeddings ?? tokenizerConfig.model_max_length ?? 77;
    const size = sideOf(pre.crop_size) ?? sideOf(pre.size) ?? config.vision_config?.image_size;
    if (!Number.isInteger(size) || size <= 0) {
      throw new ModelError(`${path.join(dir, 'preprocessor_config.json')} has no crop_size/size (the input size)`, { cause: { dir } });
    }
    const image: ImageSpec = {
      size,
      mean: triple(pre.image_mean ?? [0.48145466, 0.4578275, 0.40821073], 'image_mean', 'preprocessor_config.json'),
      std: triple(pre.image_std ?? [0.26862954, 0.26130258, 0.27577711], 'image_std', 'preprocessor_config.json'),
    };
    let tokenizer: TextTokenizer;
    try {
      tokenizer = new TextTokenizer(tokenizerJson, tokenizerConfig, contextLength);
    } catch (err) {
      throw new ModelError(`cannot read ${path.join(dir, 'tokenizer.json')}: ${errorMessage(err)}`, { cause: { dir } });
    }

    const identity: ModelIdentity = {
      name: String(config._name_or_path || path.basename(dir)),
      variant: opts.variant,
      dim,
      files: hashes,
    };
    const batchSize = opts.batchSize ?? 16;

    const rows = (data: Float32Array, n: number): Float32Array[] => {
      if (data.length !== n * dim) {
        throw new ModelError(`model output has ${data.length / n} values per item, config.json says projection_dim ${dim}`, { cause: { dir } });
      }
      return Array.from({ length: n }, (_, i) => l2normalize(data.subarray(i * dim, (i + 1) * dim)));
    };

    const timings: ModelTimings = { images: 0, preprocessMs: 0, inferenceMs: 0, texts: 0, textMs: 0 };

    return {
      dir,
      identity,
      dim,
      image,
      contextLength,
      tokenizer,
      timings,
      async encodeImages(frames) {
        const out: Float32Array[] = [];
        for (let i = 0; i < frames.length; i += batchSize) {
          const chunk = frames.slice(i, i + batchSize);
          const t0 = performance.now();
          const pixels = new ort.Tensor('float32', normalizeFrames(chunk, image), [chunk.length, 3, size, size]);
          const session = await vision.get();
          const t1 = performance.now();
          const result = await session.run({ pixel_values: pixels });
          timings.preprocessMs += t1 - t0;
          timings.inferenceMs += performance.now() - t1;
          timings.images += chunk.length;
          out.push(...rows(result.image_embeds.data as Float32Array, chunk.length));
        }
        return out;
      },
      async encodeTexts(texts) {
        if (texts.length === 0) return [];
        const t0 = performance.now();
        const session = await text.get();
        const t = tokenizer.batch(texts);
        // Feed exactly what the graph declares: some exports take no attention_mask.
        const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', t.ids, [t.batch, t.length]) };
        if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', t.mask, [t.batch, t.length]);
        const result = await session.run(feeds);
        timings.textMs += performance.now() - t0;
        timings.texts += t.batch;
        return rows(result.text_embeds.data as Float32Array, t.batch);
      },
      async close() {
        await Promise.all([vision.release(), text.release()]);
      },
    };
  }
}

/** The mapped copy's graph file, or undefined (with a note) where it cannot be made: a full disk, a read-only data directory. */
function mappedText(file: string, sha256: string, cacheDir: string): string | undefined {
  try {
    return path.join(mappedCopy(file, sha256, cacheDir), GRAPH_FILE);
  } catch (err) {
    logOnce(`mapped:${file}`, `vidsearch: cannot keep a mapped copy of ${file} in ${cacheDir} (${errorMessage(err)}): the text encoder loads from the original, more slowly`);
    return undefined;
  }
}

/**
 * A session created on first use, once, however many callers ask at the same time. A failed load
 * is not kept, so the next use tries again (a model file fixed meanwhile) and reports its error.
 */
function lazySession(create: () => Promise<Session>): { get(): Promise<Session>; release(): Promise<void> } {
  let pending: Promise<Session> | undefined;
  return {
    get() {
      pending ??= create().catch((err) => {
        pending = undefined;
        throw err;
      });
      return pending;
    },
    async release() {
      const p = pending;
      pending = undefined;
      const session = await p?.catch(() => undefined);
      await session?.release();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The transformer pooler (CLIP4Clip seqTransf, models/pooler/train.py): one more ONNX graph, kept
// here with the other ONNX Runtime sessions. The pooling rules around it live in pooler.ts.

/** A tensor fed to a graph the project builds in code. */
export type GraphTensor = { type: 'float32'; data: Float32Array; dims: number[] } | { type: 'int64'; data: BigInt64Array; dims: number[] };

export interface GraphSession {
  run(feeds: Record<string, GraphTensor>): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** Loads a graph built in code (no file), e.g. the label scoring of actions.ts: float32 outputs only. */
export async function loadGraph(bytes: Uint8Array, threads: number): Promise<GraphSession> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return {
    async run(feeds) {
      const tensors: Record<string, ort.Tensor> = {};
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
  let session: ort.InferenceSession;
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
