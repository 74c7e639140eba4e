// Query-adaptive re-ranking (indexer/core/rerank.ts) and `vidsearch eval`, on a generated library where
// the answer is known: 25 videos where the queried colour fills 2 of 10 seconds, each beside a
// video that is uniformly a near colour (indexer/testkit/moments.ts). Mean pooling ranks the
// uniform video first; re-ranking must find the short moment.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../indexer/services/config';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { evaluate, rankOf, readCaptions, retrievalMetrics } from '../indexer/services/eval';
import { indexTargets } from '../indexer/services/pipeline';
import { repoolLibrary } from '../indexer/services/repool';
import { makeMomentLibrary, type MomentCase } from '../indexer/testkit/moments';
import { REPO_ROOT, countRows, tempDir, testConfig, testModel, withDatabaseFile } from './helpers';

const unit = (xs: number[]) => {
  const n = Math.hypot(...xs);
  return Float32Array.from(xs, (x) => x / n);
};

describe('retrieval metrics', () => {
  test('ranks count ties against the right answer; metrics', () => {
    assert.equal(rankOf([0.5, 0.9, 0.5], 0), 3);
    assert.equal(rankOf([0.9, 0.5, 0.1], 0), 1);
    assert.deepEqual(retrievalMetrics([1, 2, 6, 20]), { queries: 4, R1: 25, R5: 50, R10: 75, medianRank: 4, meanRank: 7.25 });
  });
});

describe('re-ranking finds a 2-second moment that mean pooling misses (50 generated videos)', () => {
  let cfg: Config;
  let lib: string;
  let cases: MomentCase[];
  let engine: OpenEngine;
  before(async () => {
    lib = tempDir('vidsearch-moments-');
    cases = await makeMomentLibrary(lib, 25);
    cfg = await testConfig({ labelSet: 'none' });
    engine = await openEngine(cfg, { writer: true });
    const report = await indexTargets(engine, [lib]);
    assert.equal(report.indexed.length, 50);
    assert.deepEqual(report.failed, []);
  });
  after(async () => engine?.close());

  test('R@1 with and without re-ranking', async (t) => {
    const recall = async (rerank: boolean) => {
      let hits = 0;
      let decoyFirst = 0;
      for (const c of cases) {
        const res = await engine.searcher.search(c.query, { k: 5, rerank });
        if (res.results[0].path === c.target) hits++;
        if (res.results[0].path === c.decoy) decoyFirst++;
      }
      return { r1: (100 * hits) / cases.length, decoyFirst };
    };
    const mean = await recall(false);
    const reranked = await recall(true);
    t.diagnostic(`R@1 over ${cases.length} moment queries in 50 videos: mean pooling ${mean.r1}%, re-ranked ${reranked.r1}% (τ ${engine.searcher.rerank.temperature})`);
    assert.equal(reranked.r1, 100);
    assert.ok(mean.r1 <= 10, `mean pooling R@1 ${mean.r1}`);
    assert.ok(mean.decoyFirst >= cases.length / 2, `the uniform near colour mostly wins under mean pooling (${mean.decoyFirst})`);
  });

  test('re-ranking is on by default, and the moment is where the colour is', async () => {
    const c = cases[3];
    const res = await engine.searcher.search(c.query, { k: 3 });
    assert.equal(res.results[0].path, c.target);
    assert.ok(res.results[0].bestTime >= c.momentStart && res.results[0].bestTime < c.momentStart + 2, `bestTime ${res.results[0].bestTime}`);
    const plain = await engine.searcher.search(c.query, { k: 3, rerank: false });
    assert.equal(plain.results[0].path, c.decoy);
  });

  test('vidsearch eval: R@1 100 with re-ranking, 0 without (CLI, JSON)', async (t) => {
    const file = path.join(lib, 'captions.jsonl');
    const lines = cases.flatMap((c) => [{ path: path.basename(c.target), caption: c.query }, { path: path.basename(c.decoy) }]);
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const items = readCaptions(file);
    assert.equal(items.length, 50);
    const off = await evaluate(engine, items, { rerank: false });
    const bySegment = await evaluate(engine, items, { rerank: true, by: 'segment' });
    await engine.close();
    const run = (...extra: string[]) => {
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'eval', '--captions', file, '--json', ...extra], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, VIDSEARCH_HOME: cfg.home, VIDSEARCH_CACHE_DIR: cfg.cacheDir, VIDSEARCH_LABEL_SET: 'none', VIDSEARCH_MODEL: cfg.model, VIDSEARCH_THREADS: '1' } as Record<string, string | undefined> as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout);
    };
    const on = run('--rerank');
    t.diagnostic(`eval: re-ranked ${JSON.stringify(on.metrics)}; mean pooling ${JSON.stringify(off.metrics)}`);
    assert.equal(on.videos, 50);
    assert.equal(on.captions, 25);
    assert.equal(on.indexing.indexed, 0, 'the indexed videos are reused');
    assert.equal(on.metrics.R1, 100);
    assert.equal(on.metrics.medianRank, 1);
    assert.equal(off.metrics.R1, 0);
    assert.ok(off.metrics.medianRank >= 2);
    assert.equal(bySegment.metrics.R1, 100);
    engine = await openEngine(cfg, { writer: true });
  });
});

