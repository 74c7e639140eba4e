// A segment's frame vectors packed into one blob (Segment.pack) for query-adaptive re-ranking:
// the search path reads one row per candidate segment instead of one per frame, a quarter of the
// bytes, and scores without a second pass over the vectors. Derived data: the Frame rows stay the
// truth, and a segment without a pack (an index made before packs) is re-ranked from them.
//
// Layout, little-endian (version 1):
//   u8 version, u8 flags (bit 0: Gram matrix present), u16 T (frames), u32 D (dimension)
//   f32 times[T]           frame times, seconds
//   f32 scales[T]          frame i ≈ scales[i] · codes[i]
//   f32 gram[T·T]          frame_i · frame_j of the exact (unit) vectors, when T ≤ GRAM_MAX_FRAMES
//   i8  codes[T·D]         symmetric int8 quantization, per frame
// With the Gram matrix, |Σ w_i f_i|² = wᵀ G w, so a score needs only the T query-frame dot products.

const HEADER = 8;
const VERSION = 1;
/** Above this many frames the T² Gram matrix is left out and norms come from the codes. */
export const GRAM_MAX_FRAMES = 64;

export interface PackedFrames {
  frames: number;
  dim: number;
  times: Float32Array;
  scales: Float32Array;
  gram: Float32Array | undefined;
  codes: Int8Array;
}

export function packFrames(frames: Array<{ time: number; vector: Float32Array }>): Uint8Array<ArrayBuffer> {
  const t = frames.length;
  const d = t ? frames[0].vector.length : 0;
  if (t > 0xffff) throw new Error(`cannot pack ${t} frames in one segment`);
  const withGram = t <= GRAM_MAX_FRAMES;
  const bytes = HEADER + 8 * t + (withGram ? 4 * t * t : 0) + t * d;
  const buf = new ArrayBuffer(bytes);
  const view = new DataView(buf);
  view.setUint8(0, VERSION);
  view.setUint8(1, withGram ? 1 : 0);
  view.setUint16(2, t, true);
  view.setUint32(4, d, true);
  const times = new Float32Array(buf, HEADER, t);
  const scales = new Float32Array(buf, HEADER + 4 * t, t);
  const codesAt = HEADER + 8 * t + (withGram ? 4 * t * t : 0);
  const codes = new Int8Array(buf, codesAt, t * d);
  frames.forEach((f, i) => {
    times[i] = f.time;
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(f.vector[k]));
    const scale = max > 0 ? max / 127 : 1;
    scales[i] = scale;
    for (let k = 0; k < d; k++) codes[i * d + k] = Math.round(f.vector[k] / scale);
  });
  if (withGram) {
    const gram = new Float32Array(buf, HEADER + 8 * t, t * t);
    for (let i = 0; i < t; i++) {
      for (let j = i; j < t; j++) {
        let s = 0;
        const a = frames[i].vector;
        const b = frames[j].vector;
        for (let k = 0; k < d; k++) s += a[k] * b[k];
        gram[i * t + j] = s;
        gram[j * t + i] = s;
      }
    }
  }
  return new Uint8Array(buf);
}

/** Packs per segment index, from a video's frames (as saveIndexed receives them). */
export function packSegments(frames: Array<{ time: number; segmentIdx: number; vector: Float32Array }>): Map<number, Uint8Array<ArrayBuffer>> {
  const groups = new Map<number, Array<{ time: number; vector: Float32Array }>>();
  for (const f of frames) {
    const list = groups.get(f.segmentIdx);
    if (list) list.push(f);
    else groups.set(f.segmentIdx, [f]);
  }
  return new Map([...groups].map(([idx, list]) => [idx, packFrames(list)]));
}

