// The project's test model: a CLIP-shaped ONNX pair in the model-folder layout (DESIGN.md, "Model
// folder") whose weights are designed rather than trained, so that search answers are known in
// advance: an image's vector is its mean colour, a colour word's vector is that colour.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { CLIP_IMAGE_MEAN, CLIP_IMAGE_STD, CLIP_TOKENIZER_CONFIG, CLIP_TOKENIZER_JSON, clipPreprocessorConfig } from './clip-files';
import { GraphBuilder } from '../io/onnx/onnx-writer';

export const TEST_DIM = 8;

// "cyan" is left out: CLIP's BPE splits it into "cy" + "an", and a two-token word would make its
// vector the sum of two unrelated rows.
export const TEST_COLORS: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  magenta: [255, 0, 255],
  white: [255, 255, 255],
  black: [0, 0, 0],
  orange: [255, 128, 0],
  purple: [128, 0, 255],
};

const VOCAB_SIZE = 49408;
const START_OF_TEXT = 49406;
const END_OF_TEXT = 49407;
const CONTEXT = 77;
const PATCH_SIZE = 32;
// Not 1, so that image vectors are not unit length and callers must normalize as with real CLIP.
const IMAGE_SCALE = 2;
// Every non-colour token points along a dimension no image can reach: such words score 0 against
// every frame, and add only a little off-axis length to a sentence that names a colour.
const NEUTRAL_DIM = 3;
const NEUTRAL_WEIGHT = 0.1;



export interface BuildOptions {
  /** Whether the text graph declares attention_mask (real exports differ on this). Default true. */
  attentionMask?: boolean;
  /** Input height and width of the vision graph. Default 224. */
  imageSize?: number;
  /** Also write the _quantized and _fp16 file names, as copies of the same graphs. Default true. */
  variants?: boolean;
}

/** The designed embedding of a colour (not unit length). */
export function colorVector(rgb: [number, number, number]): Float32Array {
  const v = new Float32Array(TEST_DIM);
  for (let c = 0; c < 3; c++) v[c] = rgb[c] / 255 - 0.5;
  return v;
}

/** Token id of each colour word; throws when a word is not one token, which the design relies on. */
function colorTokenIds(tokenizerJson: unknown): Map<string, number> {
  const tokenizer = new Tokenizer(tokenizerJson as object, CLIP_TOKENIZER_CONFIG);
  const ids = new Map<string, number>();
  for (const word of Object.keys(TEST_COLORS)) {
    const enc = tokenizer.encode(word).ids;
    if (enc.length !== 3 || enc[0] !== START_OF_TEXT || enc[2] !== END_OF_TEXT) {
      throw new Error(`test colour "${word}" is not a single CLIP token: [${enc.join(', ')}]`);
    }
    ids.set(word, enc[1]);
  }
  return ids;
}

function visionModel(imageSize: number): Uint8Array {
  const g = new GraphBuilder('vidsearch_test_vision');
  const pixels = g.input('pixel_values', 'float32', ['batch', 3, imageSize, imageSize]);
  const std = g.initializer('image_std', { dims: [3], data: Float32Array.from(CLIP_IMAGE_STD) });
  const mean = g.initializer('image_mean', { dims: [3], data: Float32Array.from(CLIP_IMAGE_MEAN) });
  const half = g.initializer('half', { dims: [], data: Float32Array.of(0.5) });
  const projection = new Float32Array(3 * TEST_DIM);
  for (let c = 0; c < 3; c++) projection[c * TEST_DIM + c] = IMAGE_SCALE;
  const proj = g.initializer('projection', { dims: [3, TEST_DIM], data: projection });

  // Opset 17's ReduceMean still takes its axes as an attribute (an input only from opset 18).
  const normalizedMean = g.op('ReduceMean', [pixels], { axes: { ints: [2, 3] }, keepdims: { int: 0 } });
  const colour = g.op('Add', [g.op('Mul', [normalizedMean, std]), mean]);
  g.node('MatMul', [g.op('Sub', [colour, half]), proj], ['image_embeds']);
  g.output('image_embeds', 'float32', ['batch', TEST_DIM]);
  return g.toBytes();
}

