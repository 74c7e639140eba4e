// Unit: what counts as an unchanged file, and the content fingerprint (core/stamps.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FINGERPRINT_SAMPLE, fingerprintOf, fingerprintOffsets, sameStamp, stampOf, unchangedReason } from '../../indexer/core/stamps';

describe('file stamps', () => {
  test('whole milliseconds: sub-millisecond digits do not survive the database', () => {
    assert.deepEqual(stampOf({ size: 10, mtimeMs: 1234.987 }), { size: 10, mtimeMs: 1234 });
  });

  test('same size and mtime is the same file; anything missing is not', () => {
    assert.equal(sameStamp({ size: 1, mtimeMs: 2 }, { size: 1, mtimeMs: 2 }), true);
    assert.equal(sameStamp({ size: 1, mtimeMs: 2 }, { size: 1, mtimeMs: 3 }), false);
    assert.equal(sameStamp({ size: 1, mtimeMs: 2 }, { size: 2, mtimeMs: 2 }), false);
    assert.equal(sameStamp(undefined, { size: 1, mtimeMs: 2 }), false);
    assert.equal(sameStamp(null, null), false);
  });

  test('an indexing run skips an unchanged indexed file, and an unchanged failed one unless failures are retried', () => {
    const stamp = { size: 5, mtimeMs: 7 };
    assert.equal(unchangedReason({ ...stamp, status: 'indexed' }, stamp), 'unchanged');
    assert.equal(unchangedReason({ ...stamp, status: 'failed', error: 'not a video' }, stamp), 'unchanged, failed earlier: not a video');
    assert.equal(unchangedReason({ ...stamp, status: 'failed', error: 'x' }, stamp, { retryFailed: true }), undefined);
    assert.equal(unchangedReason({ ...stamp, status: 'indexed' }, stamp, { force: true }), undefined);
    assert.equal(unchangedReason({ ...stamp, status: 'pending' }, stamp), undefined);
    assert.equal(unchangedReason({ size: 5, mtimeMs: 8, status: 'indexed' }, stamp), undefined);
    assert.equal(unchangedReason(undefined, stamp), undefined);
  });
});

describe('fingerprints', () => {
  const fileOf = (bytes: Uint8Array) => (at: number) => bytes.subarray(at, at + FINGERPRINT_SAMPLE);

  test('start, middle and end samples; overlapping for a small file', () => {
    assert.deepEqual(fingerprintOffsets(10, 4), [0, 3, 6]);
    assert.deepEqual(fingerprintOffsets(2, 4), [0, 0, 0]);
    assert.deepEqual(fingerprintOffsets(1 << 20), [0, (1 << 19) - (1 << 15), (1 << 20) - (1 << 16)]);
  });

  test('the same bytes give the same fingerprint; a changed sample or size gives another', () => {
    const a = new Uint8Array(300_000).map((_, i) => i % 251);
    const b = a.slice();
    assert.equal(fingerprintOf(a.length, fileOf(a)), fingerprintOf(b.length, fileOf(b)));
    b[a.length - 1] ^= 1;
    assert.notEqual(fingerprintOf(a.length, fileOf(a)), fingerprintOf(b.length, fileOf(b)));
    assert.notEqual(fingerprintOf(a.length, fileOf(a)), fingerprintOf(a.length + 1, fileOf(a)));
    assert.match(fingerprintOf(0, fileOf(new Uint8Array())), /^[0-9a-f]{64}$/);
  });

  test('bytes outside the samples do not count (a sampled hash, by design)', () => {
    const a = new Uint8Array(1_000_000);
    const b = a.slice();
    b[100_000] = 1; // past the first sample, before the middle one
    assert.equal(fingerprintOf(a.length, fileOf(a)), fingerprintOf(b.length, fileOf(b)));
  });
});
