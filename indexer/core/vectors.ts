// Plain vector maths on Float32Array; vectors are stored as little-endian float32 blobs (vectorFrom
// reads one back from a database row, checked).
import { DataError } from './errors';

export function l2normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  const out = new Float32Array(v.length);
  // A zero vector stays zero instead of becoming NaN: it then matches nothing.
  if (norm > 1e-12) for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function toBytes(v: Float32Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength) as ArrayBuffer);
}

export function fromBytes(b: Uint8Array): Float32Array {
  // Copy: database buffers are not guaranteed to be 4-byte aligned.
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}

/** A float32 vector from a database blob, checked against the index's dimension. */
export function vectorFrom(bytes: Uint8Array | null | undefined, dim: number | undefined, at: { table: string; row: number | string; column?: string }): Float32Array {
  const n = bytes instanceof Uint8Array ? bytes.byteLength : -1;
  if (n < 0 || n % 4 !== 0 || (dim !== undefined && n !== dim * 4)) {
    const column = at.column ?? 'vector';
    throw new DataError(
      `the database row ${at.table} ${at.row} has a damaged ${column}: ${n < 0 ? 'not bytes' : `${n} bytes`}, expected ${dim !== undefined ? dim * 4 : 'a multiple of 4'} ` +
        `(${dim ?? '?'} float32); run \`vidsearch doctor --repair\` (it marks the video for re-indexing), then \`vidsearch index <folder>\``,
      { cause: { table: at.table, row: at.row, column, bytes: n, expected: dim !== undefined ? dim * 4 : undefined } },
    );
  }
  return fromBytes(bytes as Uint8Array);
}

/**
 * The `k` rows of a row-major matrix nearest `query` by inner product, best first; equal scores in
 * row order. One pass with a sorted top-k buffer: no per-row allocation (an exact search over the
 * whole library, where no ANN index is at hand).
 */
export function nearestRows(matrix: Float32Array, dim: number, query: Float32Array, k: number): Array<{ row: number; score: number }> {
  const n = Math.floor(matrix.length / dim);
  const m = Math.min(k, n);
  if (m <= 0) return [];
  const best = new Float64Array(m).fill(-Infinity);
  const rows = new Int32Array(m).fill(-1);
  for (let r = 0, o = 0; r < n; r++, o += dim) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += matrix[o + i] * query[i];
    if (!(s > best[m - 1]) && rows[m - 1] !== -1) continue;
    let j = m - 1;
    while (j > 0 && (best[j - 1] < s || rows[j - 1] === -1)) {
      best[j] = best[j - 1];
      rows[j] = rows[j - 1];
      j--;
    }
    best[j] = s;
    rows[j] = r;
  }
  return Array.from(rows, (row, i) => ({ row, score: best[i] }));
}
