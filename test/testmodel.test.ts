import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { GraphBuilder } from '../indexer/io/onnx/onnx-writer';
import { TEST_COLORS, TEST_DIM, buildTestModel, colorVector } from '../indexer/testkit/build';

const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];
const SIZE = 224;
const PAD = 49407;

let root: string;
let withMask: string;
let withoutMask: string;
let tokenizer: Tokenizer;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-testmodel-'));
  withMask = path.join(root, 'mask');
  withoutMask = path.join(root, 'nomask');
  await buildTestModel(withMask);
  await buildTestModel(withoutMask, { attentionMask: false, variants: false });
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(withMask, f), 'utf8'));
  tokenizer = new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

function unit(v: ArrayLike<number>): number[] {
  const n = Math.hypot(...Array.from(v));
  return Array.from(v, (x) => x / n);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ua = unit(a);
  const ub = unit(b);
  return ua.reduce((s, x, i) => s + x * ub[i], 0);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, eps = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= eps, `[${i}] ${actual[i]} vs ${expected[i]}`);
  }
}

function rows(t: ort.Tensor): Float32Array[] {
  const data = t.data as Float32Array;
  const [b, d] = t.dims;
  return Array.from({ length: b }, (_, i) => data.slice(i * d, (i + 1) * d));
}

/** Solid frames, normalized the way the preprocessor config says. */
function solidFrames(colours: [number, number, number][]): ort.Tensor {
  const plane = SIZE * SIZE;
  const data = new Float32Array(colours.length * 3 * plane);
  colours.forEach((rgb, b) => {
    for (let c = 0; c < 3; c++) {
      data.fill((rgb[c] / 255 - MEAN[c]) / STD[c], (b * 3 + c) * plane, (b * 3 + c + 1) * plane);
    }
  });
  return new ort.Tensor('float32', data, [colours.length, 3, SIZE, SIZE]);
}

function int64(rowsOfIds: number[][]): ort.Tensor {
  const len = rowsOfIds[0].length;
  return new ort.Tensor('int64', BigInt64Array.from(rowsOfIds.flat(), BigInt), [rowsOfIds.length, len]);
}

async function embedTexts(dir: string, ids: number[][], mask?: number[][]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'text_model.onnx'));
  const feeds: Record<string, ort.Tensor> = { input_ids: int64(ids) };
  if (session.inputNames.includes('attention_mask')) feeds.attention_mask = int64(mask ?? ids.map((r) => r.map(() => 1)));
  const out = await session.run(feeds);
  await session.release();
  return rows(out.text_embeds);
}

function padded(ids: number[], length: number): { ids: number[]; mask: number[] } {
  const pad = length - ids.length;
  return { ids: [...ids, ...Array(pad).fill(PAD)], mask: [...ids.map(() => 1), ...Array(pad).fill(0)] };
}

test('onnx-writer: a two-input Add graph runs in onnxruntime', async () => {
  const g = new GraphBuilder('add');
  g.input('x', 'float32', ['batch', 3]);
  g.input('y', 'float32', ['batch', 3]);
  const bias = g.initializer('bias', { dims: [3], data: Float32Array.of(10, 20, 30) });
  g.node('Add', [g.op('Add', ['x', 'y']), bias], ['z']);
  g.output('z', 'float32', ['batch', 3]);
  const session = await ort.InferenceSession.create(g.toBytes());
  assert.deepEqual(session.inputNames, ['x', 'y']);
  assert.deepEqual(session.outputNames, ['z']);
  const x = new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
  const y = new ort.Tensor('float32', Float32Array.of(0.5, 0.5, 0.5, 1, 1, 1), [2, 3]);
  const { z } = await session.run({ x, y });
  assert.deepEqual(z.dims, [2, 3]);
  assert.deepEqual(Array.from(z.data as Float32Array), [11.5, 22.5, 33.5, 15, 26, 37]);
});

test('onnx-writer: int, ints, float, floats, string and tensor attributes', async () => {
  const g = new GraphBuilder('attributes');
  g.input('x', 'float32', [2, 3]);
  const xt = g.op('Transpose', ['x'], { perm: { ints: [1, 0] } }); // [3,2]
  const w = g.op('Constant', [], { value: { tensor: { dims: [2, 2], data: Float32Array.of(1, 2, 3, 4) } } });
  const gemm = g.op('Gemm', [xt, w], { alpha: { float: 0.5 }, transB: { int: 1 } }); // xt · wᵀ / 2
  const pads = g.op('Constant', [], { value_ints: { ints: [0, 1, 0, 0] } });
  const wide = g.op('Pad', [gemm, pads], { mode: { string: 'constant' } }); // [3,3], zero column first
  const shift = g.op('Constant', [], { value_floats: { floats: [100, 200, 300] } });
  g.node('Add', [wide, shift], ['y']);
  g.output('y', 'float32', [3, 3]);
  const session = await ort.InferenceSession.create(g.toBytes());
  const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), [2, 3]) });
  // xt = [[1,4],[2,5],[3,6]]; rows of xt·wᵀ/2: [4.5,9.5], [6,13], [7.5,16.5]
  assert.deepEqual(Array.from(y.data as Float32Array), [100, 204.5, 309.5, 100, 206, 313, 100, 207.5, 316.5]);
});

