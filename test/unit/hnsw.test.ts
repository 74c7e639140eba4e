// The HNSW search breadth rule (core/hnsw.ts): what the searcher gets at each index size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_EF, searchEf } from '../../indexer/core/hnsw';

test('ef is never below k or the least breadth, and grows with the index as its square root', () => {
  assert.equal(searchEf(0, 10), MIN_EF);
  assert.equal(searchEf(10_000, 10), MIN_EF);
  assert.equal(searchEf(10_000, 500), 500, 'hnswlib needs ef >= k');
  assert.equal(searchEf(100_000, 200), 317);
  assert.equal(searchEf(200_000, 200), 448);
  assert.equal(searchEf(1_000_000, 200), 1000);
  let last = 0;
  for (let n = 0; n <= 4_000_000; n += 50_000) {
    const ef = searchEf(n, 200);
    assert.ok(ef >= last, `ef falls at ${n}`);
    last = ef;
  }
});
