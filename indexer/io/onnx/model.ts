// The model I/O boundary: loads any CLIP-family model folder in the Hugging Face layout (see
// DESIGN.md) and returns L2-normalized vectors. The ONNX Runtime sessions (here or in a worker
// thread) are session.ts's; the pooler and graphs built in code are graphs.ts's.
import fs from 'node:fs';
import path from 'node:path';
import type { Config, ModelVariant } from '../../services/config';
import { ModelError, errorMessage } from '../../core/errors';
import { normalizeFrames, type ImageSpec } from '../../core/preprocess';
import { TextTokenizer } from './tokenizer';
import { preparedBpeTable } from './bpe-table';
import type { ModelIdentity } from '../../core/types';
import { PULL_HINT, createSession, fileHash, lazySession, type Feed } from './session';
import type { RawFrame } from '../../core/types';
import { l2normalize } from '../../core/vectors';
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
  /**
   * Where to keep CLIP tokenizers' prepared tables (bpe-table.ts), usually in the data directory;
   * without it the tokenizer is built from tokenizer.json by the library.
   */
  tokenizerCache?: string;
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
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizerSha = opts.tokenizerCache ? await fileHash(tokenizerFile, opts.hashCacheFile) : undefined;
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
    // Built when a text is first encoded: a worker that only indexes never needs it, and CLIP's
    // (a 1.6 MB vocabulary) cost its idle process a large heap for the garbage collector to walk
    // (npm run bench -- --only=queue).
    let built: TextTokenizer | undefined;
    const tokenizer = (): TextTokenizer => {
      if (built) return built;
      try {
        const json = () => readJson(dir, 'tokenizer.json');
        if (opts.tokenizerCache && tokenizerSha) {
          const prepared = preparedBpeTable(tokenizerFile, tokenizerSha, tokenizerConfig, opts.tokenizerCache, json);
          if ('table' in prepared) return (built = new TextTokenizer(json, tokenizerConfig, contextLength, prepared.table));
          return (built = new TextTokenizer(prepared.json, tokenizerConfig, contextLength));
        }
        return (built = new TextTokenizer(json(), tokenizerConfig, contextLength));
      } catch (err) {
        if (err instanceof ModelError) throw err;
        throw new ModelError(`cannot read ${path.join(dir, 'tokenizer.json')}: ${errorMessage(err)}`, { cause: { dir } });
      }
    };
    // A one-query process tokenizes at once, while its text encoder loads.
    if (opts.oneQuery) tokenizer();

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
      get tokenizer() {
        return tokenizer();
      },
      timings,
      async encodeImages(frames) {
        const out: Float32Array[] = [];
        for (let i = 0; i < frames.length; i += batchSize) {
          const chunk = frames.slice(i, i + batchSize);
          const t0 = performance.now();
          const pixels: Feed = { type: 'float32', data: normalizeFrames(chunk, image), dims: [chunk.length, 3, size, size] };
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
        const t = tokenizer().batch(texts);
        // Feed exactly what the graph declares: some exports take no attention_mask.
        const feeds: Record<string, Feed> = { input_ids: { type: 'int64', data: t.ids, dims: [t.batch, t.length] } };
        if (session.inputNames.includes('attention_mask')) feeds.attention_mask = { type: 'int64', data: t.mask, dims: [t.batch, t.length] };
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

export { POOLER_HINT, loadGraph, loadPoolerSession, type GraphSession, type GraphTensor, type PoolerSession } from './graphs';