test('model folder: files and config', () => {
  const config = JSON.parse(fs.readFileSync(path.join(withMask, 'config.json'), 'utf8'));
  assert.equal(config.projection_dim, TEST_DIM);
  assert.equal(config.text_config.max_position_embeddings, 77);
  assert.equal(config.vision_config.image_size, SIZE);
  const pre = JSON.parse(fs.readFileSync(path.join(withMask, 'preprocessor_config.json'), 'utf8'));
  assert.deepEqual(pre.image_mean, MEAN);
  assert.deepEqual(pre.image_std, STD);
  assert.deepEqual(pre.crop_size, { height: SIZE, width: SIZE });
  assert.deepEqual(
    fs.readFileSync(path.join(withMask, 'tokenizer.json')),
    fs.readFileSync(new URL('../indexer/testkit/clip-tokenizer.json', import.meta.url)),
  );
  assert.deepEqual(fs.readdirSync(path.join(withMask, 'onnx')).sort(), [
    'text_model.onnx', 'text_model_fp16.onnx', 'text_model_quantized.onnx',
    'vision_model.onnx', 'vision_model_fp16.onnx', 'vision_model_quantized.onnx',
  ]);
  assert.deepEqual(fs.readdirSync(path.join(withoutMask, 'onnx')).sort(), ['text_model.onnx', 'vision_model.onnx']);
  assert.deepEqual(fs.readdirSync(root).sort(), ['mask', 'nomask'], 'no temporary folders left behind');
});

test('rebuilding replaces an existing model folder', async () => {
  await buildTestModel(withoutMask, { attentionMask: false, variants: false, imageSize: 64 });
  const config = JSON.parse(fs.readFileSync(path.join(withoutMask, 'config.json'), 'utf8'));
  assert.equal(config.vision_config.image_size, 64);
  await buildTestModel(withoutMask, { attentionMask: false, variants: false });
  assert.deepEqual(fs.readdirSync(root).sort(), ['mask', 'nomask']);
});

test('graph inputs and outputs', async () => {
  const names = async (dir: string, file: string) => {
    const s = await ort.InferenceSession.create(path.join(dir, 'onnx', file));
    const r = { inputs: s.inputNames, outputs: s.outputNames };
    await s.release();
    return r;
  };
  assert.deepEqual(await names(withMask, 'vision_model.onnx'), { inputs: ['pixel_values'], outputs: ['image_embeds'] });
  assert.deepEqual(await names(withMask, 'text_model.onnx'), { inputs: ['input_ids', 'attention_mask'], outputs: ['text_embeds'] });
  assert.deepEqual(await names(withoutMask, 'text_model.onnx'), { inputs: ['input_ids'], outputs: ['text_embeds'] });
  assert.deepEqual(await names(withMask, 'text_model_quantized.onnx'), { inputs: ['input_ids', 'attention_mask'], outputs: ['text_embeds'] });
});

test('vision: a solid frame embeds as twice its colour vector; batches work', async () => {
  const session = await ort.InferenceSession.create(path.join(withMask, 'onnx', 'vision_model.onnx'));
  const { red, green, blue } = TEST_COLORS;
  const out = rows((await session.run({ pixel_values: solidFrames([red, green, blue]) })).image_embeds);
  await session.release();
  assert.equal(out.length, 3);
  // A float32 mean over 50,176 pixels is good to about 1e-5 of its value.
  assertClose(out[0], [1, -1, -1, 0, 0, 0, 0, 0], 1e-4);
  assertClose(out[1], [-1, 1, -1, 0, 0, 0, 0, 0], 1e-4);
  assertClose(out[2], [-1, -1, 1, 0, 0, 0, 0, 0], 1e-4);
  assert.ok(cosine(out[0], colorVector(red)) > 0.9999);
  assert.ok(cosine(out[0], colorVector(green)) < 0.5);
  assert.ok(cosine(out[0], colorVector(blue)) < 0.5);
});

test('text: a colour word embeds as its colour; other words are orthogonal to every colour', async () => {
  const words = ['red', 'dog'];
  const [red, dog] = await embedTexts(withMask, words.map((w) => tokenizer.encode(w).ids));
  assertClose(red, colorVector(TEST_COLORS.red));
  assertClose(dog, [0, 0, 0, 0.1, 0, 0, 0, 0]);
  for (const rgb of Object.values(TEST_COLORS)) assert.ok(Math.abs(cosine(dog, colorVector(rgb))) < 1e-6);
  const [redCar] = await embedTexts(withMask, [tokenizer.encode('a red car').ids]);
  assert.ok(cosine(redCar, colorVector(TEST_COLORS.red)) > 0.95);
});

test('text: padding with end-of-text to 77 changes nothing, with or without a mask', async () => {
  const ids = tokenizer.encode('a blue car').ids;
  const long = padded(ids, 77);
  for (const dir of [withMask, withoutMask]) {
    const [short] = await embedTexts(dir, [ids]);
    const [full] = await embedTexts(dir, [long.ids], [long.mask]);
    assertClose(full, short, 1e-6);
  }
});

test('text: a padded batch of 3 gives each row its own vector', async () => {
  const texts = ['red', 'a green bird', 'dog'];
  const encoded = texts.map((t) => tokenizer.encode(t).ids);
  const longest = Math.max(...encoded.map((e) => e.length));
  const batch = encoded.map((e) => padded(e, longest));
  const together = await embedTexts(withMask, batch.map((b) => b.ids), batch.map((b) => b.mask));
  assert.equal(together.length, 3);
  for (let i = 0; i < texts.length; i++) {
    const [alone] = await embedTexts(withMask, [encoded[i]]);
    assertClose(together[i], alone, 1e-6);
  }
  assert.ok(cosine(together[1], colorVector(TEST_COLORS.green)) > 0.95);
});
