// A real-cost stand-in for OpenAI CLIP ViT-B/32: ONNX graphs written from code with the exact
// shapes and structure of the real model (transformers.js export layout) and seeded random
// weights, so inference costs what the real model costs without downloading 600 MB of weights.
// The vectors mean nothing; only the cost is real. Also writes a dynamic-int8 variant
// (onnx/*_quantized.onnx, the pattern onnxruntime's quantize_dynamic emits) so `--variant
// quantized` can be measured beside fp32.
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLIP_TOKENIZER_CONFIG, CLIP_TOKENIZER_JSON, clipPreprocessorConfig } from '../indexer/testkit/clip-files';
import { GraphBuilder, type Tensor } from '../indexer/io/onnx/onnx-writer';

export interface VisionShape {
  imageSize: number;
  patch: number;
  width: number;
  layers: number;
  heads: number;
}
export interface TextShape {
  context: number;
  vocab: number;
  width: number;
  layers: number;
  heads: number;
}
export interface ClipShape {
  vision: VisionShape;
  text: TextShape;
  projection: number;
}

/** OpenAI CLIP ViT-B/32. */
export const CLIP_B32: ClipShape = {
  vision: { imageSize: 224, patch: 32, width: 768, layers: 12, heads: 12 },
  text: { context: 77, vocab: 49408, width: 512, layers: 12, heads: 8 },
  projection: 512,
};

// Bump when the graphs change, so a cached model folder is rebuilt.
const BUILD_VERSION = 'clip-b32-bench-v1';
const STAMP_FILE = 'bench-model.json';
const MLP_RATIO = 4;
const LN_EPS = 1e-5;
// Large and finite: -inf + -inf is fine too, but a finite value keeps every row's softmax defined.
const MASKED = -1e9;

// ---------------------------------------------------------------------------------------------
// FLOPs (2 per multiply-add; matrix products only: norms, softmax and activations are < 1%)

function blockFlops(tokens: number, width: number): number {
  const proj = 4 * tokens * width * width; // q, k, v, out
  const attention = 2 * tokens * tokens * width; // q·kᵀ and p·v over all heads
  const mlp = 2 * tokens * width * width * MLP_RATIO;
  return 2 * (proj + attention + mlp);
}

/** FLOPs of one image through the vision tower. */
export function visionFlops(s: ClipShape = CLIP_B32): number {
  const v = s.vision;
  const grid = v.imageSize / v.patch;
  const patches = grid * grid;
  const patchEmbed = 2 * patches * v.width * 3 * v.patch * v.patch;
  return patchEmbed + v.layers * blockFlops(patches + 1, v.width) + 2 * v.width * s.projection;
}

/** FLOPs of one query of `tokens` tokens (with start and end) through the text tower. */
export function textFlops(tokens: number, s: ClipShape = CLIP_B32): number {
  const t = s.text;
  return t.layers * blockFlops(tokens, t.width) + 2 * t.width * s.projection;
}

export function parameterCount(s: ClipShape = CLIP_B32): { vision: number; text: number } {
  const block = (w: number) => 4 * (w * w + w) + 2 * (w * w * MLP_RATIO) + w * MLP_RATIO + w + 4 * w;
  const v = s.vision;
  const grid = v.imageSize / v.patch;
  const vision = v.width * 3 * v.patch * v.patch + v.width + (grid * grid + 1) * v.width + 4 * v.width + v.layers * block(v.width) + v.width * s.projection;
  const t = s.text;
  const text = t.vocab * t.width + t.context * t.width + t.layers * block(t.width) + 2 * t.width + t.width * s.projection;
  return { vision, text };
}

// ---------------------------------------------------------------------------------------------
// Seeded weights

/** mulberry32: small, fast, good enough for weights that only need to be finite and varied. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Weights {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  /** Uniform with standard deviation `std` (CLIP initializes with std 0.02). */
  random(n: number, std: number): Float32Array {
    const a = std * Math.sqrt(3);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.next() * 2 - 1) * a;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Graph building

interface Ctx {
  g: GraphBuilder;
  w: Weights;
  quantized: boolean;
  n: number;
}

const fresh = (c: Ctx, base: string) => `${base}_${c.n++}`;

function init(c: Ctx, base: string, t: Tensor): string {
  return c.g.initializer(fresh(c, base), t);
}

