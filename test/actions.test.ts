// Zero-shot action tagging with the test model: colour words are the "actions", so the answers
// are known. Also the prompt-ensembling arithmetic against a direct computation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { customLabelSet, labelProbabilities, labelSet, loadLabelScorer, topLabels, type LabelVectors } from '../indexer/services/actions';
import { resolveConfig, type Config } from '../indexer/services/config';
import { UsageError } from '../indexer/core/errors';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { chooseLabelSet, retagAll, tagFile, tagVideo } from '../indexer/services/tagging';
import { TEST_COLORS } from '../indexer/testkit/build';
import { l2normalize } from '../indexer/core/vectors';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig, testModel } from './helpers';

const rgb = (name: string) => TEST_COLORS[name] as RGB;
const COLORS = ['red', 'green', 'blue', 'yellow', 'magenta'];

test('template ensembling (one ONNX graph) equals a direct computation: mean over templates of softmax(100·cos)', async () => {
  const set = { key: 'custom:t', labels: ['a', 'b', 'c'], templates: ['{}', 'x {}'], templateSet: 'actionclip' as const };
  const rows = [
    [1, 0, 0], [0, 1, 0], [0, 0, 1], // template 0: labels a, b, c
    [0.6, 0.8, 0], [0, 0.6, 0.8], [0.8, 0, 0.6], // template 1
  ];
  const lv: LabelVectors = { set, dim: 3, data: new Float32Array(rows.flat()) };
  const direct = (v: Float32Array) => {
    const expected = [0, 0, 0];
    for (let t = 0; t < 2; t++) {
      const logits = [0, 1, 2].map((l) => 100 * [0, 1, 2].reduce((s, d) => s + lv.data[(t * 3 + l) * 3 + d] * v[d], 0));
      const z = logits.map((x) => Math.exp(x - Math.max(...logits)));
      const sum = z.reduce((a, b) => a + b);
      z.forEach((x, l) => (expected[l] += x / sum / 2));
    }
    return expected;
  };
  // 600 vectors: more than one run of the graph (256 a run), each scored on its own.
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const vectors = [l2normalize(new Float32Array([0.9, 0.3, 0.1])), ...Array.from({ length: 599 }, () => l2normalize(new Float32Array([random(), random(), random()])))];
  const scorer = await loadLabelScorer(1);
  try {
    const probs = await labelProbabilities(scorer, lv, vectors);
    assert.equal(probs.length, 600);
    vectors.forEach((v, i) => {
      const expected = direct(v);
      for (let l = 0; l < 3; l++) assert.ok(Math.abs(probs[i][l] - expected[l]) < 1e-5, `vector ${i} label ${l}: ${probs[i][l]} vs ${expected[l]}`);
      assert.ok(Math.abs(probs[i].reduce((a, b) => a + b) - 1) < 1e-5);
    });
    assert.deepEqual(topLabels(set.labels, probs[0], 1).map((t) => t.label), ['a']);
    await assert.rejects(labelProbabilities(scorer, lv, [new Float32Array(4)]), UsageError);
  } finally {
    await scorer.release();
  }
});

test('label sets: shipped vocabularies, custom lists, clear errors', () => {
  assert.equal(labelSet('kinetics400').labels.length, 400);
  assert.equal(labelSet('kinetics700').labels.length, 700);
  assert.equal(labelSet('ucf101').labels.length, 101);
  assert.equal(labelSet('kinetics400').templates.length, 28);
  assert.equal(labelSet('ucf101').templates.length, 48);
  assert.equal(labelSet('kinetics400', 'actionclip').templates.length, 16);
  assert.throws(() => labelSet('imagenet'), (e: Error) => e instanceof UsageError && /kinetics400, kinetics700, ucf101/.test(e.message));
  assert.throws(() => customLabelSet(['only one']), UsageError);
  assert.deepEqual(customLabelSet([' red', 'red', 'blue ', '']).labels, ['red', 'blue']);
  // The same list gives the same key (and so the same cached vectors).
  assert.equal(customLabelSet(['red', 'blue']).key, customLabelSet(['red', 'blue']).key);
});

test('the label cache and upload settings: defaults, the budget follows the upload limit, bad values refused', () => {
  const cfg = resolveConfig({}, {});
  assert.deepEqual([cfg.labelCacheMb, cfg.uploadMaxMb, cfg.uploadMaxSeconds, cfg.uploadBudgetMb], [256, 512, 600, 1024]);
  assert.equal(resolveConfig({}, { VIDSEARCH_UPLOAD_MAX_MB: '100' }).uploadBudgetMb, 200, 'two of the largest uploads by default');
  assert.equal(resolveConfig({}, { VIDSEARCH_UPLOAD_MAX_MB: '100', VIDSEARCH_UPLOAD_BUDGET_MB: '150' }).uploadBudgetMb, 150);
  assert.equal(resolveConfig({ labelCacheMb: '0.5' }, { VIDSEARCH_LABEL_CACHE_MB: '64' }).labelCacheMb, 0.5, 'a flag wins');
  for (const [name, value] of [['VIDSEARCH_LABEL_CACHE_MB', '0'], ['VIDSEARCH_UPLOAD_BUDGET_MB', '-1'], ['VIDSEARCH_UPLOAD_MAX_MB', 'lots'], ['VIDSEARCH_UPLOAD_MAX_SECONDS', 'NaN']]) {
    assert.throws(() => resolveConfig({}, { [name]: value }), (e: Error) => e instanceof UsageError && e.message.includes(name), `${name}=${value}`);
  }
});

