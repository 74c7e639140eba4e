// The model I/O boundary: the only module that touches ONNX Runtime. Loads any CLIP-family model
// folder in the Hugging Face layout (see DESIGN.md) and returns L2-normalized vectors.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Config, ModelVariant } from './config';
import { ModelError, errorMessage } from './errors';
import { normalizeFrames, type ImageSpec } from './preprocess';
import { TextTokenizer } from './tokenizer';
import type { RawFrame } from './types';
import { l2normalize } from './vectors';
import { verifyModelFiles } from '../models/pull';

export interface ModelIdentity {
  name: string;
  variant: ModelVariant;
  dim: number;
  /** file (relative to the model folder) → sha256 */
  files: Record<string, string>;
}

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
    fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(cache, null, 1));
    fs.renameSync(tmp, cacheFile);
  }
  return digest;
}

async function createSession(file: string, threads: number, expectIn: string[], optionalIn: string[], expectOut: string): Promise<ort.InferenceSession> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
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
}

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

  const vision = await createSession(path.join(dir, files.vision), opts.threads, ['pixel_values'], [], 'image_embeds');
  let text: ort.InferenceSession;
  try {
    text = await createSession(path.join(dir, files.text), opts.threads, ['input_ids'], ['attention_mask'], 'text_embeds');
  } catch (err) {
    await vision.release();
    throw err;
  }
  const hashes: Record<string, string> = {};
  for (const f of [files.vision, files.text]) hashes[f] = await fileHash(path.join(dir, f), opts.hashCacheFile);
  const identity: ModelIdentity = {
    name: String(config._name_or_path || path.basename(dir)),
    variant: opts.variant,
    dim,
    files: hashes,
  };
  const batchSize = opts.batchSize ?? 16;
  const textWantsMask = text.inputNames.includes('attention_mask');

  const rows = (data: Float32Array, n: number): Float32Array[] => {
    if (data.length !== n * dim) {
      throw new ModelError(`model output has ${data.length / n} values per item, config.json says projection_dim ${dim}`, { cause: { dir } });
    }
    return Array.from({ length: n }, (_, i) => l2normalize(data.subarray(i * dim, (i + 1) * dim)));
  };

  return {
    dir,
    identity,
    dim,
    image,
    contextLength,
    tokenizer,
    async encodeImages(frames) {
      const out: Float32Array[] = [];
      for (let i = 0; i < frames.length; i += batchSize) {
        const chunk = frames.slice(i, i + batchSize);
        const pixels = new ort.Tensor('float32', normalizeFrames(chunk, image), [chunk.length, 3, size, size]);
        const result = await vision.run({ pixel_values: pixels });
        out.push(...rows(result.image_embeds.data as Float32Array, chunk.length));
      }
      return out;
    },
    async encodeTexts(texts) {
      if (texts.length === 0) return [];
      const t = tokenizer.batch(texts);
      // Feed exactly what the graph declares: some exports take no attention_mask.
      const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', t.ids, [t.batch, t.length]) };
      if (textWantsMask) feeds.attention_mask = new ort.Tensor('int64', t.mask, [t.batch, t.length]);
      const result = await text.run(feeds);
      return rows(result.text_embeds.data as Float32Array, t.batch);
    },
    async close() {
      await Promise.all([vision.release(), text.release()]);
    },
  };
}
