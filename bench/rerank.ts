// Query-adaptive re-ranking in the benchmark (issue 7): what it costs a query, and what it finds.
//
//   measureRerankLatency(engine, texts)  the time re-ranking adds to Searcher.search (on vs off,
//                                        cached query vectors) and the re-scoring alone at K = 100
//   measureMomentRecall()                R@1 with and without re-ranking on the generated moment
//                                        library (test model, 25 queries over 50 videos)
//
// Standalone: `node --import tsx bench/rerank.ts [--segments 20000]` builds a synthetic library
// (bench/synthetic.ts, 10 frames of 512-d vectors per segment) with the cheap 'lite' model and
// prints both as JSON.
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../indexer/services/config';
import { loadConfiguredModel, openEngine, type OpenEngine } from '../indexer/services/engine';
import { indexTargets } from '../indexer/services/pipeline';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { rerankCandidates } from '../indexer/services/rerank';
import { buildTestModel } from '../indexer/testkit/build';
import { makeMomentLibrary } from '../indexer/testkit/moments';
import { ensureBenchModel } from './clip-b32';
import { queries } from './queries';
import { buildStore } from './synthetic';
import { log, quantile, round } from './util';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { migrate } from '../indexer/io/db/db';
import { packSegments } from '../indexer/core/framepack';

export interface RerankLatency {
  queries: number;
  /** candidate segments re-scored per query */
  candidates: number;
  framesPerQuery: number;
  searchOffP50Ms: number;
  searchOnP50Ms: number;
  /** p50 / p95 of (on - off), query by query */
  addedP50Ms: number;
  addedP95Ms: number;
  /** fetching the candidates' frames and re-scoring them, alone (wall clock) */
  rerankP50Ms: number;
  rerankP95Ms: number;
  /** the same, fastest run and CPU time: what it costs without other processes on the cores */
  rerankMinMs: number;
  rerankCpuP50Ms: number;
}

/** On an open engine over a library; `texts` are warmed into the query cache first. */
export async function measureRerankLatency(engine: OpenEngine, texts: string[], k = 10): Promise<RerankLatency> {
  const K = engine.searcher.rerank.k;
  for (const q of texts) await engine.searcher.search(q, { k, rerank: false });
  const added: number[] = [];
  const on: number[] = [];
  const off: number[] = [];
  const alone: number[] = [];
  const aloneCpu: number[] = [];
  let frames = 0;
  for (let round = 0; round < 2; round++) {
    for (const q of texts) {
      let t = performance.now();
      await engine.searcher.search(q, { k, rerank: false });
      const a = performance.now() - t;
      t = performance.now();
      await engine.searcher.search(q, { k, rerank: true });
      const b = performance.now() - t;
      off.push(a);
      on.push(b);
      added.push(b - a);
      // The re-scoring alone: the top K segments of the index, grouped by video as the searcher holds them.
      const vector = await engine.searcher.textVector(q);
      const hits = await engine.store.searchSegments(vector, K);
      const rows = new Map((await engine.store.segments(hits.map((h) => h.id))).map((s) => [s.id, s]));
      const byVideo = new Map<number, Array<{ id: number; idx: number; score: number }>>();
      for (const h of hits) {
        const s = rows.get(h.id);
        if (!s) continue;
        byVideo.set(s.videoId, [...(byVideo.get(s.videoId) ?? []), { id: s.id, idx: s.idx, score: h.score }]);
        frames += s.frameCount;
      }
      const cpu = process.cpuUsage();
      t = performance.now();
      await rerankCandidates(engine.store, vector, byVideo, engine.searcher.rerank);
      alone.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      aloneCpu.push((used.user + used.system) / 1000);
    }
  }
  const p = (xs: number[], q: number) => round(quantile(xs, q), 2);
  return {
    queries: texts.length,
    candidates: K,
    framesPerQuery: Math.round(frames / alone.length),
    searchOffP50Ms: p(off, 0.5),
    searchOnP50Ms: p(on, 0.5),
    addedP50Ms: p(added, 0.5),
    addedP95Ms: p(added, 0.95),
    rerankP50Ms: p(alone, 0.5),
    rerankP95Ms: p(alone, 0.95),
    rerankMinMs: round(Math.min(...alone), 2),
    rerankCpuP50Ms: p(aloneCpu, 0.5),
  };
}