const i64 = (c: Ctx, base: string, values: number[]) => init(c, base, { dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
const f32scalar = (c: Ctx, base: string, v: number) => init(c, base, { dims: [], data: Float32Array.of(v) });

/** Symmetric per-tensor int8. */
function quantize(data: Float32Array): { q: Int8Array; scale: number } {
  let max = 0;
  for (const v of data) max = Math.max(max, Math.abs(v));
  const scale = max / 127 || 1;
  const q = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) q[i] = Math.round(data[i] / scale);
  return { q, scale };
}

/**
 * x·W (+ b), W of shape [k, n]. Quantized: the dynamic int8 pattern of onnxruntime's
 * quantize_dynamic (activations to uint8 per call, weights int8 per tensor), which onnxruntime's
 * optimizer fuses into DynamicQuantizeMatMul.
 */
function linear(c: Ctx, x: string, k: number, n: number, bias: boolean, std = 0.02): string {
  const wData = c.w.random(k * n, std);
  let y: string;
  if (!c.quantized) {
    y = c.g.op('MatMul', [x, init(c, 'w', { dims: [k, n], data: wData })]);
  } else {
    const { q, scale } = quantize(wData);
    const wq = init(c, 'wq', { dims: [k, n], data: q });
    const ws = f32scalar(c, 'w_scale', scale);
    const wzp = init(c, 'w_zp', { dims: [], data: Int8Array.of(0) });
    const xq = fresh(c, 'xq');
    const xs = fresh(c, 'x_scale');
    const xzp = fresh(c, 'x_zp');
    c.g.node('DynamicQuantizeLinear', [x], [xq, xs, xzp]);
    const acc = c.g.op('MatMulInteger', [xq, wq, xzp, wzp]);
    const scales = c.g.op('Mul', [xs, ws]);
    y = c.g.op('Mul', [c.g.op('Cast', [acc], { to: { int: 1 } }), scales]);
  }
  return bias ? c.g.op('Add', [y, init(c, 'b', { dims: [n], data: new Float32Array(n) })]) : y;
}

function layerNorm(c: Ctx, x: string, width: number): string {
  const scale = init(c, 'ln_w', { dims: [width], data: new Float32Array(width).fill(1) });
  const bias = init(c, 'ln_b', { dims: [width], data: new Float32Array(width) });
  return c.g.op('LayerNormalization', [x, scale, bias], { axis: { int: -1 }, epsilon: { float: LN_EPS } });
}

/** One pre-LN residual block: x + attn(ln1(x)), then + mlp(ln2(x)). `bias` is added to the scores. */
function block(c: Ctx, x: string, width: number, heads: number, bias?: string): string {
  const g = c.g;
  const hd = width / heads;
  const h = layerNorm(c, x, width);
  const q = g.op('Mul', [linear(c, h, width, width, true), f32scalar(c, 'scale', 1 / Math.sqrt(hd))]);
  const k = linear(c, h, width, width, true);
  const v = linear(c, h, width, width, true);
  const split = i64(c, 'heads_shape', [0, 0, heads, hd]);
  const qh = g.op('Transpose', [g.op('Reshape', [q, split])], { perm: { ints: [0, 2, 1, 3] } });
  const kt = g.op('Transpose', [g.op('Reshape', [k, split])], { perm: { ints: [0, 2, 3, 1] } });
  const vh = g.op('Transpose', [g.op('Reshape', [v, split])], { perm: { ints: [0, 2, 1, 3] } });
  let scores = g.op('MatMul', [qh, kt]);
  if (bias) scores = g.op('Add', [scores, bias]);
  const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
  const ctx = g.op('Transpose', [g.op('MatMul', [probs, vh])], { perm: { ints: [0, 2, 1, 3] } });
  const merged = g.op('Reshape', [ctx, i64(c, 'merge_shape', [0, 0, width])]);
  const x1 = g.op('Add', [x, linear(c, merged, width, width, true)]);

  const h2 = layerNorm(c, x1, width);
  const up = linear(c, h2, width, width * MLP_RATIO, true);
  // QuickGELU, as in OpenAI's CLIP: x * sigmoid(1.702 x)
  const act = g.op('Mul', [up, g.op('Sigmoid', [g.op('Mul', [up, f32scalar(c, 'gelu', 1.702)])])]);
  return g.op('Add', [x1, linear(c, act, width * MLP_RATIO, width, true)]);
}

export function visionGraph(s: ClipShape, seed: number, quantized: boolean): Uint8Array {
  const v = s.vision;
  const g = new GraphBuilder('clip_b32_bench_vision');
  const c: Ctx = { g, w: new Weights(seed), quantized, n: 0 };
  const grid = v.imageSize / v.patch;
  const tokens = grid * grid + 1;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, v.imageSize, v.imageSize]);
  // Patch embedding: a stride-32 convolution without bias (kept fp32 in the quantized variant,
  // as dynamic quantization does: it is 3% of the FLOPs).
  const convW = init(c, 'patch_w', { dims: [v.width, 3, v.patch, v.patch], data: c.w.random(v.width * 3 * v.patch * v.patch, 0.02) });
  const conv = g.op('Conv', [pixels, convW], { kernel_shape: { ints: [v.patch, v.patch] }, strides: { ints: [v.patch, v.patch] } });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, i64(c, 'flat', [0, v.width, -1])])], { perm: { ints: [0, 2, 1] } });
  // Class token, broadcast to the batch, in front of the patches; then position embeddings.
  const batch = g.op('Shape', [pixels], { start: { int: 0 }, end: { int: 1 } });
  const clsShape = g.op('Concat', [batch, i64(c, 'cls_tail', [1, v.width])], { axis: { int: 0 } });
  const cls = g.op('Expand', [init(c, 'class_embedding', { dims: [1, 1, v.width], data: c.w.random(v.width, 0.02) }), clsShape]);
  let x = g.op('Concat', [cls, patches], { axis: { int: 1 } });
  x = g.op('Add', [x, init(c, 'position_embedding', { dims: [tokens, v.width], data: c.w.random(tokens * v.width, 0.01) })]);
  x = layerNorm(c, x, v.width); // pre-LN
  for (let l = 0; l < v.layers; l++) x = block(c, x, v.width, v.heads);
  const pooled = layerNorm(c, g.op('Gather', [x, init(c, 'cls_index', { dims: [], data: BigInt64Array.of(0n) })], { axis: { int: 1 } }), v.width);
  g.node('MatMul', [pooled, init(c, 'visual_projection', { dims: [v.width, s.projection], data: c.w.random(v.width * s.projection, 0.02) })], ['image_embeds']);
  g.output('image_embeds', 'float32', ['batch', s.projection]);
  return g.toBytes();
}

