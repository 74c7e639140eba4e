// `npm run bench`: how fast vidsearch is on this machine. Progress goes to stderr, results to
// stdout as tables (or one JSON object with --json).
//
//   --json    one JSON object on stdout, nothing else (`npm run -s bench -- --json`: -s keeps
//             npm's own banner off stdout)
//   --quick   small sizes: a smoke run in a few minutes
//   --large   also HNSW at 1,000,000 vectors
//   --pg-url=postgresql://…   the pgvector part on this server (a real Postgres with pgvector, an
//             empty database), at 1,000,000 segments; without it, on PGlite at 100,000
//   --only=encoder,index,memory,search,cli,reconcile,tagging,actions,rerank,pooler,decode,queue,pgvector,workers   run some parts only
//
// The model is a real-cost stand-in for CLIP ViT-B/32 (bench/clip-b32.ts): the exact shapes,
// seeded random weights. Videos, the model and the synthetic libraries are cached in data/bench.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import hnswlib from 'hnswlib-node';
import Database from 'better-sqlite3';
import { resolveConfig, sqlitePath, type Config } from '../indexer/services/config';
import { loadConfiguredModel, openEngine } from '../indexer/services/engine';
import { planTargets } from '../indexer/services/pipeline';
import { Store } from '../indexer/io/db/store';
import { loadModel } from '../indexer/io/onnx/model';
import { SegmentIndex } from '../indexer/io/ann/ann';
import { resolveTools, sampledFramesAreKeyframes, toolReport } from '../indexer/io/ffmpeg/media';
import { PROJECT_ROOT } from '../indexer/io/files/paths';
import { needsBuild } from '../scripts/serve';
import { DEFAULT_RERANK } from '../indexer/core/rerank';
import { firstRoundCandidates } from '../indexer/services/search';
import { customLabelSet, labelProbabilities, labelSet, loadLabelScorer } from '../indexer/services/actions';
import { tagVideo } from '../indexer/services/tagging';
import { l2normalize } from '../indexer/core/vectors';
import { CLIP_B32, ensureBenchModel, parameterCount, textFlops, visionFlops } from './clip-b32';
import { ensureBenchPooler, measurePoolerOverhead, type PoolerOverhead } from './pooler';
import { measureMomentRecall, type MomentRecall } from './rerank';
import type { IndexChildOptions, IndexChildResult } from './index-child';
import { queries } from './queries';
import { queueBench } from './queue';
import { pgvectorBench } from './pgvector';
import { workersBench } from './workers';
import { buildStore, DIM, exactTopK, SyntheticLibrary } from './synthetic';
import { CpuWatch, log, mb, median, quantile, round, treeRss } from './util';
import { bitrateMbps, describeVideo, ensureCodecClip, DECODE_CODECS, ensureVideo, type VideoSpec } from './video';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const JSON_OUT = flag('json');
const QUICK = flag('quick');
const LARGE = flag('large');
const PARTS = ['encoder', 'index', 'memory', 'search', 'cli', 'reconcile', 'tagging', 'actions', 'rerank', 'pooler', 'decode', 'queue', 'pgvector', 'workers'];
const USAGE = `Usage: npm run bench -- [--json] [--quick] [--large] [--pg-url=postgresql://…] [--only=${PARTS.join(',')}]`;
const PG_URL = argv.find((a) => a.startsWith('--pg-url='))?.slice('--pg-url='.length);
const ONLY = new Set((argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? PARTS.join(',')).split(','));
for (const a of argv) {
  if (!['--json', '--quick', '--large'].includes(a) && !a.startsWith('--only=') && !a.startsWith('--pg-url=')) {
    process.stderr.write(`bench: unknown option ${a}\n${USAGE}\n`);
    process.exit(2);
  }
}
for (const part of ONLY) {
  if (!PARTS.includes(part)) {
    process.stderr.write(`bench: unknown part "${part}" in --only\n${USAGE}\n`);
    process.exit(2);
  }
}

const BENCH_DIR = path.join(PROJECT_ROOT, 'data', 'bench');
const MODEL_DIR = path.join(BENCH_DIR, 'model');
const LITE_MODEL_DIR = path.join(BENCH_DIR, 'model-lite');
const CORES = os.availableParallelism();
const VARIANTS = ['fp32', 'quantized'] as const;
type Variant = (typeof VARIANTS)[number];

// Sizes: default, and --quick for a smoke run.
const ENCODER_BATCHES = QUICK ? [1, 16] : [1, 8, 16, 32];
const ENCODER_THREADS = [...new Set([1, CORES])];
const INDEX_SECONDS = QUICK ? 60 : 600;
const MEMORY_SECONDS = QUICK ? 600 : 7200;
const SEARCH_SIZES = QUICK ? [10_000] : [10_000, 100_000];
const HNSW_LARGE = 1_000_000;
const BATCH_SIZE = 16; // the engine's default
// Segments the searcher's first HNSW round asks for at k = 10 (ef is the same).
const SEARCHER_CANDIDATES = firstRoundCandidates(10, DEFAULT_RERANK.k);
// Indexing scores each video against the action labels (the engine's default set). Their text
// vectors are encoded once per model and cached; that one-time cost is measured on its own.
// --quick turns tagging off to stay short.
const LABEL_SET = QUICK ? 'none' : 'kinetics400';
const CACHE_DIR = path.join(BENCH_DIR, 'cache');

/** The two kinds of 1080p source the indexer meets: x264's default GOP (downloads, exports) and a 1 s GOP (cameras). */
const VIDEOS: Array<{ key: string; label: string; spec: VideoSpec }> = [
  { key: 'long_gop', label: 'keyframe every 8.3 s (x264 default)', spec: { width: 1920, height: 1080, rate: 30, seconds: INDEX_SECONDS, keyint: 250 } },
  { key: 'camera_gop', label: 'keyframe every 1 s (camera-like)', spec: { width: 1920, height: 1080, rate: 30, seconds: INDEX_SECONDS, keyint: 30 } },
];

interface Phase {
  seconds: number;
  backgroundPct: number;
}
const phases: Record<string, Phase> = {};

async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const watch = new CpuWatch();
  log(`── ${name}`);
  const out = await fn();
  const w = watch.stop();
  phases[name] = { seconds: round(w.seconds, 1), backgroundPct: round(w.backgroundPct, 0) };
  if (w.backgroundPct > 10) log(`warning: other processes used ${w.backgroundPct.toFixed(0)}% of the machine during "${name}"; its numbers are pessimistic`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1. Raw image-encoder throughput

interface EncoderRow {
  variant: Variant;
  threads: number;
  batch: number;
  imagesPerS: number;
  backgroundPct: number;
}

function randomPixels(batch: number, size: number, seed = 7): Float32Array {
  const out = new Float32Array(batch * 3 * size * size);
  let x = seed;
  for (let i = 0; i < out.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x / 4294967296) * 4 - 2; // roughly the range of normalized pixels
  }
  return out;
}