function textModel(colorIds: Map<string, number>, attentionMask: boolean): Uint8Array {
  const table = new Float32Array(VOCAB_SIZE * TEST_DIM);
  for (let t = 0; t < VOCAB_SIZE; t++) table[t * TEST_DIM + NEUTRAL_DIM] = NEUTRAL_WEIGHT;
  // Zero rows for the special tokens make padding with end-of-text harmless even without a mask.
  table.fill(0, START_OF_TEXT * TEST_DIM, (END_OF_TEXT + 1) * TEST_DIM);
  for (const [word, id] of colorIds) table.set(colorVector(TEST_COLORS[word]), id * TEST_DIM);

  const g = new GraphBuilder('vidsearch_test_text');
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const embeddings = g.initializer('token_embedding', { dims: [VOCAB_SIZE, TEST_DIM], data: table });
  // From opset 13, ReduceSum and Unsqueeze take their axes as an int64 input, not an attribute.
  const seqAxis = g.initializer('sequence_axis', { dims: [1], data: BigInt64Array.of(1n) });
  let tokens = g.op('Gather', [embeddings, ids], { axis: { int: 0 } });
  if (attentionMask) {
    const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
    const lastAxis = g.initializer('last_axis', { dims: [1], data: BigInt64Array.of(-1n) });
    const weights = g.op('Unsqueeze', [g.op('Cast', [mask], { to: { int: 1 } }), lastAxis]);
    tokens = g.op('Mul', [tokens, weights]);
  }
  g.node('ReduceSum', [tokens, seqAxis], ['text_embeds'], { keepdims: { int: 0 } });
  g.output('text_embeds', 'float32', ['batch', TEST_DIM]);
  return g.toBytes();
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/**
 * Writes the whole model folder at `dir`. It is assembled in a sibling temporary folder and
 * renamed into place, so a reader never sees a half-written model; an existing folder is replaced.
 */
export async function buildTestModel(dir: string, opts: BuildOptions = {}): Promise<void> {
  const { attentionMask = true, imageSize = 224, variants = true } = opts;
  const tokenizerBytes = await fs.readFile(CLIP_TOKENIZER_JSON);
  const colorIds = colorTokenIds(JSON.parse(tokenizerBytes.toString('utf8')));

  const target = path.resolve(dir);
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.tmp-`));
  try {
    await fs.mkdir(path.join(tmp, 'onnx'));
    const config = {
      _name_or_path: 'vidsearch-test-clip',
      model_type: 'clip',
      projection_dim: TEST_DIM,
      text_config: { max_position_embeddings: CONTEXT, vocab_size: VOCAB_SIZE },
      vision_config: { image_size: imageSize, patch_size: PATCH_SIZE },
    };
    const preprocessor = clipPreprocessorConfig(imageSize);
    const graphs: Record<string, Uint8Array> = {
      vision_model: visionModel(imageSize),
      text_model: textModel(colorIds, attentionMask),
    };
    const suffixes = variants ? ['', '_quantized', '_fp16'] : [''];
    await Promise.all([
      fs.writeFile(path.join(tmp, 'config.json'), json(config)),
      fs.writeFile(path.join(tmp, 'preprocessor_config.json'), json(preprocessor)),
      fs.writeFile(path.join(tmp, 'tokenizer.json'), tokenizerBytes),
      fs.writeFile(path.join(tmp, 'tokenizer_config.json'), json(CLIP_TOKENIZER_CONFIG)),
      ...Object.entries(graphs).flatMap(([name, bytes]) =>
        suffixes.map((s) => fs.writeFile(path.join(tmp, 'onnx', `${name}${s}.onnx`), bytes)),
      ),
    ]);
    await replaceDir(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

// rename() replaces only an empty directory, so a previous model is moved aside first.
async function replaceDir(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  const old = `${from}.old`;
  await fs.rename(to, old);
  await fs.rename(from, to);
  await fs.rm(old, { recursive: true, force: true });
}
