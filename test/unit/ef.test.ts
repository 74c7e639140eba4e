// The HNSW search breadth rule (core/ef.ts): never below k, grows past 100,000 vectors, capped at pgvector's limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASE_EF, MAX_EF, efFor } from '../../indexer/core/ef';

test('efFor follows the index size, never below k, never above pgvector\'s limit', () => {
  assert.equal(efFor(0, 10), BASE_EF);
  assert.equal(efFor(100_000, 10), BASE_EF);
  assert.equal(efFor(1_000_000, 10), Math.round(BASE_EF * Math.sqrt(10)));
  assert.ok(efFor(1_000_000, 10) > efFor(400_000, 10));
  assert.equal(efFor(50, 800), 800);
  assert.equal(efFor(100_000_000, 10), MAX_EF);
  assert.equal(efFor(10, 5000), MAX_EF);
});