async function encoderBench(): Promise<{ rows: EncoderRow[]; quantizedCosine: number }> {
  const rows: EncoderRow[] = [];
  const size = CLIP_B32.vision.imageSize;
  const outputs: Partial<Record<Variant, Float32Array>> = {};
  for (const variant of VARIANTS) {
    for (const threads of ENCODER_THREADS) {
      const file = path.join(MODEL_DIR, 'onnx', `vision_model${variant === 'fp32' ? '' : '_quantized'}.onnx`);
      const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      for (const batch of ENCODER_BATCHES) {
        const pixels = new ort.Tensor('float32', randomPixels(batch, size), [batch, 3, size, size]);
        const runs = QUICK ? 3 : Math.max(4, Math.ceil(12 / batch));
        const watch = new CpuWatch();
        for (let i = 0; i < (batch === 1 ? 3 : 1); i++) await session.run({ pixel_values: pixels }); // warm-up
        const rates: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t = performance.now();
          const r = await session.run({ pixel_values: pixels });
          rates.push(batch / ((performance.now() - t) / 1000));
          if (batch === 1 && i === 0) outputs[variant] = r.image_embeds.data as Float32Array;
        }
        const row = { variant, threads, batch, imagesPerS: round(median(rates), 2), backgroundPct: round(watch.stop().backgroundPct, 0) };
        rows.push(row);
        log(`encoder ${variant} threads=${threads} batch=${batch}: ${row.imagesPerS} images/s`);
      }
      await session.release();
    }
  }
  const cos = (a: Float32Array, b: Float32Array) => {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < a.length; i++) {
      ab += a[i] * b[i];
      aa += a[i] * a[i];
      bb += b[i] * b[i];
    }
    return ab / Math.sqrt(aa * bb);
  };
  return { rows, quantizedCosine: round(cos(outputs.fp32!, outputs.quantized!), 4) };
}

const bestEncoder = (rows: EncoderRow[], variant: Variant) =>
  rows.filter((r) => r.variant === variant).reduce((a, b) => (b.imagesPerS > a.imagesPerS ? b : a), { imagesPerS: 0 } as EncoderRow);

// ---------------------------------------------------------------------------------------------
// 2. End-to-end indexing (and 2b, memory over a long video)

interface IndexRun extends IndexChildResult {
  video: string;
  variant: Variant;
  framesPerS: number;
  xRealtime: number;
  peakTreeRssMb: number;
  backgroundPct: number;
}

async function indexRun(video: string, variant: Variant, model: string, label: string, quiet = false): Promise<IndexRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-index-'));
  const opts: IndexChildOptions = { video, home, model, variant, threads: CORES, batchSize: BATCH_SIZE, labelSet: LABEL_SET, cacheDir: CACHE_DIR };
  const watch = new CpuWatch();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'index-child.ts'), JSON.stringify(opts)], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRss(child.pid!))), 200);
  let stdout = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(sampler);
  fs.rmSync(home, { recursive: true, force: true });
  if (code !== 0) throw new Error(`indexing ${label} failed (exit ${code})`);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as IndexChildResult;
  const run: IndexRun = {
    ...r,
    video: label,
    variant,
    framesPerS: round(r.frames / r.wallS, 2),
    xRealtime: round(r.duration / r.wallS, 1),
    peakTreeRssMb: Math.max(mb(peak), r.maxRssMb),
    backgroundPct: round(watch.stop().backgroundPct, 0),
  };
  if (!quiet) log(`indexed ${label} (${variant}): ${run.frames} frames in ${r.wallS.toFixed(1)} s = ${run.framesPerS} frames/s, ${run.xRealtime}x real time, peak RSS ${run.peakTreeRssMb} MB`);
  return run;
}

async function indexBench(): Promise<{ runs: IndexRun[]; labelVectorsS: Partial<Record<Variant, number>>; keyframesOnly: Record<string, boolean> }> {
  const runs: IndexRun[] = [];
  const labelVectorsS: Partial<Record<Variant, number>> = {};
  const keyframesOnly: Record<string, boolean> = {};
  if (LABEL_SET !== 'none') {
    // A 2-second video makes the engine encode (or load) the label vectors, outside the timed runs.
    const tiny = await ensureVideo(path.join(BENCH_DIR, 'videos'), { width: 320, height: 240, rate: 30, seconds: 2, keyint: 30 });
    for (const variant of VARIANTS) {
      const r = await indexRun(tiny, variant, MODEL_DIR, 'label warm-up', true);
      labelVectorsS[variant] = round(r.stages.textS, 1);
      if (r.stages.textS > 1) log(`action label vectors (${variant}, ${LABEL_SET}): encoded once in ${r.stages.textS.toFixed(0)} s, cached in ${path.relative(PROJECT_ROOT, CACHE_DIR)}`);
    }
  }
  for (const v of VIDEOS) {
    const file = await ensureVideo(path.join(BENCH_DIR, 'videos'), v.spec, log);
    keyframesOnly[v.key] = await sampledFramesAreKeyframes(file, 1);
    log(`${describeVideo(v.spec)}: ${bitrateMbps(file, v.spec.seconds).toFixed(1)} Mbit/s; decoding ${keyframesOnly[v.key] ? 'keyframes only' : 'every frame'}`);
    // Decoding every frame bounds the long-GOP run whatever the model, so its quantized run is
    // left to --large-style curiosity; both variants run on the camera-like video.
    for (const variant of VARIANTS) {
      if (v.key === 'long_gop' && variant === 'quantized' && !QUICK) continue;
      runs.push(await indexRun(file, variant, MODEL_DIR, v.key));
    }
  }
  return { runs, labelVectorsS, keyframesOnly };
}

interface MemoryRun {
  frames: number;
  peakTreeRssMb: number;
  /** RSS growth per 1,000 frames over the second half of the run */
  slopeMbPer1000Frames: number;
  firstMb: number;
  lastMb: number;
  wallS: number;
}

async function memoryBench(): Promise<MemoryRun> {
  const spec: VideoSpec = { width: 320, height: 240, rate: 5, seconds: MEMORY_SECONDS, keyint: 250 };
  const file = await ensureVideo(path.join(BENCH_DIR, 'videos'), spec, log);
  await ensureBenchModel(LITE_MODEL_DIR, { kind: 'lite', log });
  const r = await indexRun(file, 'fp32', LITE_MODEL_DIR, `${MEMORY_SECONDS / 60} min 320x240 (512-d cheap model)`);
  const half = r.rssSeries.slice(Math.floor(r.rssSeries.length / 2));
  let slope = 0;
  if (half.length >= 2) {
    const n = half.length;
    const mx = half.reduce((s, p) => s + p[0], 0) / n;
    const my = half.reduce((s, p) => s + p[1], 0) / n;
    const sxy = half.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0);
    const sxx = half.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
    slope = sxx > 0 ? (sxy / sxx) * 1000 : 0;
  }
  return {
    frames: r.frames,
    peakTreeRssMb: r.peakTreeRssMb,
    slopeMbPer1000Frames: round(slope, 2),
    firstMb: r.rssSeries[0]?.[1] ?? 0,
    lastMb: r.rssSeries.at(-1)?.[1] ?? 0,
    wallS: round(r.wallS, 1),
  };
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. HNSW and query latency on synthetic libraries

interface HnswResult {
  vectors: number;
  buildS: number;
  memoryMb: number;
  fileMb: number;
  /** recall@10 of what the searcher asks for (SEARCHER_CANDIDATES, ef the same), and of a plain k=10 search */
  recallAt10: number;
  recallAt10K10: number;
  /** recall@10 by ef, for tuning */
  recallByEf: Record<string, number>;
  hnswQueryMs: number;
  exactQueryMs: number;
}

