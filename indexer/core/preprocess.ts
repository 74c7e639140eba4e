// Image preprocessing after ffmpeg has already resized (bicubic, shortest side) and centre-cropped:
// what is left is CLIP's per-channel normalization into a planar float tensor.
import type { RawFrame } from './types';

export interface ImageSpec {
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** Frames (RGB24, size×size) → f32[B,3,size,size] of (c/255 - mean)/std. */
export function normalizeFrames(frames: RawFrame[], spec: ImageSpec): Float32Array {
  const plane = spec.size * spec.size;
  const out = new Float32Array(frames.length * 3 * plane);
  // Per-channel lookup tables: 256 values each, so the hot loop is a table read per byte.
  const lut = [0, 1, 2].map((c) => {
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - spec.mean[c]) / spec.std[c];
    return t;
  });
  const [r, g, b] = lut;
  frames.forEach((frame, n) => {
    if (frame.width !== spec.size || frame.height !== spec.size || frame.rgb.length !== plane * 3) {
      throw new Error(`frame ${frame.index} is ${frame.width}x${frame.height}, the model expects ${spec.size}x${spec.size}`);
    }
    const base = n * 3 * plane;
    const src = frame.rgb;
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      out[base + i] = r[src[j]];
      out[base + plane + i] = g[src[j + 1]];
      out[base + 2 * plane + i] = b[src[j + 2]];
    }
  });
  return out;
}
