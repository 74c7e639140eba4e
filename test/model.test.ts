// Model loading, tokenization and preprocessing against the contracts in DESIGN.md.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { ModelError } from '../indexer/core/errors';
import { loadModel } from '../indexer/io/onnx/model';
import { normalizeFrames } from '../indexer/core/preprocess';
import { TextTokenizer } from '../indexer/io/onnx/tokenizer';
import { preparedBpeTable, readBpeTable } from '../indexer/io/onnx/bpe-table';
import { TEST_COLORS, colorVector } from '../indexer/testkit/build';
import { GraphBuilder } from '../indexer/io/onnx/onnx-writer';
import { l2normalize, dot } from '../indexer/core/vectors';
import { FIXTURES, tempDir, testModel } from './helpers';
import { CLIP_TOKENIZER_CONFIG, CLIP_TOKENIZER_JSON } from '../indexer/testkit/clip-files';

const MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

const load = (model: string, variant: 'fp32' | 'quantized' | 'fp16' = 'fp32') => loadModel({ model, modelsDir: '/nonexistent', variant, threads: 1 });

function copyModel(src: string): string {
  const dst = path.join(tempDir('vidsearch-model-copy-'), 'm');
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

// CLIP's tokenizer as the project ships it (the test model's copy); the reference ids are those of
// OpenAI's own tokenizer, copied into test/fixtures so a fresh clone needs nothing beside it.
function solidFrame(size: number, color: [number, number, number]) {
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) rgb.set(color, i * 3);
  return { index: 0, time: 0, rgb, width: size, height: size };
}

function clipTokenizer(): TextTokenizer {
  return new TextTokenizer(JSON.parse(fs.readFileSync(CLIP_TOKENIZER_JSON, 'utf8')), CLIP_TOKENIZER_CONFIG, 77);
}

test('the tokenizer reproduces every reference row of CLIP token ids', () => {
  const tok = clipTokenizer();
  const rows: Array<{ text: string; ids: number[] }> = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'clip', 'reference-ids.json'), 'utf8'));
  assert.ok(rows.length >= 400);
  const wrong = rows.filter((r) => JSON.stringify(tok.encode(r.text)) !== JSON.stringify(r.ids));
  assert.deepEqual(wrong.map((r) => r.text), []);
});

// The prepared table (bpe-table.ts, core/clip-bpe.ts) a CLI search tokenizes with: the same ids
// as the reference and as the library, whatever the text.
function preparedTokenizer(): { tok: TextTokenizer; dir: string } {
  const dir = tempDir('vidsearch-bpe-');
  const json = () => JSON.parse(fs.readFileSync(CLIP_TOKENIZER_JSON, 'utf8'));
  const prepared = preparedBpeTable(fileURLToPath(CLIP_TOKENIZER_JSON), 'f'.repeat(64), CLIP_TOKENIZER_CONFIG, dir, json);
  assert.ok('table' in prepared, 'CLIP tokenizer.json is recognised as CLIP-shaped');
  return { tok: new TextTokenizer(json, CLIP_TOKENIZER_CONFIG, 77, prepared.table), dir };
}

test('the prepared table reproduces every reference row of CLIP token ids', () => {
  const { tok, dir } = preparedTokenizer();
  assert.ok(fs.existsSync(path.join(dir, `${'f'.repeat(64)}.bpe`)));
  const rows: Array<{ text: string; ids: number[] }> = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'clip', 'reference-ids.json'), 'utf8'));
  const wrong = rows.filter((r) => JSON.stringify(tok.encode(r.text)) !== JSON.stringify(r.ids));
  assert.deepEqual(wrong.map((r) => r.text), []);
  assert.equal(tok.padId, 49407);
  assert.equal(tok.eosId, 49407);
});

test('the prepared table agrees with the library on generated text, special tokens and truncation included', () => {
  const { tok } = preparedTokenizer();
  const lib = clipTokenizer();
  const json = JSON.parse(fs.readFileSync(CLIP_TOKENIZER_JSON, 'utf8'));
  const words = Object.keys(json.model.vocab).map((k) => k.replace('</w>', ''));
  const pieces = [' ', '  ', '\t', '\n', '\u00a0', '\u2003', '\u0085', '\ufeff', '.', ',', "'s", "'LL", '!?', '42', '½', 'Ⅻ', '٣', 'É', 'e\u0301', 'İ', 'ß', 'ﬁ', '日本語', '🎸', '👍🏽', '\ud800', '<', '|', '>', '<|endoftext|>', '<|STARTOFTEXT|>', 'https://x.y/a_b?c=1'];
  let seed = 7;
  const pick = <T>(xs: T[]) => xs[(seed = (seed * 16807) % 2147483647) % xs.length]!;
  const texts = Array.from({ length: 3000 }, (_, i) => Array.from({ length: 1 + (i % 9) }, () => (i % 2 ? pick(words) : pick(pieces)) + (i % 3 ? pick(pieces) : '')).join(''));
  texts.push('red '.repeat(200), '', '   ');
  const differ = texts.filter((t) => JSON.stringify(tok.encode(t)) !== JSON.stringify(lib.encode(t)));
  assert.deepEqual(differ, []);
});