export function textGraph(s: ClipShape, seed: number, quantized: boolean): Uint8Array {
  const t = s.text;
  const g = new GraphBuilder('clip_b32_bench_text');
  const c: Ctx = { g, w: new Weights(seed), quantized, n: 0 };
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const table = c.w.random(t.vocab * t.width, 0.02);
  let tok: string;
  if (!quantized) {
    tok = g.op('Gather', [init(c, 'token_embedding', { dims: [t.vocab, t.width], data: table }), ids], { axis: { int: 0 } });
  } else {
    // quantize_dynamic's Gather: an 8-bit table, dequantized after the lookup.
    const { q, scale } = quantize(table);
    const gathered = g.op('Gather', [init(c, 'token_embedding_q', { dims: [t.vocab, t.width], data: q }), ids], { axis: { int: 0 } });
    tok = g.op('DequantizeLinear', [gathered, f32scalar(c, 'emb_scale', scale), init(c, 'emb_zp', { dims: [], data: Int8Array.of(0) })]);
  }
  const seq = g.op('Shape', [ids], { start: { int: 1 }, end: { int: 2 } });
  const zero = i64(c, 'zero', [0]);
  const pos = g.op('Slice', [init(c, 'position_embedding', { dims: [t.context, t.width], data: c.w.random(t.context * t.width, 0.01) }), zero, seq, zero]);
  let x = g.op('Add', [tok, pos]);

  // Causal mask (row i sees columns <= i) cut to the sequence, plus the padding mask.
  const causal = new Float32Array(t.context * t.context);
  for (let i = 0; i < t.context; i++) for (let j = i + 1; j < t.context; j++) causal[i * t.context + j] = MASKED;
  const seq2 = g.op('Concat', [seq, seq], { axis: { int: 0 } });
  const causalCut = g.op('Slice', [init(c, 'causal_mask', { dims: [1, 1, t.context, t.context], data: causal }), i64(c, 'starts', [0, 0]), seq2, i64(c, 'axes', [2, 3])]);
  const maskF = g.op('Cast', [mask], { to: { int: 1 } });
  const padBias = g.op('Mul', [g.op('Sub', [f32scalar(c, 'one', 1), maskF]), f32scalar(c, 'masked', MASKED)]);
  const bias = g.op('Add', [causalCut, g.op('Unsqueeze', [padBias, i64(c, 'mask_axes', [1, 2])])]);

  for (let l = 0; l < t.layers; l++) x = block(c, x, t.width, t.heads, bias);
  x = layerNorm(c, x, t.width);
  // Pool at the end-of-text token, the highest id (argmax over the ids, as CLIP does).
  const eot = g.op('ArgMax', [g.op('Cast', [ids], { to: { int: 6 } })], { axis: { int: -1 }, keepdims: { int: 1 } });
  const pooled = g.op('GatherND', [x, eot], { batch_dims: { int: 1 } });
  g.node('MatMul', [pooled, init(c, 'text_projection', { dims: [t.width, s.projection], data: c.w.random(t.width * s.projection, 0.02) })], ['text_embeds']);
  g.output('text_embeds', 'float32', ['batch', s.projection]);
  return g.toBytes();
}

/**
 * A model with CLIP's interface and vector size but almost no compute (mean colour through a
 * random 3→512 projection): for long runs that measure memory, not speed.
 */
