// Unit: the close-match rule (core/relevance.ts) and confident tags (core/labels.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { confidentTag, lowConfidence, LOW_CONFIDENCE } from '../../indexer/core/labels';
import { backgroundOf, closeMatchLine, isCloseMatch, matchScore, normalTail, standardScore, Z_CAP } from '../../indexer/core/relevance';

describe('the close-match rule (pure)', () => {
  test('the line is where the best of N Gaussian draws clears it with probability 5 %', () => {
    for (const n of [1, 5, 26, 1000, 100_000]) {
      const line = closeMatchLine(n);
      assert.ok(Math.abs(n * normalTail(line) - 0.05) < 1e-4, `N=${n}: N·Q(${line}) = ${n * normalTail(line)}`);
    }
    assert.ok(Math.abs(closeMatchLine(5) - 2.326) < 0.01);
    assert.ok(Math.abs(closeMatchLine(100_000) - 4.892) < 0.01);
    // It grows with the library, as the expected maximum of N draws does.
    assert.ok(closeMatchLine(10) < closeMatchLine(1000) && closeMatchLine(1000) < closeMatchLine(1e6));
    assert.ok(Math.abs(normalTail(1.96) - 0.025) < 1e-4);
  });

  test('the background is the bulk of the library: a few matches or opposites do not widen it', () => {
    // 20 unrelated segments about 0.2, one match at 0.9, and three opposites at -0.6
    const bulk = Array.from({ length: 20 }, (_, i) => 0.19 + (i % 5) * 0.005);
    const bg = backgroundOf([...bulk, 0.9, -0.6, -0.6, -0.6]);
    assert.ok(Math.abs(bg.center - 0.2) < 0.006, `centre ${bg.center}`);
    assert.ok(standardScore(0.9, bg)! >= Z_CAP, 'the match stands far above the bulk');
    assert.ok(standardScore(0.2, bg)! < 1);
    // A mean and a standard deviation would have put the match under 2.5 deviations.
    const all = [...bulk, 0.9, -0.6, -0.6, -0.6];
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / all.length);
    assert.ok((0.9 - mean) / sd < 2.5);
  });

  test('a flat background: nothing at its level stands out, anything above it does; too little: not judged', () => {
    const flat = backgroundOf([0, 0, 0, 0]);
    assert.equal(standardScore(0, flat), 0);
    assert.equal(isCloseMatch(standardScore(0, flat), closeMatchLine(4)), false);
    assert.equal(standardScore(0.5, flat), Z_CAP);
    // half alike (MAD 0): the standard deviation is the scale
    const half = backgroundOf([1, 0.4, -0.33, -0.33, -0.33]);
    assert.ok(half.scale! > 0.4 && half.scale! < 0.6, `scale ${half.scale}`);
    assert.equal(standardScore(0.5, backgroundOf([0.1, 0.2])), null);
    assert.equal(isCloseMatch(null, 3), true);
    assert.equal(matchScore(null, 3), null);
  });

  test('match is 50 on the line, near 0 far below it, near 100 far above, and rises with z', () => {
    assert.equal(matchScore(3, 3), 50);
    assert.equal(matchScore(0, 3), 1);
    assert.equal(matchScore(6, 3), 99);
    let last = -1;
    for (let z = -2; z <= 8; z += 0.5) {
      const m = matchScore(z, 3)!;
      assert.ok(m >= last && m >= 0 && m <= 100);
      last = m;
    }
  });

  test('a tag is confident at 25 % or more; a list with no confident tag is low confidence', () => {
    assert.equal(LOW_CONFIDENCE, 0.25);
    assert.equal(confidentTag({ score: 0.25 }), true);
    assert.equal(confidentTag({ score: 0.249 }), false);
    assert.equal(lowConfidence([{ score: 0.3 }, { score: 0.01 }]), false);
    assert.equal(lowConfidence([{ score: 0.2 }]), true);
    assert.equal(lowConfidence([]), true);
  });
});