interface LatencyResult {
  segments: number;
  videos: number;
  textEncodeP50Ms: number;
  textEncodeP99Ms: number;
  annP50Ms: number;
  annP99Ms: number;
  firstQueryMs: number;
  uncachedP50Ms: number;
  uncachedP99Ms: number;
  cachedP50Ms: number;
  cachedP99Ms: number;
  /** cached, without the query-adaptive re-ranking of the candidates */
  cachedNoRerankP50Ms: number;
  cachedNoRerankP99Ms: number;
  /** health: GET /api/health, what a monitor polls */
  http: { uncachedP50Ms: number; uncachedP99Ms: number; cachedP50Ms: number; cachedP99Ms: number; healthP50Ms: number } | null;
  httpNote?: string;
}

const p = (xs: number[], q: number) => round(quantile(xs, q), 2);

function measureHnsw(ann: SegmentIndex, vectors: Float32Array, ids: Int32Array | null, lib: SyntheticLibrary, buildS: number, memoryBytes: number): HnswResult {
  const n = vectors.length / DIM;
  const qs = lib.queries(QUICK ? 50 : 200, 99);
  const labelOf = (row: number) => (ids ? ids[row] : row);
  const exactMs: number[] = [];
  const truth = qs.map((q) => {
    const t = performance.now();
    const top = exactTopK(vectors, q, 10);
    exactMs.push(performance.now() - t);
    return new Set(Array.from(top, labelOf));
  });
  const recall = (hits: number[][]) => round(hits.reduce((s, h, i) => s + h.slice(0, 10).filter((id) => truth[i].has(id)).length, 0) / (10 * qs.length), 4);
  const annMs: number[] = [];
  const searcherHits = qs.map((q) => {
    const t = performance.now();
    const h = ann.search(q, SEARCHER_CANDIDATES).map((x) => x.id);
    annMs.push(performance.now() - t);
    return h;
  });
  const k10 = qs.map((q) => ann.search(q, 10).map((x) => x.id));
  // ef sweep on the underlying index (SegmentIndex sets ef by core/hnsw.ts searchEf itself).
  const raw = (ann as unknown as { index: hnswlib.HierarchicalNSW }).index;
  const recallByEf: Record<string, number> = {};
  for (const ef of [50, 100, 200, 400]) {
    raw.setEf(ef);
    recallByEf[ef] = recall(qs.map((q) => raw.searchKnn(Array.from(q), 10).neighbors));
  }
  return {
    vectors: n,
    buildS: round(buildS, 1),
    memoryMb: Math.max(0, mb(memoryBytes)),
    fileMb: mb(ann.fileBytes()),
    recallAt10: recall(searcherHits),
    recallAt10K10: recall(k10),
    recallByEf,
    hnswQueryMs: round(median(annMs), 3),
    exactQueryMs: round(median(exactMs), 2),
  };
}

function buildHnsw(home: string, vectors: Float32Array, ids: Int32Array | null): { ann: SegmentIndex; buildS: number; memoryBytes: number } {
  const n = vectors.length / DIM;
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const ann = new SegmentIndex(home, DIM);
  const t = performance.now();
  ann.reset(n + 16);
  for (let i = 0; i < n; i++) {
    ann.add(ids ? ids[i] : i, vectors.subarray(i * DIM, (i + 1) * DIM));
    if (i > 0 && i % 100_000 === 0) log(`hnsw: ${i}/${n} added`);
  }
  const buildS = (performance.now() - t) / 1000;
  return { ann, buildS, memoryBytes: process.memoryUsage().rss - rss0 };
}

function benchConfig(home: string, variant: Variant = 'fp32', threads = CORES): Config {
  return resolveConfig({ home, model: MODEL_DIR, variant, threads, batchSize: BATCH_SIZE }, {});
}

async function textEncodeLatency(variant: Variant, texts: string[]): Promise<{ p50: number; p99: number; tokens: number }> {
  const model = await loadModel({ model: MODEL_DIR, modelsDir: MODEL_DIR, variant, threads: CORES, hashCacheFile: path.join(BENCH_DIR, 'model-hashes.json') });
  try {
    for (const t of texts.slice(0, 5)) await model.encodeTexts([t]); // warm-up
    const ms: number[] = [];
    for (const t of texts) {
      const s = performance.now();
      await model.encodeTexts([t]);
      ms.push(performance.now() - s);
    }
    const tokens = median(texts.map((t) => model.tokenizer.encode(t).length));
    return { p50: p(ms, 0.5), p99: p(ms, 0.99), tokens };
  } finally {
    await model.close();
  }
}