describe('an index made before frame packs', () => {
  test('is re-ranked from its Frame rows, and a forced re-pool adds the packs', async () => {
    const lib = tempDir('vidsearch-nopack-');
    const cases = (await makeMomentLibrary(lib, 3)).slice(0, 3);
    const cfg = await testConfig({ labelSet: 'none' });
    const engine = await openEngine(cfg, { writer: true });
    try {
      await indexTargets(engine, [lib]);
      const packed = countRows(cfg, 'SELECT count(*) FROM "Segment" WHERE "pack" IS NOT NULL');
      assert.equal(packed, 6);
      const ranked = await Promise.all(cases.map(async (c) => (await engine.searcher.search(c.query, { k: 1 })).results[0]));
      withDatabaseFile(cfg, (db) => db.prepare('UPDATE "Segment" SET "pack" = NULL').run());
      for (const [i, c] of cases.entries()) {
        const r = (await engine.searcher.search(c.query, { k: 1 })).results[0];
        assert.equal(r.path, c.target);
        assert.ok(Math.abs(r.score - ranked[i].score) < 5e-3, 'packed and exact scores agree');
      }
      const report = await repoolLibrary(engine, engine.identity);
      assert.equal(report.videos, 6);
      assert.equal(countRows(cfg, 'SELECT count(*) FROM "Segment" WHERE "pack" IS NOT NULL'), 6);
    } finally {
      await engine.close();
    }
  });
});

describe('vidsearch eval on distinct colours', () => {
  test('every caption finds its video; bad caption files are usage errors', async () => {
    const lib = tempDir('vidsearch-evalcol-');
    const { makeColorVideo } = await import('./fixtures/videos');
    const { TEST_COLORS } = await import('../indexer/testkit/build');
    const names = ['red', 'green', 'blue', 'yellow', 'white'];
    for (const n of names) await makeColorVideo(path.join(lib, `${n}.mp4`), [{ color: TEST_COLORS[n], seconds: 3 }], { width: 64, height: 48, fps: 2 });
    fs.writeFileSync(path.join(lib, 'c.jsonl'), names.map((n) => JSON.stringify({ path: `${n}.mp4`, caption: `a ${n} wall` })).join('\n'));
    fs.writeFileSync(path.join(lib, 'bad.jsonl'), '{"path": "red.mp4", "caption": "red"}\nnot json\n');
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, VIDSEARCH_HOME: tempDir('vidsearch-home-'), VIDSEARCH_MODEL: await testModel(), VIDSEARCH_THREADS: '1', VIDSEARCH_LABEL_SET: 'none' } as Record<string, string | undefined> as NodeJS.ProcessEnv;
    const run = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), ...args], { env, encoding: 'utf8' });
    const r = run('eval', '--captions', path.join(lib, 'c.jsonl'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.indexing.indexed, 5);
    assert.deepEqual(report.metrics, { queries: 5, R1: 100, R5: 100, R10: 100, medianRank: 1, meanRank: 1 });
    const bad = run('eval', '--captions', path.join(lib, 'bad.jsonl'));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad\.jsonl:2: not JSON/);
  });
});
