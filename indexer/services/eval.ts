// Retrieval quality: text → video recall on a captioned set, the CLIP4Clip protocol (MSR-VTT 1k-A:
// one caption per video, every caption a query against all the listed videos; R@1, R@5, R@10,
// median and mean rank). The listed videos are indexed first (unchanged ones are reused), then
// every caption is scored against every listed video exactly (no HNSW), so the figures measure the
// vectors, not the approximate index.
//
// Scores:  by video (default, CLIP4Clip): cos(text, video vector), the pooling of all its frames;
//          with re-ranking, the query-adaptive pooling of all its frames (Bain et al. 2022).
//          by segment (what search ranks by): the video's best segment, by its pooled vector, or
//          with re-ranking by the query-adaptive pooling of the segment's frames.
import fs from 'node:fs';
import path from 'node:path';
import { UsageError, errorMessage } from '../core/errors';
import { indexTargets, type Engine, type IndexEvent, type IndexReport } from './pipeline';
import { queryAdaptiveScore } from '../core/rerank';
import { dot } from '../core/vectors';

export interface CaptionItem {
  /** absolute path of the video */
  path: string;
  /** absent: the video only joins the gallery (a distractor), it is not a query */
  caption?: string;
  /** 1-based line in the captions file */
  line: number;
}

/**
 * Reads a JSONL file of {"path": ..., "caption": ...} lines (blank lines ignored); relative paths
 * are relative to the file's folder. A video may appear on several lines (several captions); a
 * line without "caption" adds the video to the gallery only.
 */
export function readCaptions(file: string): CaptionItem[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the captions file ${file}: ${errorMessage(err)}`, { cause: { file } });
  }
  const dir = path.dirname(path.resolve(file));
  const items: CaptionItem[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${file}:${i + 1}: not JSON (${errorMessage(err)}); each line must be {"path": "...", "caption": "..."}`, { cause: { file, line: i + 1 } });
    }
    const o = obj as Record<string, unknown>;
    const noCaption = o?.caption === undefined || o?.caption === null;
    if (!o || typeof o.path !== 'string' || !o.path || (!noCaption && (typeof o.caption !== 'string' || !o.caption.trim()))) {
      throw new UsageError(`${file}:${i + 1}: each line must be {"path": "...", "caption": "..."} with a non-empty path (and caption, if given)`, {
        cause: { file, line: i + 1 },
      });
    }
    items.push({ path: path.resolve(dir, o.path), ...(noCaption ? {} : { caption: (o.caption as string).trim() }), line: i + 1 });
  });
  if (!items.some((i) => i.caption)) throw new UsageError(`${file} holds no captions`, { cause: { file } });
  return items;
}

export interface RetrievalMetrics {
  queries: number;
  /** percentages */
  R1: number;
  R5: number;
  R10: number;
  medianRank: number;
  meanRank: number;
}

/** Metrics from 1-based ranks of the right video, one per query. */
export function retrievalMetrics(ranks: number[]): RetrievalMetrics {
  const n = ranks.length;
  const pct = (k: number) => (n ? Math.round((10000 * ranks.filter((r) => r <= k).length) / n) / 100 : 0);
  const sorted = [...ranks].sort((a, b) => a - b);
  const median = n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  const mean = n ? ranks.reduce((a, b) => a + b, 0) / n : NaN;
  return { queries: n, R1: pct(1), R5: pct(5), R10: pct(10), medianRank: median, meanRank: Math.round(mean * 100) / 100 };
}

/**
 * Rank of `target` among `scores` (1 = best). Ties count against it: a video that scores exactly
 * as well as the right one is ranked above it, so identical videos cannot inflate recall.
 */
export function rankOf(scores: ArrayLike<number>, target: number): number {
  const s = scores[target];
  let rank = 1;
  for (let i = 0; i < scores.length; i++) if (i !== target && scores[i] >= s) rank++;
  return rank;
}

/** What eval scores: whole videos (as CLIP4Clip) or each video's best segment (as search). */
export const EVAL_UNITS = ['video', 'segment'] as const;
export type EvalUnit = (typeof EVAL_UNITS)[number];

export interface EvalOptions {
  /** query-adaptive re-ranking; default: the configuration's */
  rerank?: boolean;
  /** τ; default: the configuration's */
  temperature?: number;
  by?: EvalUnit;
  signal?: AbortSignal;
  onEvent?: (e: IndexEvent) => void;
}