describe('tagging a library', () => {
  let cfg: Config;
  let engine: OpenEngine;
  let lib: string;
  const colours = customLabelSet(COLORS);

  before(async () => {
    lib = tempDir('vidsearch-lib-');
    for (const name of ['red', 'green', 'blue']) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 2 }]);
    await makeColorVideo(path.join(lib, 'brg.mp4'), [{ color: rgb('blue'), seconds: 4 }, { color: rgb('red'), seconds: 4 }, { color: rgb('green'), seconds: 4 }]);
    cfg = await testConfig({ segmentSeconds: 4 });
    engine = await openEngine(cfg, { writer: true });
    await indexTargets(engine, [lib]);
  });

  test('every video is tagged at index time with the default label set (kinetics400)', async () => {
    const v = (await engine.store.videoByPath(path.join(lib, 'red.mp4')))!;
    const tags = (await engine.store.tags([v.id], 'kinetics400')).get(v.id)!;
    assert.equal(tags.get(-1)?.length, 5);
    assert.equal(tags.get(0)?.length, 5);
  });

  test('the red video\'s top label is "red"; probabilities sum to 1 over the label set', async () => {
    const v = (await engine.store.videoByPath(path.join(lib, 'red.mp4')))!;
    const res = (await tagVideo(engine, v.id, colours, COLORS.length))!;
    assert.equal(res.labels[0].label, 'red');
    assert.equal(res.lowConfidence, false);
    const sum = res.labels.reduce((s, t) => s + t.score, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `sum ${sum}`);
    assert.equal(res.videoId, v.id);
  });

  test('a blue→red→green video gets per-segment labels in that order', async () => {
    const v = (await engine.store.videoByPath(path.join(lib, 'brg.mp4')))!;
    const res = (await tagVideo(engine, v.id, colours))!;
    assert.deepEqual(res.segments.map((s) => s.labels[0].label), ['blue', 'red', 'green']);
    assert.deepEqual(res.segments.map((s) => [s.start, s.end]), [[0, 4], [4, 8], [8, 12]]);
  });

  test('an unindexed file is encoded on the fly and not added to the index', async () => {
    const other = path.join(tempDir(), 'yellow.mp4');
    await makeColorVideo(other, [{ color: rgb('yellow'), seconds: 2 }]);
    const before = (await engine.store.stats()).videos.total;
    const res = await tagFile(engine, other, colours);
    assert.equal(res.videoId, undefined);
    assert.equal(res.labels[0].label, 'yellow');
    assert.equal((await engine.store.stats()).videos.total, before);
  });

  test('re-tagging with another label set needs no decoding and drives the action filter in search', async () => {
    const { videos } = await retagAll(engine, colours);
    assert.equal(videos, 4);
    assert.equal((await chooseLabelSet(engine, {})).key, colours.key, 'the library label set changed');
    // Search restricted to the "blue" action: only blue-tagged videos/segments come back.
    const res = await engine.searcher.search('red', { k: 10, action: 'blue' });
    const names = res.results.map((r) => path.basename(r.path)).sort();
    assert.deepEqual(names, ['blue.mp4', 'brg.mp4']);
    const brg = res.results.find((r) => r.path.endsWith('brg.mp4'))!;
    assert.deepEqual(brg.moments.map((m) => [m.start, m.end]), [[0, 4]], 'only the blue segment of the clip');
    // Unfiltered results carry the video's labels for the cards.
    const plain = await engine.searcher.search('green', { k: 5 });
    assert.equal(plain.results.find((r) => r.path.endsWith('/green.mp4'))?.labels[0].label, 'green');
    // New videos are tagged with the library's label set from now on.
    await makeColorVideo(path.join(lib, 'magenta.mp4'), [{ color: rgb('magenta'), seconds: 2 }]);
    await indexTargets(engine, [lib]);
    const m = (await engine.store.videoByPath(path.join(lib, 'magenta.mp4')))!;
    assert.equal((await engine.store.tags([m.id], colours.key)).get(m.id)?.get(-1)?.[0].label, 'magenta');
  });

  test('vidsearch tag (CLI): custom labels, --json shape, usage errors', async () => {
    await engine.close();
    const run = (args: string[]) =>
      spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'tag', ...args], {
        env: { PATH: process.env.PATH, VIDSEARCH_HOME: cfg.home, VIDSEARCH_MODEL: cfg.model, VIDSEARCH_CACHE_DIR: cfg.cacheDir, VIDSEARCH_SEGMENT_SECONDS: '4' } as Record<string, string | undefined> as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
    const r = run([path.join(lib, 'brg.mp4'), '--labels', 'red,green,blue', '--k', '2', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(res).sort(), ['labelSet', 'labels', 'lowConfidence', 'path', 'segments', 'videoId']);
    assert.equal(res.labels.length, 2);
    assert.deepEqual(res.segments.map((s: { labels: Array<{ label: string }> }) => s.labels[0].label), ['blue', 'red', 'green']);
    const file = path.join(tempDir(), 'labels.txt');
    fs.writeFileSync(file, '# colours\nred\ngreen\n');
    const f = run([path.join(lib, 'red.mp4'), '--labels-file', file, '--json']);
    assert.equal(JSON.parse(f.stdout).labels[0].label, 'red');
    assert.equal(run([path.join(lib, 'red.mp4'), '--labels', 'red', '--label-set', 'ucf101']).status, 2);
    assert.equal(run([path.join(lib, 'red.mp4'), '--label-set', 'nope']).status, 2);
    assert.equal(run(['99999']).status, 2);
    await testModel();
    engine = await openEngine(cfg, { writer: true });
  });
});
