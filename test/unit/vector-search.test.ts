// The exact scan of the PostgreSQL store without pgvector (core/vectors.ts nearestRows); the HNSW breadth both stores use is test/unit/hnsw.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearestRows } from '../../indexer/core/vectors';

test('nearestRows: the exact top k by inner product, ties in row order', () => {
  const m = Float32Array.from([1, 0, 0, 1, 0.5, 0.5, 1, 0, -1, 0]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(1, 0), 3), [{ row: 0, score: 1 }, { row: 3, score: 1 }, { row: 2, score: 0.5 }]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(0, 1), 10).map((h) => h.row), [1, 2, 0, 3, 4]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(0, 1), 0), []);
});