async function httpLatency(home: string, uncached: string[], cached: string[]): Promise<LatencyResult['http'] | string> {
  const nextBin = path.join(PROJECT_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
  if (needsBuild()) {
    // A stale build would measure old code; build outside the timing, its output on stderr.
    log('http: building the app (next build), as npm start would');
    const build = spawn(process.execPath, [nextBin, 'build'], { cwd: PROJECT_ROOT, env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' }, stdio: ['ignore', 2, 2] });
    const code = await new Promise<number | null>((resolve) => build.once('close', resolve));
    if (code !== 0) return `skipped: next build failed (exit ${code})`;
  }
  const port = 3900 + Math.floor(Math.random() * 90);
  const server = spawn(process.execPath, [nextBin, 'start', '-p', String(port), '-H', '127.0.0.1'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', VIDSEARCH_HOME: home, VIDSEARCH_MODEL: MODEL_DIR, VIDSEARCH_VARIANT: 'fp32', DATABASE_URL: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  server.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const base = `http://127.0.0.1:${port}`;
  const get = async (q: string) => {
    const t = performance.now();
    const res = await fetch(`${base}/api/search?q=${encodeURIComponent(q)}&k=10`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`/api/search answered ${res.status}`);
    return performance.now() - t;
  };
  try {
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await get('warm up the engine');
        break;
      } catch (err) {
        if (Date.now() > deadline || server.exitCode !== null) return `skipped: the server did not answer (${(err as Error).message}; ${stderr.trim().split('\n').pop() ?? ''})`;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    for (const q of cached) await get(q);
    const unc: number[] = [];
    for (const q of uncached) unc.push(await get(q));
    const cac: number[] = [];
    for (let i = 0; i < 2; i++) for (const q of cached) cac.push(await get(q));
    const health: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      const res = await fetch(`${base}/api/health`);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`/api/health answered ${res.status}`);
      health.push(performance.now() - t);
    }
    return { uncachedP50Ms: p(unc, 0.5), uncachedP99Ms: p(unc, 0.99), cachedP50Ms: p(cac, 0.5), cachedP99Ms: p(cac, 0.99), healthP50Ms: p(health, 0.5) };
  } finally {
    try {
      process.kill(-server.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

async function searchBench(): Promise<{ hnsw: HnswResult[]; latency: LatencyResult[]; text: Record<Variant, { p50: number; p99: number; tokens: number }> }> {
  const hnsw: HnswResult[] = [];
  const latency: LatencyResult[] = [];
  // Identity of the bench model, recorded in the synthetic stores so the engine accepts them.
  const probeHome = path.join(BENCH_DIR, 'identity');
  const model = await loadConfiguredModel(benchConfig(probeHome));
  const identity = { model: model.identity, pooling: 'mean' as const };
  await model.close();

  const texts = queries(QUICK ? 24 : 50);
  const text = {} as Record<Variant, { p50: number; p99: number; tokens: number }>;
  for (const variant of VARIANTS) {
    text[variant] = await textEncodeLatency(variant, queries(QUICK ? 30 : 100, 500));
    log(`text encoder ${variant}: p50 ${text[variant].p50} ms, p99 ${text[variant].p99} ms (${text[variant].tokens} tokens)`);
  }

  for (const segments of SEARCH_SIZES) {
    const shape = { segments, segmentsPerVideo: 100, seed: 42 };
    const home = path.join(BENCH_DIR, `library-${segments}`);
    const built = buildStore(home, shape, identity, log);
    const lib = new SyntheticLibrary(shape);
    log(`hnsw: building over ${segments} vectors`);
    const { ann, buildS, memoryBytes } = buildHnsw(home, built.vectors, built.ids);
    ann.save(1);
    const h = measureHnsw(ann, built.vectors, built.ids, lib, buildS, memoryBytes);
    hnsw.push(h);
    log(`hnsw ${segments}: build ${h.buildS} s, recall@10 ${h.recallAt10} (searcher) / ${h.recallAt10K10} (k=10), ${h.hnswQueryMs} ms vs exact ${h.exactQueryMs} ms`);

    const engine = await openEngine(benchConfig(home));
    try {
      const first = performance.now();
      await engine.searcher.search(texts[0]);
      const firstQueryMs = performance.now() - first;
      const annMs: number[] = [];
      for (const q of lib.queries(200, 7)) {
        const t = performance.now();
        await engine.store.searchSegments(q, SEARCHER_CANDIDATES);
        annMs.push(performance.now() - t);
      }
      const uncachedTexts = texts.slice(1, texts.length / 2);
      const cachedTexts = texts.slice(texts.length / 2);
      const unc: number[] = [];
      for (const q of uncachedTexts) {
        const t = performance.now();
        await engine.searcher.search(q);
        unc.push(performance.now() - t);
      }
      for (const q of cachedTexts) await engine.searcher.search(q);
      const cac: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < 2; i++) {
        for (const q of cachedTexts) {
          let t = performance.now();
          await engine.searcher.search(q);
          cac.push(performance.now() - t);
          t = performance.now();
          await engine.searcher.search(q, { rerank: false });
          plain.push(performance.now() - t);
        }
      }
      latency.push({
        segments,
        videos: built.videos,
        textEncodeP50Ms: text.fp32.p50,
        textEncodeP99Ms: text.fp32.p99,
        annP50Ms: p(annMs, 0.5),
        annP99Ms: p(annMs, 0.99),
        firstQueryMs: round(firstQueryMs, 1),
        uncachedP50Ms: p(unc, 0.5),
        uncachedP99Ms: p(unc, 0.99),
        cachedP50Ms: p(cac, 0.5),
        cachedP99Ms: p(cac, 0.99),
        cachedNoRerankP50Ms: p(plain, 0.5),
        cachedNoRerankP99Ms: p(plain, 0.99),
        http: null,
      });
    } finally {
      await engine.close();
    }
    const last = latency.at(-1)!;
    log(`search ${segments}: uncached p50 ${last.uncachedP50Ms} ms p99 ${last.uncachedP99Ms} ms; cached p50 ${last.cachedP50Ms} ms p99 ${last.cachedP99Ms} ms`);
    // Over HTTP at the largest size only (the target's), to keep the run short.
    const http = segments === SEARCH_SIZES.at(-1) ? await httpLatency(home, queries(QUICK ? 12 : 25, 900), queries(QUICK ? 12 : 25, 1000)) : null;
    if (http === null) continue;
    if (typeof http === 'string') {
      last.httpNote = http;
      log(`http ${segments}: ${last.httpNote}`);
    } else {
      last.http = http;
      log(`http ${segments}: uncached p50 ${http.uncachedP50Ms} ms, cached p50 ${http.cachedP50Ms} ms`);
    }
  }

  if (LARGE) {
    const shape = { segments: HNSW_LARGE, segmentsPerVideo: 100, seed: 43 };
    const lib = new SyntheticLibrary(shape);
    log(`hnsw: generating ${HNSW_LARGE} vectors`);
    const vectors = lib.segmentVectors();
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-hnsw-'));
    try {
      const { ann, buildS, memoryBytes } = buildHnsw(home, vectors, null);
      ann.save(1);
      const h = measureHnsw(ann, vectors, null, lib, buildS, memoryBytes);
      hnsw.push(h);
      log(`hnsw ${HNSW_LARGE}: build ${h.buildS} s, recall@10 ${h.recallAt10}`);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  return { hnsw, latency, text };
}

// ---------------------------------------------------------------------------------------------
// 3b. A search from the command line: a whole process (tsx, Prisma, ONNX Runtime, the text encoder,
// the HNSW file), as a user who types `vidsearch search` waits for it.

interface CliSearchResult {
  segments: number;
  runs: number;
  wallP50Ms: number;
  wallMaxMs: number;
  peakRssMb: number;
}

/** Runs one command and reports its wall time and peak RSS (VmHWM, polled until it exits). */
async function timedProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; peakBytes: number; code: number | null }> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let peak = 0;
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited between polls
    }
  }, 5);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(poll);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`);
  return { ms: performance.now() - t0, peakBytes: peak, code };
}

/** The synthetic library of the smallest search size, with the bench model's identity (built once, reused). */
async function benchLibrary(): Promise<{ home: string; segments: number; built: ReturnType<typeof buildStore> }> {
  const segments = SEARCH_SIZES[0];
  const home = path.join(BENCH_DIR, `library-${segments}`);
  const model = await loadConfiguredModel(benchConfig(path.join(BENCH_DIR, 'identity')));
  const identity = { model: model.identity, pooling: 'mean' as const };
  await model.close();
  return { home, segments, built: buildStore(home, { segments, segmentsPerVideo: 100, seed: 42 }, identity, log) };
}

async function cliBench(): Promise<CliSearchResult> {
  const { home, segments } = await benchLibrary();
  const env = { ...process.env, VIDSEARCH_HOME: home, VIDSEARCH_MODEL: MODEL_DIR, VIDSEARCH_THREADS: String(CORES) };
  const bin = path.join(PROJECT_ROOT, 'bin', 'vidsearch.js');
  const texts = queries(QUICK ? 4 : 8, 900);
  await timedProcess(process.execPath, [bin, 'search', texts[0], '--json'], env); // warm the page cache and the hash cache
  const runs = [];
  for (const q of texts) runs.push(await timedProcess(process.execPath, [bin, 'search', q, '--json'], env));
  const ms = runs.map((r) => r.ms);
  return { segments, runs: runs.length, wallP50Ms: round(median(ms), 0), wallMaxMs: round(Math.max(...ms), 0), peakRssMb: mb(Math.max(...runs.map((r) => r.peakBytes))) };
}

// ---------------------------------------------------------------------------------------------
// 5. Reconciling a folder whose files are all indexed and unchanged: one stat per file, no decoding

async function reconcileBench(): Promise<{ files: number; p50Ms: number; runs: number[] }> {
  const files = QUICK ? 1000 : 10_000;
  const dir = path.join(BENCH_DIR, `reconcile-${files}`);
  fs.mkdirSync(dir, { recursive: true });
  // Tiny placeholder files: reconciling only stats them, and the rows below say they are indexed.
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, `clip-${String(i).padStart(5, '0')}.mp4`);
    if (!fs.existsSync(file)) fs.writeFileSync(file, `placeholder ${i}`);
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'vidsearch-bench-reconcile-'));
  // The store alone: reconciling never touches the model.
  const cfg = benchConfig(home);
  const store = await Store.open(cfg, { writer: true });
  try {
    const rows = fs.readdirSync(dir).map((name) => {
      const file = path.join(dir, name);
      const st = fs.statSync(file);
      return { path: file, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
    });
    // Rows that say the files are indexed (without vectors): written as pending through the store,
    // then marked indexed on the database file directly, as the synthetic library is (synthetic.ts).
    await store.markPendingMany(rows);
    const db = new Database(sqlitePath(cfg.databaseUrl), { timeout: 15_000, fileMustExist: true });
    db.prepare(`UPDATE "Video" SET "status" = 'indexed'`).run();
    db.close();
    const runs: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      const plan = await planTargets(store, [dir]);
      const ms = performance.now() - t;
      if (plan.unchanged.length !== files || plan.work.length !== 0) throw new Error(`reconcile saw ${plan.unchanged.length} unchanged and ${plan.work.length} to index, expected ${files} and 0`);
      if (i > 0) runs.push(Math.round(ms)); // the first one warms the file system cache and SQLite
    }
    const p50Ms = Math.round(median(runs));
    log(`reconcile of ${files} unchanged files: p50 ${p50Ms} ms`);
    return { files, p50Ms, runs };
  } finally {
    await store.close();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// 6. Action tagging: scoring pooled vectors against Kinetics-400's prompts (prompt ensembling)

interface TaggingRun {
  vectors: number;
  p50Ms: number;
  msPerVector: number;
}

async function taggingBench(): Promise<{ labels: number; templates: number; threads: number; runs: TaggingRun[] }> {
  const set = labelSet('kinetics400');
  const T = set.templates.length;
  const L = set.labels.length;
  // Seeded random prompt vectors: the cost is the product, not what the vectors say.
  let seed = 11;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const unit = () => l2normalize(Float32Array.from({ length: DIM }, random));
  const lv = { set, dim: DIM, data: new Float32Array(T * L * DIM) };
  for (let i = 0; i < T * L; i++) lv.data.set(unit(), i * DIM);
  const scorer = await loadLabelScorer(CORES);
  const runs: TaggingRun[] = [];
  try {
    // A video vector alone; a 10-minute video (60 segments + the video); a 2-hour one (720 + 1).
    for (const n of [1, 61, 721]) {
      const vectors = Array.from({ length: n }, unit);
      for (let i = 0; i < 2; i++) await labelProbabilities(scorer, lv, vectors);
      const times: number[] = [];
      for (let i = 0; i < (QUICK ? 3 : n > 100 ? 7 : 21); i++) {
        const t = performance.now();
        await labelProbabilities(scorer, lv, vectors);
        times.push(performance.now() - t);
      }
      const p50Ms = round(median(times), 2);
      runs.push({ vectors: n, p50Ms, msPerVector: round(p50Ms / n, 3) });
      log(`tagging ${n} vectors against ${L} labels x ${T} templates: p50 ${p50Ms} ms`);
    }
  } finally {
    await scorer.release();
  }
  return { labels: L, templates: T, threads: CORES, runs };
}

// ---------------------------------------------------------------------------------------------
// 6b. Tagging a stored video with a cached label set: the work of POST /api/actions with a video
// id (test/actions-api.test.ts logs the same figure on the test model; it asserts no time)

interface ActionsLatency {
  videos: number;
  segmentsPerVideo: number;
  labels: number;
  p50Ms: number;
  maxMs: number;
}

async function actionsBench(): Promise<ActionsLatency> {
  const { home, built } = await benchLibrary();
  const engine = await openEngine(benchConfig(home));
  try {
    const set = customLabelSet(['a red car', 'a dog', 'cooking', 'dancing', 'surfing', 'reading a book', 'playing guitar', 'a crowd']);
    const [video] = await engine.store.videos({ status: 'indexed' });
    if (!video) throw new Error('the benchmark library has no indexed video');
    // The first call encodes the labels' prompts and caches them (not timed): then it is a lookup.
    await tagVideo(engine, video.id, set);
    const times: number[] = [];
    for (let i = 0; i < (QUICK ? 11 : 31); i++) {
      const t = performance.now();
      await tagVideo(engine, video.id, set);
      times.push(performance.now() - t);
    }
    const p50Ms = round(median(times), 1);
    log(`tagging a stored video (${set.labels.length} custom labels, cached): p50 ${p50Ms} ms`);
    return { videos: built.videos, segmentsPerVideo: 100, labels: set.labels.length, p50Ms, maxMs: round(Math.max(...times), 1) };
  } finally {
    await engine.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 7 and 8. Issue 7: what re-ranking finds (its cost is in part 3), and what the transformer
// pooler adds to indexing

async function rerankBench(): Promise<MomentRecall> {
  const r = await measureMomentRecall();
  log(`re-ranking: R@1 ${r.rerankedR1}% with, ${r.meanPoolingR1}% without (${r.queries} queries over ${r.videos} videos)`);
  return r;
}

async function poolerBench(): Promise<PoolerOverhead | string> {
  let poolerFile: string;
  try {
    poolerFile = ensureBenchPooler(BENCH_DIR);
  } catch (err) {
    log(`pooler: skipped: ${(err as Error).message}`);
    return `skipped: ${(err as Error).message}`;
  }
  const r = await measurePoolerOverhead({ modelDir: MODEL_DIR, poolerFile });
  log(`pooler: +${r.overheadPct}% of encoding at ${r.framesPerSegment} frames per segment`);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Report

function table(title: string, head: string[], rows: Array<Array<string | number | null>>): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === null ? '–' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [`\n${title}`, line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// 9. Decoding cost per codec: what ffmpeg spends before vidsearch sees a frame

interface DecodeRow {
  codec: string;
  encoder: string;
  decoder: string;
  frames: number;
  /** CPU seconds (user + system) to decode every frame, per minute of 1080p30 */
  cpuSPerMinute: number;
  /** decoding speed in real time, on as many threads as ffmpeg takes */
  xRealtime: number;
}

/** Decodes every frame of a 1080p30 clip per codec the bundled ffmpeg can make, to nothing; ffmpeg's -benchmark counts the CPU. */
async function decodeBench(): Promise<{ rows: DecodeRow[]; skipped: string[] }> {
  const { ffmpeg } = resolveTools();
  const report = await toolReport();
  const rows: DecodeRow[] = [];
  const skipped: string[] = [];
  for (const codec of DECODE_CODECS) {
    const decoders = report.decoders[codec.name as keyof typeof report.decoders];
    if (!decoders?.length) {
      skipped.push(`${codec.name}: no decoder`);
      continue;
    }
    const clip = await ensureCodecClip(path.join(BENCH_DIR, 'videos'), codec, QUICK, log).catch((err: Error) => {
      skipped.push(`${codec.name}: cannot encode (${err.message.split('\n')[0]})`);
      return undefined;
    });
    if (!clip) continue;
    const runs: Array<{ cpu: number; wall: number; frames: number }> = [];
    for (let i = 0; i < 3; i++) {
      const r = await new Promise<string>((resolve, reject) => {
        const child = spawn(ffmpeg, ['-nostdin', '-hide_banner', '-nostats', '-benchmark', '-i', clip.file, '-map', '0:v:0', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        child.stderr.on('data', (c: Buffer) => (err += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(`ffmpeg exit ${code}: ${err.slice(-300)}`))));
      });
      const bench = /bench: utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s/.exec(r);
      const frames = Number(/frame=\s*(\d+)/.exec(r)?.[1] ?? clip.frames);
      if (bench) runs.push({ cpu: Number(bench[1]) + Number(bench[2]), wall: Number(bench[3]), frames });
    }
    if (!runs.length) continue;
    const cpu = median(runs.map((r) => r.cpu));
    const wall = median(runs.map((r) => r.wall));
    const frames = runs[0].frames;
    const seconds = frames / 30;
    rows.push({ codec: codec.name, encoder: codec.encoder, decoder: decoders[0], frames, cpuSPerMinute: round((cpu / seconds) * 60, 1), xRealtime: round(seconds / wall, 1) });
    log(`${codec.name}: ${frames} frames, ${round((cpu / seconds) * 60, 1)} CPU s per minute of 1080p30`);
  }
  return { rows, skipped };
}

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: CORES,
    memoryGb: round(os.totalmem() / 1024 ** 3, 0),
    node: process.version,
    onnxruntime: (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string }).version,
  };
  log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB; ${QUICK ? 'quick run' : 'full run'}`);
  // Decoding alone needs no model.
  if ([...ONLY].some((part) => part !== 'decode' && part !== 'pgvector' && part !== 'workers')) await phase('model', () => ensureBenchModel(MODEL_DIR, { log }));
  const typicalTokens = 12;
  const flops = {
    imageGflops: round(visionFlops() / 1e9, 2),
    queryGflopsTypical: round(textFlops(typicalTokens) / 1e9, 2),
    queryGflopsFull77: round(textFlops(77) / 1e9, 2),
    params: parameterCount(),
  };
  log(`model: ${flops.imageGflops} GFLOPs per image, ${flops.queryGflopsTypical} per ${typicalTokens}-token query (${flops.queryGflopsFull77} padded to 77)`);

  const encoder = ONLY.has('encoder') ? await phase('encoder', encoderBench) : undefined;
  const indexed = ONLY.has('index') ? await phase('index', indexBench) : undefined;
  const index = indexed?.runs;
  const memory = ONLY.has('memory') ? await phase('memory', memoryBench) : undefined;
  const search = ONLY.has('search') ? await phase('search', searchBench) : undefined;
  const cli = ONLY.has('cli') ? await phase('cli', cliBench) : undefined;
  const reconcile = ONLY.has('reconcile') ? await phase('reconcile', reconcileBench) : undefined;
  const tagging = ONLY.has('tagging') ? await phase('tagging', taggingBench) : undefined;
  const actions = ONLY.has('actions') ? await phase('actions', actionsBench) : undefined;
  const rerank = ONLY.has('rerank') ? await phase('rerank', rerankBench) : undefined;
  const pooler = ONLY.has('pooler') ? await phase('pooler', poolerBench) : undefined;
  const decode = ONLY.has('decode') ? await phase('decode', decodeBench) : undefined;
  const queue = ONLY.has('queue') ? await phase('queue', async () => (await ensureBenchModel(LITE_MODEL_DIR, { kind: 'lite', log }), queueBench({ quick: QUICK, modelDir: LITE_MODEL_DIR, videoDir: path.join(BENCH_DIR, 'videos'), log }))) : undefined;
  // PGlite builds HNSW single-threaded: 100,000 segments is minutes there, 1,000,000 only on a real server.
  const pgvector = ONLY.has('pgvector')
    ? await phase('pgvector', () => pgvectorBench({ segments: PG_URL ? HNSW_LARGE : QUICK ? 10_000 : 100_000, pgUrl: PG_URL, benchDir: BENCH_DIR, log }))
    : undefined;
  const workers = ONLY.has('workers') ? await phase('workers', async () => (await ensureBenchModel(LITE_MODEL_DIR, { kind: 'lite', log }), workersBench({ quick: QUICK, modelDir: LITE_MODEL_DIR, videoDir: path.join(BENCH_DIR, 'videos'), log }))) : undefined;

  // Headline numbers: the engine's defaults (fp32, batch 16, all cores) on the harder video.
  const encBest = encoder ? bestEncoder(encoder.rows, 'fp32') : undefined;
  const encBestQ = encoder ? bestEncoder(encoder.rows, 'quantized') : undefined;
  const headline = index?.find((r) => r.video === 'long_gop' && r.variant === 'fp32');
  const camera = index?.find((r) => r.video === 'camera_gop' && r.variant === 'fp32');
  const cameraQ = index?.find((r) => r.video === 'camera_gop' && r.variant === 'quantized');
  const ratio = (r: IndexRun) => {
    const best = encoder ? bestEncoder(encoder.rows, r.variant).imagesPerS : NaN;
    return round(r.framesPerS / best, 3);
  };
  const lat100 = search?.latency.find((l) => l.segments === 100_000) ?? search?.latency.at(-1);
  const hnswMain = search?.hnsw.find((h) => h.vectors === 100_000) ?? search?.hnsw[0];
  const tenMinPeak = headline?.peakTreeRssMb ?? null;
  // The real-cost run's peak plus the long run's growth per frame (never negative) over the rest of 2 h.
  const memoryEstimate2h = memory && tenMinPeak !== null ? Math.round(tenMinPeak + (Math.max(0, memory.slopeMbPer1000Frames) * (7200 - (headline?.frames ?? 600))) / 1000) : null;

  const out = {
    quick: QUICK,
    machine,
    queue,
    pgvector,
    workers: workers ? { ...workers, backgroundPct: phases.workers?.backgroundPct ?? null } : null,
    model: { name: 'CLIP ViT-B/32 shapes, random weights', ...flops },
    encoder_images_per_s: encBest?.imagesPerS ?? null,
    encoder_best: encBest ? { threads: encBest.threads, batch: encBest.batch } : null,
    encoder_quantized_images_per_s: encBestQ?.imagesPerS ?? null,
    quantized_vs_fp32_cosine: encoder?.quantizedCosine ?? null,
    index_frames_per_s: headline?.framesPerS ?? null,
    index_vs_encoder_ratio: headline ? ratio(headline) : null,
    index_x_realtime: headline?.xRealtime ?? null,
    index_peak_rss_mb: headline?.peakTreeRssMb ?? null,
    index_camera_frames_per_s: camera?.framesPerS ?? null,
    index_camera_vs_encoder_ratio: camera ? ratio(camera) : null,
    index_camera_quantized_frames_per_s: cameraQ?.framesPerS ?? null,
    index_camera_quantized_vs_encoder_ratio: cameraQ ? ratio(cameraQ) : null,
    index_2h_peak_rss_mb_estimate: memoryEstimate2h,
    search_p50_ms: lat100?.uncachedP50Ms ?? null,
    search_p99_ms: lat100?.uncachedP99Ms ?? null,
    search_cached_p50_ms: lat100?.cachedP50Ms ?? null,
    search_cached_p99_ms: lat100?.cachedP99Ms ?? null,
    http_search_p50_ms: lat100?.http?.uncachedP50Ms ?? null,
    http_search_cached_p50_ms: lat100?.http?.cachedP50Ms ?? null,
    http_health_p50_ms: lat100?.http?.healthP50Ms ?? null,
    recall_at_10: hnswMain?.recallAt10 ?? null,
    hnsw_build_s: hnswMain?.buildS ?? null,
    cli_search_wall_ms: cli?.wallP50Ms ?? null,
    queue_claim_finish_p50_ms: queue?.claimFinishP50Ms ?? null,
    queue_pg_claim_finish_p50_ms: queue && !('error' in queue.postgres) ? queue.postgres.claimFinishP50Ms : null,
    queue_idle_worker_cpu_ms_per_min: queue?.idleWorkerCpuMsPerMin ?? null,
    queue_index_time_vs_direct: queue?.throughput[0].queueOverDirect ?? null,
    queue_index_cpu_vs_direct: queue?.throughput[0].queueOverDirectCpu ?? null,
    queue_index_best_time_vs_direct: queue?.throughput[0].queueOverDirectBest ?? null,
    queue_index_queue_code_pct: queue?.throughput[0].queueCodePct ?? null,
    cli_search_peak_rss_mb: cli?.peakRssMb ?? null,
    reconcile_unchanged_ms: reconcile?.p50Ms ?? null,
    reconcile_files: reconcile?.files ?? null,
    tagging_10min_video_ms: tagging?.runs.find((r) => r.vectors === 61)?.p50Ms ?? null,
    tag_stored_video_cached_ms: actions?.p50Ms ?? null,
    rerank_added_ms: lat100 ? round(lat100.cachedP50Ms - lat100.cachedNoRerankP50Ms, 2) : null,
    rerank_r1: rerank ? { with: rerank.rerankedR1, without: rerank.meanPoolingR1 } : null,
    pooler_overhead_pct: typeof pooler === 'object' ? pooler.overheadPct : null,
    rerank_moments: rerank ?? null,
    pooler: pooler ?? null,
    decode: decode ?? null,
    tagging: tagging ?? null,
    actions: actions ?? null,
    encoder: encoder?.rows ?? null,
    index: index?.map((r) => ({ ...r, ratio: ratio(r), keyframesOnly: indexed!.keyframesOnly[r.video], rssSeries: undefined })) ?? null,
    label_vectors_once_s: indexed?.labelVectorsS ?? null,
    memory: memory ?? null,
    text_encoder: search?.text ?? null,
    search: search?.latency ?? null,
    hnsw: search?.hnsw ?? null,
    phases,
    total_s: round((Date.now() - started) / 1000, 0),
  };

  if (JSON_OUT) {
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
    return;
  }
  const lines: string[] = [];
  lines.push(`vidsearch benchmark${QUICK ? ' (--quick)' : ''}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, onnxruntime ${machine.onnxruntime}`);
  lines.push(`model: CLIP ViT-B/32 shapes (random weights): ${flops.imageGflops} GFLOPs/image, ${flops.queryGflopsTypical} GFLOPs/query of ${typicalTokens} tokens (${flops.queryGflopsFull77} if padded to 77); ${(flops.params.vision / 1e6).toFixed(1)}M + ${(flops.params.text / 1e6).toFixed(1)}M parameters`);
  if (encoder) {
    lines.push(table('1. image encoder, images/s (median)', ['variant', 'threads', ...ENCODER_BATCHES.map((b) => `batch ${b}`)], VARIANTS.flatMap((v) => ENCODER_THREADS.map((t) => [v, t, ...ENCODER_BATCHES.map((b) => encoder.rows.find((r) => r.variant === v && r.threads === t && r.batch === b)?.imagesPerS ?? null)]))));
    lines.push(`quantized vs fp32 output cosine (same input): ${encoder.quantizedCosine}`);
  }
  if (index) {
    lines.push(table(`2. indexing ${INDEX_SECONDS / 60} min of 1080p30 H.264 (14 Mbit/s) at 1 fps (batch ${BATCH_SIZE}, ${CORES} threads, action labels: ${LABEL_SET})`, ['video', 'decodes', 'variant', 'frames/s', 'x real time', 'vs encoder', 'inference s', 'preproc s', 'storage s', 'waiting s', 'ffmpeg cpu s', 'peak RSS MB', 'bg load %'], index.map((r) => [r.video, indexed!.keyframesOnly[r.video] ? 'keyframes' : 'all frames', r.variant, r.framesPerS, r.xRealtime, ratio(r), round(r.stages.inferenceS, 1), round(r.stages.preprocessS, 1), round(r.stages.storageS, 1), round(r.stages.otherS, 1), round(r.decodeCpuS, 1), r.peakTreeRssMb, r.backgroundPct])));
    lines.push('  long_gop: keyframe every 8.3 s (x264 default); camera_gop: keyframe every 1 s. vs encoder: frames/s over the best raw encoder rate of the variant.');
    lines.push('  inference/preproc/storage: wall time in each; waiting: the rest (frames not decoded yet, probing, tagging). ffmpeg cpu: decoding, overlapped with inference.');
    const lv = indexed!.labelVectorsS;
    if (Object.keys(lv).length) lines.push(`  one-time cost per model, not in the runs above: encoding the ${LABEL_SET} action prompts: ${Object.entries(lv).map(([k, v]) => `${k} ${v} s`).join(', ')} (0 = already cached)`);
  }
  if (memory) {
    lines.push(`\n2b. memory over ${MEMORY_SECONDS >= 3600 ? `${MEMORY_SECONDS / 3600} h` : `${MEMORY_SECONDS / 60} min`} of video (${memory.frames} frames, 512-d cheap model): peak ${memory.peakTreeRssMb} MB, RSS ${memory.firstMb} → ${memory.lastMb} MB, growth ${memory.slopeMbPer1000Frames} MB per 1,000 frames`);
    if (memoryEstimate2h !== null) lines.push(`    estimated peak for a 2 h 1080p video with the real-cost model: ${memoryEstimate2h} MB`);
  }
  if (search) {
    lines.push(table('3. query latency, ms', ['segments', 'text p50', 'text p99', 'hnsw p50', 'first query', 'search p50', 'search p99', 'cached p50', 'cached p99', 'no-rerank cached p50', 'http p50', 'http p99', 'http cached p50'], search.latency.map((l) => [l.segments, l.textEncodeP50Ms, l.textEncodeP99Ms, l.annP50Ms, l.firstQueryMs, l.uncachedP50Ms, l.uncachedP99Ms, l.cachedP50Ms, l.cachedP99Ms, l.cachedNoRerankP50Ms, l.http?.uncachedP50Ms ?? null, l.http?.uncachedP99Ms ?? null, l.http?.cachedP50Ms ?? null])));
    lines.push(`  text encoder alone: fp32 p50 ${search.text.fp32.p50} ms / p99 ${search.text.fp32.p99} ms; quantized p50 ${search.text.quantized.p50} ms / p99 ${search.text.quantized.p99} ms (${search.text.fp32.tokens}-token queries)`);
    lines.push('  search = Searcher.search in process (text encoder, HNSW, rows, re-ranking, best moments); cached = the query vector is in the LRU cache;');
    lines.push('  no-rerank = cached, with the query-adaptive re-ranking of the candidates off. http = GET /api/search on `next start`.');
    for (const l of search.latency) if (l.httpNote) lines.push(`  http at ${l.segments}: ${l.httpNote}`);
    for (const l of search.latency) if (l.http) lines.push(`  GET /api/health at ${l.segments} segments: p50 ${l.http.healthP50Ms} ms`);
    lines.push(table('4. HNSW (M 16, efConstruction 200) vs exact search, 512-d', ['vectors', 'build s', 'RSS +MB', 'file MB', 'recall@10', 'recall k=10', 'ef 50', 'ef 100', 'ef 200', 'ef 400', 'hnsw ms', 'exact ms'], search.hnsw.map((h) => [h.vectors, h.buildS, h.memoryMb, h.fileMb, h.recallAt10, h.recallAt10K10, h.recallByEf['50'], h.recallByEf['100'], h.recallByEf['200'], h.recallByEf['400'], h.hnswQueryMs, h.exactQueryMs])));
    lines.push(`  recall@10: the top 10 of the ${SEARCHER_CANDIDATES} candidates the searcher asks for (ef ${SEARCHER_CANDIDATES}) against exact search, on synthetic clustered`);
    lines.push('  vectors with text-like queries; ef N: a plain k=10 search at that ef. RSS +MB: growth while building (hnswlib holds about the file size).');
  }
  if (cli) lines.push(`\n3b. \`vidsearch search "<text>" --json\` as a whole process at ${cli.segments.toLocaleString('en')} segments (ViT-B/32-sized model): wall p50 ${cli.wallP50Ms} ms (max ${cli.wallMaxMs}) over ${cli.runs} queries, peak RSS ${cli.peakRssMb} MB`);
  if (pgvector) {
    lines.push(
      table(
        `\n12. search at ${pgvector.segments} segments (clustered 512-d), the PostgreSQL store (pgvector HNSW on ${pgvector.server}) beside the SQLite store (hnswlib), the same vectors and 200 queries${pgvector.buildS === null ? '' : `; written and indexed in ${pgvector.buildS} s`}`,
        ['engine', 'ef_search', 'p50 ms', 'p99 ms', 'recall@10'],
        pgvector.rows.map((r) => [r.engine, r.ef ?? 'store default', r.p50Ms, r.p99Ms, r.recallAt10]),
      ),
    );
  }
  if (queue) lines.push(`\n11. job queue (SQLite, one process): claim + finish p50 ${queue.claimFinishP50Ms} ms, p99 ${queue.claimFinishP99Ms} ms over ${queue.jobs} jobs; enqueue ${queue.enqueuePerJobMs} ms a job; an idle \`vidsearch worker\` used ${queue.idleWorkerCpuMsPerMin} ms of CPU a minute (over ${queue.idleSeconds} s)`);
  if (queue) {
    const pg = queue.postgres;
    lines.push('error' in pg ? `    PostgreSQL queue: not measured (${pg.error})` : `    PostgreSQL queue (${pg.server}): claim + finish p50 ${pg.claimFinishP50Ms} ms, p99 ${pg.claimFinishP99Ms} ms; enqueue ${pg.enqueuePerJobMs} ms a job`);
    for (const t of queue.throughput) lines.push(`    indexing ${t.files} copies of ${t.video} at 1 fps (512-d cheap model), ${t.runs} back-to-back pairs taking turns first: direct ${t.directFilesPerS} files/s (${t.directFramesPerS} frames/s), through the queue ${t.queueFilesPerS} files/s (${t.queueFramesPerS} frames/s); queue time / direct time ${t.queueOverDirect} (best run over best run ${t.queueOverDirectBest}), CPU time ${t.queueOverDirectCpu} (medians of the pairs; target at most 1.05); time inside the queue's own code: ${t.queueCodePct} % of a queue run`);
  }
  if (workers) {
    lines.push(
      table(
        `\n13. indexing ${workers.files} copies of ${workers.video} at 1 fps (512-d cheap model) with N \`vidsearch worker\` processes on one database, 1 thread each, ${workers.cores} cores; medians of ${workers.runs} run${workers.runs > 1 ? 's' : ''} per row`,
        ['store', 'workers', 'wall s', 'files/s', 'speed-up', 'worker CPU s', 'files/CPU s', 'vs 1 worker', 'server CPU s', 'vs 1 incl. server'],
        workers.rows.map((r) => [r.store, r.workers, r.wallS, r.filesPerS, r.speedup, r.cpuS, r.filesPerCpuS, r.cpuRateVsOne, r.dbCpuS, r.cpuRateWithDbVsOne]),
      ),
    );
    lines.push('  vs 1 worker: files per CPU-second of the workers (their process trees, ffmpeg included) over one worker\'s on the same store; 1.0 = the queue and the');
    lines.push(`  database cost nothing extra as workers are added (target ≥ 0.95). speed-up: one worker's wall time over N's (at most ${workers.cores} on ${workers.cores} cores). PostgreSQL: ${workers.server ?? 'not run'}; its server's CPU is counted apart.`);
    lines.push(`  background load from other processes during the part: ${phases.workers?.backgroundPct ?? '?'}% of the machine`);
    for (const e of workers.errors) lines.push(`  not measured: ${e}`);
  }
  if (reconcile) lines.push(`\n5. reconciling a folder of ${reconcile.files.toLocaleString('en')} unchanged, already indexed files (what \`index <dir>\` and the watch daemon do first): p50 ${reconcile.p50Ms} ms of ${reconcile.runs.length} runs (${reconcile.runs.join(', ')} ms), no decoding`);
  if (tagging) lines.push(`\n6. action tagging: a video's pooled vectors against Kinetics-400 (${tagging.labels} labels x ${tagging.templates} templates, ${DIM}-d), one ONNX product, ${tagging.threads} threads: ${tagging.runs.map((r) => `${r.vectors} vector${r.vectors > 1 ? 's' : ''} ${r.p50Ms} ms`).join(', ')} (p50; 61 = a 10-minute video, 721 = 2 hours)`);
  if (actions) lines.push(`\n6b. tagging a stored video (${actions.segmentsPerVideo} segments) with ${actions.labels} custom labels, cached (POST /api/actions' work): p50 ${actions.p50Ms} ms, max ${actions.maxMs} ms`);
  if (rerank) lines.push(`\n7. re-ranking on ${rerank.videos} generated videos (a colour filling 2 of 10 s beside a video uniformly near it; test model): R@1 ${rerank.rerankedR1}% with re-ranking (tau ${rerank.temperature}), ${rerank.meanPoolingR1}% without, over ${rerank.queries} queries${lat100 ? `; it adds ${round(lat100.cachedP50Ms - lat100.cachedNoRerankP50Ms, 2)} ms to a cached query at ${lat100.segments.toLocaleString('en')} segments (part 3)` : ''}`);
  if (typeof pooler === 'string') lines.push(`\n8. transformer pooler: ${pooler}`);
  else if (pooler) lines.push(`\n8. transformer pooler (512-d, 4 layers, ${pooler.framesPerSegment} frames per segment, ${pooler.threads} threads): ${pooler.transformerPoolMsPerFrame} ms per frame vs mean ${pooler.meanPoolMsPerFrame}, against ${pooler.encodeMsPerFrame} ms to encode the frame: +${pooler.overheadPct}% of encoding time`);
  if (decode) {
    lines.push(table('9. decoding every frame of 1080p30 (ffmpeg -benchmark, to null; median of 3)', ['codec', 'made with', 'decoder', 'frames', 'CPU s per min', 'x real time'], decode.rows.map((r) => [r.codec, r.encoder, r.decoder, r.frames, r.cpuSPerMinute, r.xRealtime])));
    lines.push('  CPU s per min: decoding cost of one minute of video, all threads together; indexing pays it once per file.');
    for (const s of decode.skipped) lines.push(`  skipped ${s}`);
  }
  lines.push(`\nphases: ${Object.entries(phases).map(([k, v]) => `${k} ${v.seconds} s (background load ${v.backgroundPct}%)`).join(', ')}; total ${out.total_s} s`);
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