export interface MomentRecall {
  videos: number;
  queries: number;
  temperature: number;
  meanPoolingR1: number;
  rerankedR1: number;
}

/** R@1 with and without re-ranking on the moment library (test model; needs ffmpeg, ~30 s). */
export async function measureMomentRecall(dir = path.join(os.tmpdir(), `vidsearch-bench-moments-${process.pid}`), pairs = 25): Promise<MomentRecall> {
  fs.rmSync(dir, { recursive: true, force: true });
  const lib = path.join(dir, 'videos');
  fs.mkdirSync(lib, { recursive: true });
  const cases = await makeMomentLibrary(lib, pairs);
  await buildTestModel(path.join(dir, 'model'));
  const cfg = resolveConfig({ home: path.join(dir, 'home'), model: path.join(dir, 'model'), labelSet: 'none' }, {});
  const engine = await openEngine(cfg, { writer: true });
  try {
    await indexTargets(engine, [lib]);
    const r1 = async (rerank: boolean) => {
      let hits = 0;
      for (const c of cases) if ((await engine.searcher.search(c.query, { k: 1, rerank })).results[0]?.path === c.target) hits++;
      return round((100 * hits) / cases.length, 1);
    };
    return { videos: 2 * cases.length, queries: cases.length, temperature: engine.searcher.rerank.temperature, meanPoolingR1: await r1(false), rerankedR1: await r1(true) };
  } finally {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The synthetic store (bench/synthetic.ts) writes no frame packs; add them as indexing would. */
export function backfillPacks(dbFile: string): void {
  migrate(dbFile);
  const db = new Database(dbFile);
  try {
    const missing = (db.prepare('SELECT COUNT(*) FROM Segment WHERE pack IS NULL').pluck().get() as number) > 0;
    if (!missing) return;
    const started = Date.now();
    const frames = db.prepare('SELECT segmentIdx, time, vector FROM Frame WHERE videoId = ? ORDER BY idx').raw();
    const update = db.prepare('UPDATE Segment SET pack = ? WHERE videoId = ? AND idx = ?');
    const videos = db.prepare('SELECT id FROM Video').pluck().all() as number[];
    db.transaction(() => {
      for (const id of videos) {
        const rows = (frames.all(id) as Array<[number, number, Buffer]>).map(([segmentIdx, time, v]) => ({ segmentIdx, time, vector: new Float32Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)) }));
        for (const [idx, pack] of packSegments(rows)) update.run(Buffer.from(pack.buffer), id, idx);
      }
    })();
    log(`frame packs: ${videos.length} videos in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const arg = process.argv.indexOf('--segments');
  const segments = arg > 0 ? Number(process.argv[arg + 1]) : 20_000;
  const benchDir = path.join(PROJECT_ROOT, 'data', 'bench');
  const modelDir = await ensureBenchModel(path.join(benchDir, 'model-lite'), { kind: 'lite', log });
  const home = path.join(benchDir, `rerank-library-${segments}`);
  const probe = await loadConfiguredModel(resolveConfig({ home, model: modelDir }, {}));
  const identity = { model: probe.identity, pooling: 'mean' as const };
  await probe.close();
  buildStore(home, { segments, segmentsPerVideo: 100, seed: 42 }, identity, log);
  backfillPacks(path.join(home, 'vidsearch.db'));
  const engine = await openEngine(resolveConfig({ home, model: modelDir, labelSet: 'none' }, {}));
  let latency: RerankLatency;
  try {
    latency = await measureRerankLatency(engine, queries(100, 300));
  } finally {
    await engine.close();
  }
  log(`re-ranking at K=${latency.candidates}: ${latency.addedP50Ms} ms p50 (${latency.addedP95Ms} p95) added per search; re-scoring alone ${latency.rerankP50Ms} ms p50, ${latency.rerankCpuP50Ms} ms CPU, fastest ${latency.rerankMinMs} ms`);
  if (process.argv.includes('--no-recall')) {
    process.stdout.write(JSON.stringify({ segments, latency }, null, 2) + '\n');
    return;
  }
  const recall = await measureMomentRecall();
  log(`moment library: R@1 mean pooling ${recall.meanPoolingR1}%, re-ranked ${recall.rerankedR1}%`);
  process.stdout.write(JSON.stringify({ segments, latency, recall }, null, 2) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
