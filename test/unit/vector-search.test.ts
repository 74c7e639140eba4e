// The rules of the PostgreSQL segment search: the HNSW search breadth (core/ef.ts) and the exact scan (core/vectors.ts nearestRows).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE_EF, MAX_EF, efFor } from '../../indexer/core/ef';
import { nearestRows } from '../../indexer/core/vectors';

test('efFor follows the index size, never below k, never above pgvector\'s limit', () => {
  assert.equal(efFor(0, 10), BASE_EF);
  assert.equal(efFor(100_000, 10), BASE_EF);
  assert.equal(efFor(1_000_000, 10), Math.round(BASE_EF * Math.sqrt(10)));
  assert.ok(efFor(1_000_000, 10) > efFor(400_000, 10));
  assert.equal(efFor(50, 800), 800);
  assert.equal(efFor(100_000_000, 10), MAX_EF);
  assert.equal(efFor(10, 5000), MAX_EF);
});

test('nearestRows: the exact top k by inner product, ties in row order', () => {
  const m = Float32Array.from([1, 0, 0, 1, 0.5, 0.5, 1, 0, -1, 0]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(1, 0), 3), [{ row: 0, score: 1 }, { row: 3, score: 1 }, { row: 2, score: 0.5 }]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(0, 1), 10).map((h) => h.row), [1, 2, 0, 3, 4]);
  assert.deepEqual(nearestRows(m, 2, Float32Array.of(0, 1), 0), []);
});
