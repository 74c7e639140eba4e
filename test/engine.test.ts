// End-to-end engine tests: generated videos → ffmpeg → ONNX test model → the store → search. The
// indexing and search suites run on both stores (test/backends.ts: SQLite + HNSW file, PostgreSQL +
// pgvector on PGlite); the HNSW file's own suite is SQLite's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../indexer/services/config';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { StoreError } from '../indexer/core/errors';
import { indexTargets } from '../indexer/services/pipeline';
import { Store } from '../indexer/io/db/store';
import { TEST_COLORS } from '../indexer/testkit/build';
import { makeAudioOnly, makeColorVideo, makeEmpty, makeRandomBytes, makeTextFile, makeTruncated, type RGB } from './fixtures/videos';
import { tempDir, testConfig, withDatabaseFile } from './helpers';
import { BACKENDS, type TestBackend } from './backends';

const COLOR_NAMES = ['red', 'green', 'blue', 'yellow', 'magenta'] as const;
const rgb = (name: string) => TEST_COLORS[name] as RGB;

async function withEngine<T>(cfg: Config, fn: (e: OpenEngine) => Promise<T>, opts: { writer?: boolean } = { writer: true }): Promise<T> {
  const engine = await openEngine(cfg, opts);
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

/** A test configuration on a fresh, empty store of backend `b`. */
async function backendConfig(b: TestBackend, overrides: Parameters<typeof testConfig>[0] = {}): Promise<Config> {
  const fresh = await b.fresh();
  return testConfig({ home: fresh.home, databaseUrl: fresh.databaseUrl, ...overrides });
}

async function countRows(b: TestBackend, cfg: Config) {
  const store = await Store.open(cfg);
  try {
    const s = await store.stats();
    // Segment and frame rows whose video is not indexed (none, if every write was one transaction).
    const of = (table: string) => b.count(cfg, `SELECT count(*) FROM "${table}" t JOIN "Video" v ON v."id" = t."videoId" WHERE v."status" != 'indexed'`);
    return { ...s, orphans: (await of('Segment')) + (await of('Frame')) };
  } finally {
    await store.close();
  }
}

for (const b of BACKENDS) {
  describe(`${b.name}: one video per colour`, () => {
    let cfg: Config;
    let lib: string;
    before(async () => {
      lib = tempDir('vidsearch-lib-');
      for (const name of COLOR_NAMES) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 3 }]);
      cfg = await backendConfig(b);
    });

    test('each colour query ranks its own video first', async () => {
      await withEngine(cfg, async (engine) => {
        const report = await indexTargets(engine, [lib]);
        assert.equal(report.indexed.length, COLOR_NAMES.length);
        assert.deepEqual(report.failed, []);
        for (const name of COLOR_NAMES) {
          const res = await engine.searcher.search(name, { k: 3 });
          assert.equal(path.basename(res.results[0].path), `${name}.mp4`, `query "${name}"`);
          assert.ok(res.results[0].score > 0.95, `score ${res.results[0].score}`);
          assert.ok(res.results[0].score > res.results[1].score);
        }
        // A sentence around the colour word still finds it; results are best first.
        const res = await engine.searcher.search('a bright yellow wall', { k: 5 });
        assert.equal(path.basename(res.results[0].path), 'yellow.mp4');
        const scores = res.results.map((r) => r.score);
        assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
      });
    });

    test('re-running index changes nothing; a modified file is re-indexed; a deleted one is removed', async () => {
      await withEngine(cfg, async (engine) => {
        const gen = await engine.store.generation();
        const again = await indexTargets(engine, [lib]);
        assert.equal(again.indexed.length, 0);
        assert.equal(again.skipped.length, COLOR_NAMES.length);
        assert.ok(again.skipped.every((s) => s.reason === 'unchanged'));
        assert.equal(await engine.store.generation(), gen, 'no write happened');

        // red.mp4 becomes purple; green.mp4 disappears
        await makeColorVideo(path.join(lib, 'red.mp4'), [{ color: rgb('purple'), seconds: 3 }]);
        fs.rmSync(path.join(lib, 'green.mp4'));
        const changed = await indexTargets(engine, [lib]);
        assert.deepEqual(changed.indexed.map((i) => path.basename(i.path)), ['red.mp4']);
        assert.deepEqual(changed.removed.map((r) => path.basename(r.path)), ['green.mp4']);

        const purple = await engine.searcher.search('purple', { k: 1 });
        assert.equal(path.basename(purple.results[0].path), 'red.mp4');
        const green = await engine.searcher.search('green', { k: 10 });
        assert.ok(!green.results.some((r) => r.path.endsWith('green.mp4')), 'deleted video is not found');
        assert.equal((await engine.store.stats()).videos.total, COLOR_NAMES.length - 1);
      });
    });
  });

  describe(`${b.name}: moments inside a video`, () => {
    test('blue→red→green: "red" finds the red interval; segments and times are right', async () => {
      const lib = tempDir('vidsearch-lib-');
      const file = path.join(lib, 'brg.mp4');
      await makeColorVideo(file, [
        { color: rgb('blue'), seconds: 4 },
        { color: rgb('red'), seconds: 4 },
        { color: rgb('green'), seconds: 4 },
      ]);
      // Default 10 s segments: [0,10) and [10,12]; the best frame still lands in red.
      const cfg = await backendConfig(b);
      await withEngine(cfg, async (engine) => {
        const report = await indexTargets(engine, [lib]);
        assert.deepEqual(report.indexed.map((i) => [i.segments, i.frames]), [[2, 12]]);
        const res = await engine.searcher.search('red');
        const top = res.results[0];
        assert.ok(top.bestTime >= 4 && top.bestTime < 8, `bestTime ${top.bestTime}`);
        assert.deepEqual([top.start, top.end], [0, 10]);
        const segs = await engine.store.videoSegments(top.videoId);
        assert.deepEqual(segs.map((s) => [s.idx, s.start, s.end, s.frameCount]), [[0, 0, 10, 10], [1, 10, 12, 2]]);
        const frames = await engine.store.frames(top.videoId);
        assert.deepEqual(frames.map((f) => f.time), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        // The video page's scores (services/moments.ts): every segment scored, the best moment as search picks it.
        const scored = await engine.segmentScores(top.videoId, '  red ');
        assert.equal(scored.query, 'red');
        assert.deepEqual(scored.segments.map((s) => [s.idx, s.start, s.end]), [[0, 0, 10], [1, 10, 12]]);
        assert.ok(scored.segments[0].score > scored.segments[1].score);
        assert.equal(scored.bestTime, top.bestTime);
        await assert.rejects(engine.segmentScores(top.videoId, '   '), { name: 'UsageError' });
        assert.deepEqual(await engine.segmentScores(999_999, 'red'), { query: 'red', segments: [], bestTime: undefined });
      });
      // 4 s segments line up with the colours: each query's best moment is its own segment.
      const cfg4 = await backendConfig(b, { segmentSeconds: 4 });
      await withEngine(cfg4, async (engine) => {
        await indexTargets(engine, [lib]);
        for (const [name, start] of [['blue', 0], ['red', 4], ['green', 8]] as const) {
          const top = (await engine.searcher.search(name)).results[0];
          assert.deepEqual([top.start, top.end], [start, start + 4], name);
          assert.ok(top.bestTime >= start && top.bestTime < start + 4, `${name} bestTime ${top.bestTime}`);
          assert.ok(top.score > 0.95);
          assert.equal(top.moments.length, 3);
        }
      });
    });
  });

  describe(`${b.name}: bad files beside good ones`, () => {
    test('good videos are searchable, each bad file is failed with a readable error, no partial rows', async () => {
      const lib = tempDir('vidsearch-lib-');
      await makeColorVideo(path.join(lib, 'good-red.mp4'), [{ color: rgb('red'), seconds: 2 }]);
      await makeColorVideo(path.join(lib, 'good-blue.mp4'), [{ color: rgb('blue'), seconds: 2 }]);
      await makeEmpty(path.join(lib, 'empty.mp4'));
      await makeRandomBytes(path.join(lib, 'random.mp4'), 50_000);
      await makeTextFile(path.join(lib, 'notes.mkv'));
      await makeAudioOnly(path.join(lib, 'audio.mp4'));
      await makeTruncated(path.join(lib, 'truncated.mp4'));
      fs.writeFileSync(path.join(lib, 'readme.txt'), 'not a candidate: wrong extension');
      fs.writeFileSync(path.join(lib, 'movie.mp4.part'), 'a download in progress');
      const cfg = await backendConfig(b);
      const report = await withEngine(cfg, (engine) => indexTargets(engine, [lib]));
      const failed = new Map(report.failed.map((f) => [path.basename(f.path), f.error]));
      assert.match(failed.get('empty.mp4') ?? '', /empty file/);
      assert.match(failed.get('random.mp4') ?? '', /not a video/);
      assert.match(failed.get('notes.mkv') ?? '', /not a video/);
      assert.match(failed.get('audio.mp4') ?? '', /no video stream/);
      const indexed = report.indexed.map((i) => path.basename(i.path)).sort();
      // A truncated file may still give its first frames; either way it is accounted for.
      assert.ok(indexed.includes('good-red.mp4') && indexed.includes('good-blue.mp4'));
      assert.ok(failed.has('truncated.mp4') || indexed.includes('truncated.mp4'));
      assert.equal(report.indexed.length + report.failed.length, 7, 'the .txt and .part files are not candidates');

      await withEngine(cfg, async (engine) => {
        assert.equal(path.basename((await engine.searcher.search('red')).results[0].path), 'good-red.mp4');
        assert.equal(path.basename((await engine.searcher.search('blue')).results[0].path), 'good-blue.mp4');
        const again = await indexTargets(engine, [lib]);
        assert.equal(again.failed.length, 0, 'unchanged failed files are skipped, not retried');
        assert.ok(again.skipped.some((s) => s.reason.startsWith('unchanged, failed earlier')));
      });
      const rows = await countRows(b, cfg);
      assert.equal(rows.orphans, 0, 'no segments or frames belong to a failed video');
      assert.equal(rows.videos.failed, report.failed.length);
    });
  });
}