function liteVisionGraph(s: ClipShape, seed: number): Uint8Array {
  const g = new GraphBuilder('clip_lite_vision');
  const c: Ctx = { g, w: new Weights(seed), quantized: false, n: 0 };
  const size = s.vision.imageSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, size, size]);
  const mean = g.op('ReduceMean', [pixels], { axes: { ints: [2, 3] }, keepdims: { int: 0 } });
  g.node('MatMul', [mean, init(c, 'proj', { dims: [3, s.projection], data: c.w.random(3 * s.projection, 1) })], ['image_embeds']);
  g.output('image_embeds', 'float32', ['batch', s.projection]);
  return g.toBytes();
}

function liteTextGraph(s: ClipShape, seed: number): Uint8Array {
  const g = new GraphBuilder('clip_lite_text');
  const c: Ctx = { g, w: new Weights(seed), quantized: false, n: 0 };
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const tok = g.op('Gather', [init(c, 'emb', { dims: [s.text.vocab, s.projection], data: c.w.random(s.text.vocab * s.projection, 1) }), ids], { axis: { int: 0 } });
  g.node('ReduceSum', [tok, i64(c, 'axis', [1])], ['text_embeds'], { keepdims: { int: 0 } });
  g.output('text_embeds', 'float32', ['batch', s.projection]);
  return g.toBytes();
}

export interface BenchModelOptions {
  /** also write onnx/*_quantized.onnx (default true) */
  quantized?: boolean;
  /** 'b32': real cost (default); 'lite': same interface and vector size, almost free */
  kind?: 'b32' | 'lite';
  seed?: number;
  log?: (msg: string) => void;
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

/**
 * Writes the model folder at `dir` (transformers.js layout) unless a folder made by the same
 * build is already there. Assembled in a temporary sibling and renamed into place.
 */
export async function ensureBenchModel(dir: string, opts: BenchModelOptions = {}): Promise<string> {
  const { quantized = true, kind = 'b32', seed = 1234, log = () => {} } = opts;
  const target = path.resolve(dir);
  const stamp = { version: BUILD_VERSION, kind, seed, quantized, shape: CLIP_B32 };
  try {
    const existing = JSON.parse(await fs.readFile(path.join(target, STAMP_FILE), 'utf8'));
    if (JSON.stringify(existing) === JSON.stringify(stamp)) return target;
  } catch {
    // not built yet
  }
  const s = CLIP_B32;
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.tmp-`));
  try {
    await fs.mkdir(path.join(tmp, 'onnx'));
    const config = {
      _name_or_path: kind === 'b32' ? 'vidsearch-bench-clip-vit-b32-random' : 'vidsearch-bench-clip-lite',
      model_type: 'clip',
      projection_dim: s.projection,
      text_config: { max_position_embeddings: s.text.context, vocab_size: s.text.vocab, hidden_size: s.text.width, num_hidden_layers: s.text.layers, num_attention_heads: s.text.heads },
      vision_config: { image_size: s.vision.imageSize, patch_size: s.vision.patch, hidden_size: s.vision.width, num_hidden_layers: s.vision.layers, num_attention_heads: s.vision.heads },
    };
    const preprocessor = clipPreprocessorConfig(s.vision.imageSize);
    await fs.writeFile(path.join(tmp, 'config.json'), json(config));
    await fs.writeFile(path.join(tmp, 'preprocessor_config.json'), json(preprocessor));
    await fs.writeFile(path.join(tmp, 'tokenizer_config.json'), json(CLIP_TOKENIZER_CONFIG));
    await fs.copyFile(CLIP_TOKENIZER_JSON, path.join(tmp, 'tokenizer.json'));
    // One graph at a time: each is hundreds of MB.
    const graphs: Array<[string, () => Uint8Array]> =
      kind === 'lite'
        ? [
            ['vision_model', () => liteVisionGraph(s, seed)],
            ['text_model', () => liteTextGraph(s, seed + 1)],
          ]
        : [
            ['vision_model', () => visionGraph(s, seed, false)],
            ['text_model', () => textGraph(s, seed + 1, false)],
            ...(quantized
              ? ([
                  ['vision_model_quantized', () => visionGraph(s, seed, true)],
                  ['text_model_quantized', () => textGraph(s, seed + 1, true)],
                ] as Array<[string, () => Uint8Array]>)
              : []),
          ];
    for (const [name, build] of graphs) {
      const started = Date.now();
      const bytes = build();
      await fs.writeFile(path.join(tmp, 'onnx', `${name}.onnx`), bytes);
      log(`wrote ${name}.onnx (${(bytes.length / 1e6).toFixed(0)} MB, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
    await fs.writeFile(path.join(tmp, STAMP_FILE), json(stamp));
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return target;
}