test('a damaged prepared table is made again, not used', () => {
  const { dir } = preparedTokenizer();
  const file = path.join(dir, `${'f'.repeat(64)}.bpe`);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 3] ^= 0xff;
  fs.writeFileSync(file, bytes);
  assert.throws(() => readBpeTable(fs.readFileSync(file)), /checksum/);
  const json = () => JSON.parse(fs.readFileSync(CLIP_TOKENIZER_JSON, 'utf8'));
  const again = preparedBpeTable(fileURLToPath(CLIP_TOKENIZER_JSON), 'f'.repeat(64), CLIP_TOKENIZER_CONFIG, dir, json);
  assert.ok('table' in again);
  assert.doesNotThrow(() => readBpeTable(fs.readFileSync(file)));
  assert.deepEqual(new TextTokenizer(json, CLIP_TOKENIZER_CONFIG, 77, again.table).encode('a photo of a cat'), [49406, 320, 1125, 539, 320, 2368, 49407]);
  // Another pipeline is not CLIP's: no table, the library's JSON is handed back.
  const other = { ...json(), normalizer: null };
  assert.ok('json' in preparedBpeTable('/other/tokenizer.json', 'e'.repeat(64), {}, dir, () => other));
});

test('long text is truncated to the context length and still ends with the end token', () => {
  const tok = clipTokenizer();
  const ids = tok.encode('red '.repeat(200));
  assert.equal(ids.length, 77);
  assert.equal(ids[0], 49406);
  assert.equal(ids[76], 49407);
  // Batches pad to their longest member, not to 77.
  const b = tok.batch(['red', 'a red car']);
  assert.equal(b.length, 5);
  assert.deepEqual(Array.from(b.mask.slice(0, 5), Number), [1, 1, 1, 0, 0]);
  assert.equal(Number(b.ids[3]), tok.padId);
});

test('preprocessing: a solid-colour frame becomes exactly (c/255 - mean)/std per channel', () => {
  const size = 4;
  const color = [200, 17, 90];
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) rgb.set(color, i * 3);
  const out = normalizeFrames([{ index: 0, time: 0, rgb, width: size, height: size }], { size, mean: MEAN, std: STD });
  assert.equal(out.length, 3 * size * size);
  for (let c = 0; c < 3; c++) {
    const expected = Math.fround((color[c] / 255 - MEAN[c]) / STD[c]);
    for (let i = 0; i < size * size; i++) assert.equal(out[c * size * size + i], expected);
  }
  assert.throws(() => normalizeFrames([{ index: 0, time: 0, rgb, width: size, height: size }], { size: 8, mean: MEAN, std: STD }), /expects 8x8/);
});

test('the loaded model gives L2-normalized vectors with the designed answers', async () => {
  const model = await load(await testModel());
  try {
    assert.equal(model.dim, 8);
    assert.equal(model.image.size, 224);
    const [red, dog] = await model.encodeTexts(['red', 'dog']);
    assert.ok(Math.abs(dot(red, red) - 1) < 1e-5);
    assert.ok(Math.abs(dot(red, l2normalize(colorVector(TEST_COLORS.red))) - 1) < 1e-5);
    assert.ok(Math.abs(dot(dog, l2normalize(colorVector(TEST_COLORS.blue)))) < 1e-6);
    const size = 224;
    const rgb = new Uint8Array(size * size * 3);
    for (let i = 0; i < size * size; i++) rgb.set([0, 0, 255], i * 3);
    const frames = Array.from({ length: 20 }, (_, index) => ({ index, time: index, rgb, width: size, height: size }));
    const vecs = await model.encodeImages(frames);
    assert.equal(vecs.length, 20, 'more frames than one batch');
    assert.ok(dot(vecs[19], l2normalize(colorVector(TEST_COLORS.blue))) > 0.9999);
    assert.equal(model.identity.variant, 'fp32');
    assert.match(model.identity.files['onnx/vision_model.onnx'], /^[0-9a-f]{64}$/);
  } finally {
    await model.close();
  }
});

test('variants pick their own files; a text graph without attention_mask is fed input_ids only', async () => {
  const dir = copyModel(await testModel());
  const q = await load(dir, 'quantized');
  assert.equal(q.identity.variant, 'quantized');
  assert.ok('onnx/vision_model_quantized.onnx' in q.identity.files);
  await q.close();
  fs.rmSync(path.join(dir, 'onnx', 'vision_model_fp16.onnx'));
  await assert.rejects(load(dir, 'fp16'), (e: Error) => e instanceof ModelError && /missing onnx\/vision_model_fp16\.onnx/.test(e.message) && /--variant/.test(e.message));
});

