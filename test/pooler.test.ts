// The transformer pooler (CLIP4Clip seqTransf): PyTorch → ONNX export fidelity, the TypeScript
// runtime against the exported graph, and the engine with --pooling transformer: the identity,
// re-pooling from stored frame vectors when the pooling changes (no decoding), and the errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import type { Config } from '../indexer/services/config';
import { openEngine } from '../indexer/services/engine';
import { ModelError, StoreError } from '../indexer/core/errors';
import { loadPoolerSession } from '../indexer/io/onnx/model';
import { chunkSizes, loadTransformerPooling, type TransformerPooling } from '../indexer/services/pooler';
import { indexTargets } from '../indexer/services/pipeline';
import { meanPool } from '../indexer/core/pooling';
import { Store } from '../indexer/io/db/store';
import { TEST_COLORS, TEST_DIM } from '../indexer/testkit/build';
import { makeColorVideo, type RGB } from './fixtures/videos';
import { REPO_ROOT, tempDir, testConfig } from './helpers';
import { torchMissing, trainPy } from './python';

const rgb = (name: string) => TEST_COLORS[name] as RGB;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('chunking long runs of frames', () => {
  assert.deepEqual(chunkSizes(1, 12), [1]);
  assert.deepEqual(chunkSizes(12, 12), [12]);
  assert.deepEqual(chunkSizes(13, 12), [7, 6]);
  assert.deepEqual(chunkSizes(25, 12), [9, 8, 8]);
  assert.throws(() => chunkSizes(0, 12), /zero frames/);
});

test('--pooling transformer without a pooler file: a ModelError that says how to get one', async () => {
  const cfg = await testConfig({ pooling: 'transformer', labelSet: 'none' });
  await assert.rejects(openEngine(cfg, { writer: true }), (err: Error) => {
    assert.ok(err instanceof ModelError, String(err));
    assert.match(err.message, /pooler\.onnx/);
    assert.match(err.message, /train one with models\/pooler\/train\.py .*or use --pooling mean/);
    return true;
  });
});