describe('the HNSW file is a cache of the database', () => {
  let cfg: Config;
  let expected: string;
  before(async () => {
    const lib = tempDir('vidsearch-lib-');
    for (const name of COLOR_NAMES) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 2 }]);
    cfg = await testConfig();
    expected = await withEngine(cfg, async (engine) => {
      await indexTargets(engine, [lib]);
      return JSON.stringify((await engine.searcher.search('magenta', { k: 5 })).results);
    });
  });
  const readSearch = () => withEngine(cfg, async (e) => JSON.stringify((await e.searcher.search('magenta', { k: 5 })).results), { writer: false });
  const indexFile = () => {
    const dir = path.join(cfg.home, 'index');
    const ptr = JSON.parse(fs.readFileSync(path.join(dir, 'current.json'), 'utf8'));
    return path.join(dir, ptr.file);
  };

  test('rebuilt with the same results after the file is deleted', async () => {
    fs.rmSync(path.join(cfg.home, 'index'), { recursive: true });
    assert.equal(await readSearch(), expected);
    assert.ok(fs.existsSync(indexFile()), 'a reader with no writer around publishes the rebuilt file');
  });

  test('rebuilt with the same results after the file is corrupted', async () => {
    const file = indexFile();
    fs.writeFileSync(file, Buffer.alloc(100, 7));
    assert.equal(await readSearch(), expected);
    fs.writeFileSync(indexFile(), Buffer.alloc(0));
    assert.equal(await readSearch(), expected);
  });

  test('a crash between commit and publish: the next opener applies the logged changes, then a writer publishes them', async () => {
    const lib2 = tempDir('vidsearch-lib-');
    await makeColorVideo(path.join(lib2, 'purple.mp4'), [{ color: rgb('purple'), seconds: 2 }]);
    const before = JSON.parse(fs.readFileSync(path.join(cfg.home, 'index', 'current.json'), 'utf8'));
    // A writer that commits and dies before publishing: its store is never closed.
    const crashed = await openEngine(cfg, { writer: true });
    await indexTargets(crashed, [lib2]).catch(() => undefined);
    const after = JSON.parse(fs.readFileSync(path.join(cfg.home, 'index', 'current.json'), 'utf8'));
    assert.ok(after.seq >= before.seq, 'the published file is the one from before (or an intermediate one)');
    const found = await withEngine(cfg, async (e) => (await e.searcher.search('purple', { k: 1 })).results[0]?.path, { writer: false });
    assert.equal(path.basename(found ?? ''), 'purple.mp4', 'a reader searches what was committed, published or not');
    // The next writer's close publishes a file that reflects every committed change.
    await withEngine(cfg, async (e) => {
      const v = await e.store.videoByPath(path.join(lib2, 'purple.mp4'));
      await e.store.removeVideo(v!.id);
    });
    const published = JSON.parse(fs.readFileSync(path.join(cfg.home, 'index', 'current.json'), 'utf8'));
    const last = withDatabaseFile(cfg, (db) => db.prepare('SELECT max("seq") FROM "SegmentChange"').pluck().get());
    assert.equal(published.seq, last);
    assert.equal(await readSearch(), expected);
    await crashed.close();
  });

  test('any number of writers at once; readers run beside them', async () => {
    const a = await Store.open(cfg, { writer: true });
    const b = await Store.open(cfg, { writer: true });
    try {
      assert.equal(await readSearch(), expected);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a reader picks up a newly published index without reopening', async () => {
    const reader = await openEngine(cfg);
    try {
      const before = await reader.searcher.search('orange', { k: 10 });
      assert.ok(!before.results.some((r) => r.path.endsWith('orange.mp4')));
      const lib2 = tempDir('vidsearch-lib-');
      await makeColorVideo(path.join(lib2, 'orange.mp4'), [{ color: rgb('orange'), seconds: 2 }]);
      await withEngine(cfg, (w) => indexTargets(w, [lib2]));
      const afterRes = await reader.searcher.search('orange', { k: 1 });
      assert.equal(path.basename(afterRes.results[0].path), 'orange.mp4');
    } finally {
      await reader.close();
    }
  });

  test('vectors of another model variant are refused until re-indexed', async () => {
    const other = { ...cfg, variant: 'quantized' as const };
    await assert.rejects(openEngine(other), (e: Error) => e instanceof StoreError && /cannot be compared/.test(e.message) && /--reindex/.test(e.message));
    const reader = await openEngine(cfg); // a server that was already running with the old model
    try {
      assert.ok((await reader.searcher.search('red', { k: 1 })).results.length);
      const engine = await openEngine(other, { writer: true, reindex: true });
      try {
        assert.equal((await engine.store.stats()).videos.total, 0);
      } finally {
        await engine.close();
      }
      // Its text vectors no longer match the index: refused with what to do, not wrong results.
      await assert.rejects(reader.searcher.search('red', { k: 1 }), (e: Error) => e instanceof StoreError && /restart it with the same VIDSEARCH_MODEL/.test(e.message));
    } finally {
      await reader.close();
    }
  });
});