test('model errors say what is wrong and how to fix it', async () => {
  await assert.rejects(load('/tmp/definitely/not/a/model'), (e: Error) => e instanceof ModelError && /model not found at \/tmp\/definitely\/not\/a\/model/.test(e.message) && /vidsearch models pull/.test(e.message) && /VIDSEARCH_MODEL/.test(e.message));

  const missing = copyModel(await testModel());
  fs.rmSync(path.join(missing, 'onnx', 'text_model.onnx'));
  fs.rmSync(path.join(missing, 'preprocessor_config.json'));
  await assert.rejects(load(missing), (e: Error) => e instanceof ModelError && /missing preprocessor_config\.json, onnx\/text_model\.onnx/.test(e.message));

  const broken = copyModel(await testModel());
  fs.writeFileSync(path.join(broken, 'onnx', 'vision_model.onnx'), 'not onnx');
  // Each encoder loads when first used: a broken image encoder does not stop text search, and the
  // first image encode says what is wrong.
  const brokenModel = await load(broken);
  assert.equal((await brokenModel.encodeTexts(['red']))[0].length, 8);
  await assert.rejects(brokenModel.encodeImages([solidFrame(224, [255, 0, 0])]), (e: Error) => e instanceof ModelError && /cannot load .*vision_model\.onnx/.test(e.message));
  await brokenModel.close();

  const badJson = copyModel(await testModel());
  fs.writeFileSync(path.join(badJson, 'config.json'), '{ nope');
  await assert.rejects(load(badJson), (e: Error) => e instanceof ModelError && /config\.json is not valid JSON/.test(e.message));

  const noDim = copyModel(await testModel());
  fs.writeFileSync(path.join(noDim, 'config.json'), '{}');
  await assert.rejects(load(noDim), (e: Error) => e instanceof ModelError && /projection_dim/.test(e.message));

  // A graph whose input is named differently from the contract.
  const wrongNames = copyModel(await testModel());
  const g = new GraphBuilder('wrong');
  const x = g.input('pixels', 'float32', ['batch', 3, 224, 224]);
  const m = g.op('ReduceMean', [x], { axes: { ints: [2, 3] }, keepdims: { int: 0 } });
  g.node('Identity', [m], ['image_embeds']);
  g.output('image_embeds', 'float32', ['batch', 3]);
  fs.writeFileSync(path.join(wrongNames, 'onnx', 'vision_model.onnx'), g.toBytes());
  const wrongModel = await load(wrongNames);
  await assert.rejects(wrongModel.encodeImages([solidFrame(224, [255, 0, 0])]), (e: Error) => e instanceof ModelError && /declares inputs \[pixels\]/.test(e.message) && /pixel_values/.test(e.message));
  await wrongModel.close();
});

// The text encoder with its weights beside the graph (onnx-external.ts), mapped instead of copied,
// and loaded lean for a one-query process: the same vectors as the original file gives.
test('a mapped copy of the text encoder, made once and loaded lean, encodes exactly as the original', async () => {
  const model = await testModel();
  const mappedDir = tempDir('vidsearch-mapped-');
  const texts = ['a photo of red', 'blue', 'something else entirely'];
  const plain = await load(model);
  const expected = await plain.encodeTexts(texts);
  await plain.close();
  for (const oneQuery of [false, true]) {
    const m = await loadModel({ model, modelsDir: '/nonexistent', variant: 'fp32', threads: 1, mapped: { dir: mappedDir, minBytes: 0 }, oneQuery });
    const got = await m.encodeTexts(texts);
    await m.close();
    assert.deepEqual(got.map((v) => Array.from(v)), expected.map((v) => Array.from(v)), `oneQuery ${oneQuery}`);
  }
  const copies = fs.readdirSync(mappedDir);
  assert.equal(copies.length, 1, `one copy: ${copies}`);
  const copy = path.join(mappedDir, copies[0]!);
  assert.ok(fs.statSync(path.join(copy, 'model.weights')).size > 0);
  // The graph alone is small: the weights are out of it.
  assert.ok(fs.statSync(path.join(copy, 'model.onnx')).size < fs.statSync(path.join(model, 'onnx', 'text_model.onnx')).size / 2);

  // A damaged copy is dropped and the original loads, with the same answers.
  fs.truncateSync(path.join(copy, 'model.weights'), 16);
  const m = await loadModel({ model, modelsDir: '/nonexistent', variant: 'fp32', threads: 1, mapped: { dir: mappedDir, minBytes: 0 } });
  assert.deepEqual(Array.from((await m.encodeTexts(texts))[0]!), Array.from(expected[0]!));
  await m.close();
  assert.ok(!fs.existsSync(copy), 'the damaged copy is removed');
});

test('no mapped copy where it cannot be written: the original loads', async () => {
  const blocked = path.join(tempDir('vidsearch-mapped-'), 'file');
  fs.writeFileSync(blocked, 'not a folder');
  const m = await loadModel({ model: await testModel(), modelsDir: '/nonexistent', variant: 'fp32', threads: 1, mapped: { dir: blocked, minBytes: 0 }, oneQuery: true });
  assert.equal((await m.encodeTexts(['red'])).length, 1);
  await m.close();
});