describe('transformer pooler', { skip: torchMissing() }, () => {
  let big: string;
  before(() => {
    big = tempDir('vidsearch-pooler512-');
    trainPy(['--init-only', '--dim', '512', '--out', big, '--reference', path.join(big, 'reference.json')]);
  });

  test('the ONNX export matches the PyTorch forward (512-d, 8 heads, 4 layers) within 1e-4', async (t) => {
    const ref = JSON.parse(fs.readFileSync(path.join(big, 'reference.json'), 'utf8'));
    const info = JSON.parse(fs.readFileSync(path.join(big, 'pooler.json'), 'utf8'));
    assert.deepEqual([info.dim, info.heads, info.layers, info.positions, info.chunk_frames], [512, 8, 4, 64, 12]);
    const session = await loadPoolerSession(path.join(big, 'pooler.onnx'), { threads: 1 });
    try {
      let worst = 0;
      for (const c of ref.cases.filter((c: { kind: string }) => c.kind === 'graph')) {
        const out = await session.run(Float32Array.from(c.frame_embeds), BigInt64Array.from(c.frame_mask.map(BigInt)), c.batch, c.frames, ref.dim);
        worst = Math.max(worst, maxAbsDiff(out, c.video_embeds));
      }
      t.diagnostic(`max |onnx - torch| over padded batches: ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs error ${worst}`);
    } finally {
      await session.release();
    }
  });

  test('the TypeScript runtime (chunking, batching by length) gives the vectors of the exported graph and of PyTorch', async (t) => {
    const ref = JSON.parse(fs.readFileSync(path.join(big, 'reference.json'), 'utf8'));
    const pooling = await loadTransformerPooling(path.join(big, 'pooler.onnx'), { dim: 512, threads: 1 });
    try {
      assert.equal(pooling.chunkFrames, 12);
      const c = ref.cases.find((c: { kind: string }) => c.kind === 'groups');
      const frames = Float32Array.from(c.frames);
      let at = 0;
      const groups = (c.lengths as number[]).map((n) => Array.from({ length: n }, () => frames.slice(at * 512, ++at * 512)));
      const pooled = await pooling.pool(groups);
      const worst = Math.max(...pooled.map((v, i) => maxAbsDiff(v, c.video_embeds.slice(i * 512, (i + 1) * 512))));
      t.diagnostic(`lengths ${c.lengths.join(', ')} (chunked past 12): max |runtime - torch| ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `max abs error ${worst}`);
      // One group at a time gives the same vectors as the batched call.
      for (const [i, g] of groups.entries()) assert.ok(maxAbsDiff((await pooling.pool([g]))[0], pooled[i]) <= 1e-5);
      // The runtime on a group equals the raw graph on that group padded into a wider batch.
      const session = await loadPoolerSession(path.join(big, 'pooler.onnx'), { threads: 1 });
      const embeds = new Float32Array(2 * 12 * 512);
      groups[1].forEach((f, j) => embeds.set(f, j * 512));
      groups[2].forEach((f, j) => embeds.set(f, (12 + j) * 512));
      const mask = BigInt64Array.from({ length: 24 }, (_, i) => (i < groups[1].length || i >= 12 ? 1n : 0n));
      const raw = await session.run(embeds, mask, 2, 12, 512);
      await session.release();
      assert.ok(maxAbsDiff(raw.slice(0, 512), pooled[1]) <= 1e-5);
      assert.ok(maxAbsDiff(raw.slice(512), pooled[2]) <= 1e-5);
    } finally {
      await pooling.close();
    }
  });

  test('a pooler for other vectors is refused when loading', async () => {
    const cfg = await testConfig({ pooling: 'transformer', pooler: path.join(big, 'pooler.onnx'), labelSet: 'none' });
    await assert.rejects(openEngine(cfg), /trained on 512-d vectors but the model makes 8-d vectors/);
  });

  describe('in the engine', () => {
    let lib: string;
    let moved: string;
    let poolerFile: string;
    let meanCfg: Config;
    let transformerCfg: Config;
    before(async () => {
      const dir = tempDir('vidsearch-pooler8-');
      trainPy(['--init-only', '--dim', String(TEST_DIM), '--out', dir]);
      poolerFile = path.join(dir, 'pooler.onnx');
      lib = tempDir('vidsearch-lib-');
      moved = `${lib}-moved`;
      for (const n of ['red', 'green', 'blue']) await makeColorVideo(path.join(lib, `${n}.mp4`), [{ color: rgb(n), seconds: 3 }], { width: 64, height: 48, fps: 2 });
      // 25 s: three segments, and 25 frames for the whole-video vector (chunked 9 + 8 + 8)
      await makeColorVideo(path.join(lib, 'long.mp4'), [{ color: rgb('yellow'), seconds: 12 }, { color: rgb('magenta'), seconds: 13 }], { width: 64, height: 48, fps: 2 });
      meanCfg = await testConfig({ labelSet: 'none' });
      transformerCfg = { ...meanCfg, pooling: 'transformer', pooler: poolerFile };
    });

    async function expectPooledWith(cfg: Config, pool: (groups: Float32Array[][]) => Promise<Float32Array[]>) {
      const store = await Store.open(cfg);
      try {
        for (const v of await store.videos({ status: 'indexed' })) {
          const frames = await store.frames(v.id);
          const segments = await store.videoSegments(v.id);
          const expected = await pool([...segments.map((s) => frames.filter((f) => f.segmentIdx === s.idx).map((f) => f.vector)), frames.map((f) => f.vector)]);
          segments.forEach((s, i) => assert.ok(maxAbsDiff(s.vector, expected[i]) <= 1e-5, `${v.path} segment ${s.idx}`));
          assert.ok(maxAbsDiff((await store.videoVector(v.id))!, expected[segments.length]) <= 1e-5, `${v.path} video vector`);
        }
      } finally {
        await store.close();
      }
    }

    test('index with mean pooling, then switching to transformer re-pools without decoding', async () => {
      const engine = await openEngine(meanCfg, { writer: true });
      try {
        const report = await indexTargets(engine, [lib]);
        assert.equal(report.indexed.length, 4);
        assert.equal(engine.identity.pooling, 'mean');
      } finally {
        await engine.close();
      }
      // Nothing can be decoded now: the files are gone from where they were indexed.
      fs.renameSync(lib, moved);
      const engine2 = await openEngine(transformerCfg, { writer: true });
      let pooling: TransformerPooling;
      try {
        assert.ok(engine2.repooled, 'opening with another pooling re-pools');
        assert.equal(engine2.repooled.videos, 4);
        assert.equal(engine2.repooled.segments, 6);
        assert.equal(engine2.repooled.from?.pooling, 'mean');
        assert.equal(engine2.identity.pooling, 'transformer');
        const sha = crypto.createHash('sha256').update(fs.readFileSync(poolerFile)).digest('hex');
        assert.deepEqual(engine2.identity.pooler, { sha256: sha, chunkFrames: 12 });
        assert.deepEqual((await engine2.store.stats()).identity, engine2.identity);
        pooling = engine2.pooling as TransformerPooling;
        // The pooled vectors differ from mean pooling, and colour queries still find their video.
        const res = await engine2.searcher.search('red', { k: 3, rerank: false });
        assert.equal(path.basename(res.results[0].path), 'red.mp4');
        await expectPooledWith(transformerCfg, (g) => pooling.pool(g));
        const red = (await engine2.store.videos({})).find((v) => v.path.endsWith('red.mp4'))!;
        const frames = (await engine2.store.frames(red.id)).map((f) => f.vector);
        assert.ok(maxAbsDiff(meanPool(frames), (await engine2.store.videoVector(red.id))!) > 1e-3, 'a different pooling');
      } finally {
        await engine2.close();
      }
      // Opening again with the same setting does nothing.
      const again = await openEngine(transformerCfg, { writer: true });
      assert.equal(again.repooled, undefined);
      await again.close();
      fs.renameSync(moved, lib);
    });

    test('readers search the index as pooled; a store opened for another pooling says to re-pool', async () => {
      const reader = await openEngine(meanCfg);
      try {
        assert.equal(reader.identity.pooling, 'transformer');
        const res = await reader.searcher.search('blue', { k: 2 });
        assert.equal(path.basename(res.results[0].path), 'blue.mp4');
      } finally {
        await reader.close();
      }
      const stored = await Store.open(meanCfg);
      const meanIdentity = { ...stored.identity!, pooling: 'mean' as const, pooler: undefined };
      await stored.close();
      await assert.rejects(Store.open(meanCfg, { identity: meanIdentity }), (err: Error) => err instanceof StoreError && /vidsearch index --repool/.test(err.message));
    });

    test('`vidsearch index --repool` back to mean pooling (CLI); an open reader follows it', async () => {
      const reader = await openEngine(transformerCfg);
      assert.equal(reader.identity.pooling, 'transformer');
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'vidsearch.js'), 'index', '--repool', '--pooling', 'mean', '--json'], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, VIDSEARCH_HOME: meanCfg.home, VIDSEARCH_MODEL: meanCfg.model, VIDSEARCH_THREADS: '1', VIDSEARCH_LABEL_SET: 'none', VIDSEARCH_CACHE_DIR: meanCfg.cacheDir } as Record<string, string | undefined> as NodeJS.ProcessEnv,
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.pooling, 'mean');
      assert.equal(out.repooled.videos, 4);
      await expectPooledWith(meanCfg, async (g) => g.map(meanPool));
      try {
        const res = await reader.searcher.search('green', { k: 1 });
        assert.equal(path.basename(res.results[0].path), 'green.mp4');
        assert.equal(reader.identity.pooling, 'mean', 'the reader shows the pooling the index has now');
        assert.equal((await reader.store.stats()).identity?.pooling, 'mean');
      } finally {
        await reader.close();
      }
    });
  });
});