export function readPack(bytes: Uint8Array): PackedFrames {
  // Views need 4-byte alignment; database buffers usually have it, copy when not.
  const b = bytes.byteOffset % 4 === 0 ? bytes : Uint8Array.from(bytes);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (view.getUint8(0) !== VERSION) throw new Error(`unknown frame pack version ${view.getUint8(0)}`);
  const withGram = (view.getUint8(1) & 1) === 1;
  const t = view.getUint16(2, true);
  const d = view.getUint32(4, true);
  const at = b.byteOffset;
  const codesAt = HEADER + 8 * t + (withGram ? 4 * t * t : 0);
  if (b.byteLength !== codesAt + t * d) throw new Error('frame pack has the wrong length');
  return {
    frames: t,
    dim: d,
    times: new Float32Array(b.buffer, at + HEADER, t),
    scales: new Float32Array(b.buffer, at + HEADER + 4 * t, t),
    gram: withGram ? new Float32Array(b.buffer, at + HEADER + 8 * t, t * t) : undefined,
    codes: new Int8Array(b.buffer, at + codesAt, t * d),
  };
}

/** The frames back as vectors (approximately: int8), e.g. to find the best moment. */
export function unpackFrames(p: PackedFrames): Array<{ time: number; vector: Float32Array }> {
  return Array.from({ length: p.frames }, (_, i) => {
    const v = new Float32Array(p.dim);
    const s = p.scales[i];
    for (let k = 0; k < p.dim; k++) v[k] = s * p.codes[i * p.dim + k];
    return { time: p.times[i], vector: v };
  });
}

/** q·f_i for every frame of a pack (from the int8 codes), and the largest. */
function packSims(query: Float32Array, p: PackedFrames): { sims: Float64Array; max: number; argmax: number } {
  const t = p.frames;
  const d = p.dim;
  const sims = new Float64Array(t);
  let max = -Infinity;
  let argmax = -1;
  const codes = p.codes;
  for (let i = 0; i < t; i++) {
    const o = i * d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let k = 0;
    for (; k + 3 < d; k += 4) {
      s0 += query[k] * codes[o + k];
      s1 += query[k + 1] * codes[o + k + 1];
      s2 += query[k + 2] * codes[o + k + 2];
      s3 += query[k + 3] * codes[o + k + 3];
    }
    for (; k < d; k++) s0 += query[k] * codes[o + k];
    const s = (s0 + s1 + s2 + s3) * p.scales[i];
    sims[i] = s;
    if (s > max) {
      max = s;
      argmax = i;
    }
  }
  return { sims, max, argmax };
}

/** The frame most similar to the query: the best moment inside a segment. */
export function packBestFrame(query: Float32Array, p: PackedFrames): { time: number; score: number } | undefined {
  if (p.frames === 0) return undefined;
  const { max, argmax } = packSims(query, p);
  return { time: p.times[argmax], score: max };
}

/** queryAdaptiveScore (rerank.ts) on a pack: cos(q, Σ softmax(q·f_i / τ) f_i). */
export function packScore(query: Float32Array, p: PackedFrames, temperature: number): number {
  return packRescore(query, p, temperature).score;
}

/** packScore, and the time of the frame most similar to the query (the best moment), in one pass. */
export function packRescore(query: Float32Array, p: PackedFrames, temperature: number): { score: number; bestTime: number | undefined } {
  const t = p.frames;
  const d = p.dim;
  if (t === 0) return { score: -Infinity, bestTime: undefined };
  const codes = p.codes;
  const { sims, max, argmax } = packSims(query, p);
  const bestTime = p.times[argmax];
  if (t === 1) return { score: sims[0], bestTime };
  const w = new Float64Array(t);
  let num = 0;
  for (let i = 0; i < t; i++) {
    w[i] = Math.exp((sims[i] - max) / temperature);
    num += w[i] * sims[i];
  }
  let norm2 = 0;
  if (p.gram) {
    const g = p.gram;
    for (let i = 0; i < t; i++) {
      if (w[i] < 1e-12) continue;
      let row = 0;
      for (let j = 0; j < t; j++) row += g[i * t + j] * w[j];
      norm2 += w[i] * row;
    }
  } else {
    const v = new Float64Array(d);
    for (let i = 0; i < t; i++) {
      const c = w[i] * p.scales[i];
      if (w[i] < 1e-12) continue;
      for (let k = 0; k < d; k++) v[k] += c * codes[i * d + k];
    }
    for (let k = 0; k < d; k++) norm2 += v[k] * v[k];
  }
  return { score: norm2 > 1e-24 ? num / Math.sqrt(norm2) : 0, bestTime };
}
