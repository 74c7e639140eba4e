// The store's write paths under faults: a transaction that rolls back, two writers that each
// believe they hold the lock, and the memory a long video's save takes. Real SQLite and HNSW, with
// synthetic vectors written through the Store's own API (no decoding needed to exercise these).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Store, type IndexedVideoInput, type StoreIdentity } from '../indexer/io/db/store';
import { l2normalize } from '../indexer/core/vectors';
import { REPO_ROOT, countRows, tempDir, withDatabaseFile } from './helpers';

const DIM = 8;
const identity: StoreIdentity = { model: { name: 'store-test', variant: 'fp32', dim: DIM, files: {} }, pooling: 'mean' };

function storeCfg() {
  const home = tempDir('vidsearch-home-');
  return { home, databaseUrl: `file:${path.join(home, 'vidsearch.db')}` };
}

/** A unit vector along axis `axis` (videos are told apart by their axis). */
function axis(a: number): Float32Array {
  const v = new Float32Array(DIM);
  v[a % DIM] = 1;
  v[(a + 1) % DIM] = 0.1 * Math.floor(a / DIM);
  return l2normalize(v);
}

function video(file: string, a: number, segments = 2): IndexedVideoInput {
  const frames = Array.from({ length: segments * 2 }, (_, i) => ({ time: i, segmentIdx: Math.floor(i / 2), vector: axis(a) }));
  return {
    path: file,
    size: 100 + a,
    mtimeMs: 1000 + a,
    probe: { duration: segments * 2, width: 64, height: 64, rotation: 0, fps: 25, codec: 'h264', hasAudio: false, videoStreams: 1, formatName: 'mp4' },
    frames,
    segments: Array.from({ length: segments }, (_, idx) => ({ idx, start: idx * 2, end: idx * 2 + 2, frameCount: 2, vector: axis(a) })),
    video: axis(a),
  };
}

async function writer(cfg: ReturnType<typeof storeCfg>): Promise<Store> {
  const store = await Store.open(cfg, { writer: true, identity, log: () => {} });
  await store.claimIdentity(identity);
  return store;
}

describe('index changes follow the database', () => {
  test('moveVideo: a transaction that rolls back leaves the in-memory index with every vector', async () => {
    const cfg = storeCfg();
    const store = await writer(cfg);
    try {
      const a = await store.saveIndexed(video('/v/a.mp4', 0));
      const b = await store.saveIndexed(video('/v/b.mp4', 3));
      // Moving a onto b's path deletes b (a squatter) and then fails: the whole move rolls back.
      withDatabaseFile(cfg, (db) => db.exec(`CREATE TRIGGER "fail_move" BEFORE UPDATE OF "path" ON "Video" WHEN NEW."path" = '/v/b.mp4' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`));
      // (Prisma's adapter reports a trigger's abort as a constraint violation.)
      await assert.rejects(store.moveVideo(a.videoId, '/v/b.mp4', { size: 1, mtimeMs: 1 }));
      assert.equal((await store.videoByPath('/v/b.mp4'))?.id, b.videoId, 'the database still holds b');
      await store.flushIndex(); // publishes without finding anything to repair
      const stats = await store.stats();
      assert.equal(stats.index.rebuilt, null);
      assert.equal(stats.segments, 4);
      assert.equal(stats.index.vectors, 4, 'the index still holds b');
      assert.equal(stats.index.inStep, true);
      const hits = store.searchSegments(axis(3), 2);
      assert.equal(hits.length, 2);
      assert.ok(hits[0].score > 0.99, 'b is still found');
    } finally {
      await store.close();
    }
  });

  test("two writers at once: neither's videos are lost from the published index", async () => {
    const cfg = storeCfg();
    const first = await writer(cfg);
    const second = await Store.open(cfg, { writer: true, identity, log: () => {} });
    try {
      for (let i = 0; i < 5; i++) await first.saveIndexed(video(`/v/first-${i}.mp4`, i));
      for (let i = 0; i < 5; i++) await second.saveIndexed(video(`/v/second-${i}.mp4`, 8 + i));
      await first.flushIndex();
      // Each follows the other's rows through the change log before it publishes.
      await second.flushIndex();
    } finally {
      await first.close();
      await second.close();
    }
    const reader = await Store.open(cfg, { identity, log: () => {} });
    try {
      const s = await reader.stats();
      assert.equal(s.segments, 20);
      assert.equal(s.index.vectors, 20);
      assert.equal(s.index.inStep, true);
      for (let i = 0; i < 5; i++) assert.ok(reader.searchSegments(axis(i), 1)[0].score > 0.99, `first-${i} is searchable`);
    } finally {
      await reader.close();
    }
  });
});

describe('the store over its storage interface', () => {
  test('hands out no database client: callers go through its methods (tests through helpers.ts withDatabaseFile)', async () => {
    const cfg = storeCfg();
    const store = await writer(cfg);
    try {
      assert.equal((store as unknown as { db?: unknown }).db, undefined);
      const { videoId } = await store.saveIndexed(video('/v/a.mp4', 0));
      assert.equal((await store.videoSegments(videoId)).length, 2);
      assert.equal((await store.frames(videoId)).length, 4);
      assert.equal((await store.segmentFrames([{ videoId, idx: 1 }])).get(`${videoId}:1`)?.length, 2);
      await store.flushIndex();
      const stats = await store.stats();
      assert.deepEqual([stats.segments, stats.frames, stats.index.vectors, stats.index.inStep], [2, 4, 2, true]);
      assert.match(await store.dbDigest(), /^2:/);
      assert.equal(countRows(cfg, 'SELECT count(*) FROM "Frame"'), 4);
    } finally {
      await store.close();
    }
  });
});

describe('saveIndexed stays one transaction', () => {
  test('a failure after the bulk inserts leaves no frame or segment rows and the index unchanged', async () => {
    const cfg = storeCfg();
    const store = await writer(cfg);
    try {
      await store.saveIndexed(video('/v/a.mp4', 0));
      // The generation bump is the transaction's last statement: failing it must undo the
      // frames and segments inserted on the raw connection before it.
      withDatabaseFile(cfg, (db) => db.exec(`CREATE TRIGGER "fail_bump" BEFORE UPDATE ON "Setting" WHEN NEW."key" = 'generation' BEGIN SELECT RAISE(ABORT, 'simulated failure'); END`));
      await assert.rejects(store.saveIndexed(video('/v/b.mp4', 3, 50)));
      assert.equal(countRows(cfg, 'SELECT count(*) FROM "Frame"'), 4);
      assert.equal(countRows(cfg, 'SELECT count(*) FROM "Segment"'), 2);
      assert.equal(await store.videoByPath('/v/b.mp4'), null);
      assert.equal((await store.stats()).index.vectors, 2);
    } finally {
      await store.close();
    }
  });
});

describe('memory', () => {
  test('saving a 10-hour video (36,000 frames, 8-d) stays near the vectors own size', () => {
    // A child process, so the figure is this save's alone. Bound: 2× the vectors + 100 MB
    // (before the fix: +292 MB; after: about +41 MB; see store.ts at INSERT_ROWS).
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(REPO_ROOT, 'test', 'fixtures', 'save-rss.ts'), '36000', String(DIM)], { encoding: 'utf8', cwd: REPO_ROOT });
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(m.saved, 36_000);
    const growth = m.rssPeak - m.rssBefore;
    assert.ok(growth < 2 * m.vectorBytes + 100e6, `peak RSS grew by ${(growth / 1e6).toFixed(1)} MB for ${(m.vectorBytes / 1e6).toFixed(1)} MB of vectors`);
  });
});