export interface EvalReport {
  protocol: string;
  captions: number;
  videos: number;
  pooling: string;
  rerank: { enabled: boolean; temperature: number };
  by: EvalUnit;
  metrics: RetrievalMetrics;
  /** per caption: the rank of its video */
  ranks: Array<{ path: string; caption: string; rank: number }>;
  /** listed videos that could not be indexed; their captions are left out */
  excluded: Array<{ path: string; reason: string }>;
  indexing: { indexed: number; skipped: number; failed: number };
  seconds: number;
}

type Scorer = (text: Float32Array) => number;

/** Indexes (or reuses) the listed videos, then scores every caption against every listed video. */
export async function evaluate(engine: Engine, items: CaptionItem[], opts: EvalOptions = {}): Promise<EvalReport> {
  const started = performance.now();
  const rerank = opts.rerank ?? engine.cfg.rerank;
  const temperature = opts.temperature ?? engine.cfg.rerankTemperature;
  const by = opts.by ?? 'video';
  const paths = [...new Set(items.map((i) => i.path))];
  const report: IndexReport = await indexTargets(engine, paths, { signal: opts.signal, onEvent: opts.onEvent });
  if (opts.signal?.aborted) throw new Error('interrupted');

  const excluded: EvalReport['excluded'] = [];
  const gallery: Array<{ path: string; scorer: Scorer }> = [];
  for (const p of paths) {
    const v = await engine.store.videoByPath(p);
    if (!v || v.status !== 'indexed') {
      excluded.push({ path: p, reason: v?.error ?? report.failed.find((f) => f.path === p)?.error ?? 'not indexed' });
      continue;
    }
    gallery.push({ path: p, scorer: await scorerFor(engine, v.id, by, rerank, temperature) });
  }
  const position = new Map(gallery.map((g, i) => [g.path, i]));
  const queries = items.filter((i): i is CaptionItem & { caption: string } => !!i.caption && position.has(i.path));
  const ranks: EvalReport['ranks'] = [];
  for (let at = 0; at < queries.length; at += 64) {
    const chunk = queries.slice(at, at + 64);
    const texts = await engine.model.encodeTexts(chunk.map((q) => q.caption));
    chunk.forEach((q, i) => {
      const scores = new Float64Array(gallery.length);
      for (let j = 0; j < gallery.length; j++) scores[j] = gallery[j].scorer(texts[i]);
      ranks.push({ path: q.path, caption: q.caption, rank: rankOf(scores, position.get(q.path)!) });
    });
  }
  return {
    protocol: 'text-to-video retrieval, CLIP4Clip / MSR-VTT 1k-A style (every caption a query against all listed videos)',
    captions: queries.length,
    videos: gallery.length,
    pooling: engine.pooling.name,
    rerank: { enabled: rerank, temperature },
    by,
    metrics: retrievalMetrics(ranks.map((r) => r.rank)),
    ranks,
    excluded,
    indexing: { indexed: report.indexed.length, skipped: report.skipped.length, failed: report.failed.length },
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
}

async function scorerFor(engine: Engine, videoId: number, by: EvalUnit, rerank: boolean, temperature: number): Promise<Scorer> {
  const { store } = engine;
  if (by === 'video') {
    if (rerank) {
      const frames = (await store.frames(videoId)).map((f) => f.vector);
      return (t) => queryAdaptiveScore(t, frames, temperature);
    }
    const vector = await store.videoVector(videoId);
    if (!vector) throw new Error(`video ${videoId} has no vector`);
    return (t) => dot(t, vector);
  }
  if (rerank) {
    const bySegment = new Map<number, Float32Array[]>();
    for (const f of await store.frames(videoId)) {
      const list = bySegment.get(f.segmentIdx);
      if (list) list.push(f.vector);
      else bySegment.set(f.segmentIdx, [f.vector]);
    }
    const groups = [...bySegment.values()];
    return (t) => Math.max(...groups.map((g) => queryAdaptiveScore(t, g, temperature)));
  }
  const segments = (await store.videoSegments(videoId)).map((s) => s.vector);
  return (t) => Math.max(...segments.map((s) => dot(t, s)));
}
