// Search rules: query → text vector (LRU-cached) → top segments (HNSW file or pgvector: Store.searchSegments) → grouped by video, videos
// ranked by their best segment → the best moment inside each segment from its frame vectors.
import path from 'node:path';
import { MIN_EF } from '../core/hnsw';
import { NotFoundError, UsageError } from '../core/errors';
import { validateK, validateOffset, validateQuery } from '../core/search-request';
import { LruCache } from '../core/lru';
import type { LikeSource, SearchOptions, SearchResponse, SearchResult } from './search-types';
import type { ClipModel } from '../io/onnx/model';
import { LABEL_SET_SETTING, activeLabelSetChoice, labelSetFromSpec } from './actions';
import type { PackedFrames } from '../core/framepack';
import { decodeImage } from '../io/ffmpeg/media';
import type { FrameRecord, SegmentRecord, TagRecord } from '../core/storage';
import type { Store } from './store';
import { dot } from '../core/vectors';
import { compareCandidates, DEFAULT_RERANK, rerankCandidates, segmentMoment, topCandidateIds, type RerankSettings } from './rerank';
import { backgroundOf, closeMatchLine, isCloseMatch, matchScore, standardScore, type Background } from '../core/relevance';

/** What the ranking core takes beyond SearchOptions (searchLike sets them). */
interface RankOptions extends SearchOptions {
  /** segment ids never shown: the moment a query was taken from and its neighbours */
  excluded?: Set<number>;
}

interface Candidate {
  id: number;
  idx: number;
  start: number;
  end: number;
  score: number;
  rescored?: boolean;
  bestTime?: number;
}

export { MAX_K, MAX_OFFSET, MAX_QUERY_CHARS, validateOffset, validateQuery } from '../core/search-request';
export { LruCache } from '../core/lru';
export type { LikeSource, Moment, SearchOptions, SearchResponse, SearchResult } from './search-types';
/** Segment vectors a query's background is measured on (relevance.ts): about 1 ms a query at 512-d (measured on 10,000 segments, 2 busy cores). */
export const BACKGROUND_SAMPLE = 1024;

const round = (x: number, digits = 4) => Math.round(x * 10 ** digits) / 10 ** digits;

/** "1:05.5" style, for the description of a moment in a query. */
function momentClock(t: number): string {
  const s = Math.round(t * 10) / 10;
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(s % 1 ? 1 : 0).padStart(s % 1 ? 4 : 2, '0');
  return `${m}:${rest}`;
}

/**
 * Segments the first HNSW round asks for: enough for k videos of several segments each and for the
 * re-ranking, and never fewer than the search breadth (ef), since those cost nothing more.
 */
export function firstRoundCandidates(k: number, rerankK = 0): number {
  return Math.max(k * 8, rerankK, MIN_EF);
}

export class Searcher {
  private cache: LruCache<string, Float32Array>;
  private readonly specKeys = new Map<string, string>();
  /** the background sample (BACKGROUND_SAMPLE vectors, row-major) of one segment set (Store.segmentSet) */
  private sample: { key: string; rows: number; matrix: Float32Array; dim: number } | undefined;
  /** re-ranking defaults (engine.ts sets them from the configuration) */
  rerank: RerankSettings = DEFAULT_RERANK;

  constructor(
    private readonly store: Store,
    private readonly model: ClipModel,
    private readonly defaultLabelSet = 'kinetics400',
    cacheSize = 512,
  ) {
    this.cache = new LruCache(cacheSize);
  }

  async textVector(query: string): Promise<Float32Array> {
    const cached = this.cache.get(query);
    if (cached) return cached;
    const [v] = await this.model.encodeTexts([query]);
    this.cache.set(query, v);
    return v;
  }

  /** The library's label set (chosen by `tag --all`), else the configured one. */
  async labelSetKey(): Promise<string> {
    const stored = await this.store.setting(LABEL_SET_SETTING);
    const choice = activeLabelSetChoice(stored, this.defaultLabelSet);
    if (!choice) return 'none';
    if ('name' in choice) return choice.name;
    let key = this.specKeys.get(stored!);
    if (!key) {
      key = labelSetFromSpec(choice.spec).key;
      this.specKeys.set(stored!, key);
    }
    return key;
  }

  /**
   * The query's background: its cosines with the sampled segments, and the close-match line for a
   * library of this many segments. The sample is read again only when the segment set changed.
   */
  private async background(vector: Float32Array): Promise<{ bg: Background; line: number }> {
    const set = await this.store.segmentSet();
    const { rows, matrix, dim } = await this.backgroundSample(vector.length);
    // One matrix-vector product, inlined: a subarray per row would cost more than the arithmetic.
    const scores = new Float64Array(rows);
    for (let i = 0, at = 0; i < rows; i++) {
      let sum = 0;
      for (let j = 0; j < dim; j++, at++) sum += matrix[at] * vector[j];
      scores[i] = sum;
    }
    return { bg: backgroundOf(scores), line: closeMatchLine(set.count) };
  }

  /** The background sample of the current segment set, read when that set changed. */
  private async backgroundSample(dim: number): Promise<NonNullable<Searcher['sample']>> {
    const set = await this.store.segmentSet();
    if (this.sample?.key !== set.key || this.sample.dim !== dim) {
      const vectors = await this.store.sampleSegments(BACKGROUND_SAMPLE);
      const matrix = new Float32Array(vectors.length * dim);
      vectors.forEach((v, i) => matrix.set(v, i * dim));
      this.sample = { key: set.key, rows: vectors.length, matrix, dim };
    }
    return this.sample;
  }

  /** Over-fetches segments from HNSW until k distinct videos appear (long videos own many segments). */
  private async annCandidates(vector: Float32Array, k: number, atLeast = 0): Promise<Map<number, Candidate[]>> {
    let want = firstRoundCandidates(k, atLeast);
    let byVideo = new Map<number, Candidate[]>();
    const rows = new Map<number, SegmentRecord>();
    for (let round = 0; round < 4; round++) {
      const hits = await this.store.searchSegments(vector, want);
      // A later round repeats the earlier hits: only the new ones are read.
      for (const s of await this.store.segments(hits.filter((h) => !rows.has(h.id)).map((h) => h.id))) rows.set(s.id, s);
      byVideo = new Map();
      for (const h of hits) {
        const s = rows.get(h.id);
        if (!s) continue; // deleted since the index file was published
        const list = byVideo.get(s.videoId) ?? [];
        list.push({ id: s.id, idx: s.idx, start: s.start, end: s.end, score: h.score });
        byVideo.set(s.videoId, list);
      }
      if (byVideo.size >= k || hits.length < want) break;
      want *= 4;
    }
    return byVideo;
  }

  /**
   * Only segments tagged with the action (all segments of a video tagged with it only as a whole),
   * scored exactly: the tagged set is small next to the library, so no index is needed.
   */
  private async taggedCandidates(vector: Float32Array, action: string, labelSet: string): Promise<Map<number, Candidate[]>> {
    const tagged = await this.store.tagged(labelSet, action);
    const segmentKeys = new Set(tagged.filter((t) => t.segmentIdx >= 0).map((t) => `${t.videoId}:${t.segmentIdx}`));
    const withTaggedSegments = new Set(tagged.filter((t) => t.segmentIdx >= 0).map((t) => t.videoId));
    const byVideo = new Map<number, Candidate[]>();
    for (const videoId of new Set(tagged.map((t) => t.videoId))) {
      for (const s of await this.store.videoSegments(videoId)) {
        if (withTaggedSegments.has(videoId) && !segmentKeys.has(`${videoId}:${s.idx}`)) continue;
        const list = byVideo.get(videoId) ?? [];
        list.push({ id: s.id, idx: s.idx, start: s.start, end: s.end, score: dot(vector, s.vector) });
        byVideo.set(videoId, list);
      }
    }
    for (const list of byVideo.values()) list.sort((a, b) => b.score - a.score);
    return byVideo;
  }

  async search(rawQuery: string, opts: SearchOptions = {}): Promise<SearchResponse> {
    const started = performance.now();
    const { query, k } = validateQuery(rawQuery, opts.k ?? 10);
    await this.store.refresh();
    // The text encoder runs off this thread (ONNX Runtime's threads; in a one-query CLI process a
    // worker that is still loading it): meanwhile this thread reads the background sample, which
    // does not depend on the query (~12-25 ms of such a process; npm run bench -- --only=cli).
    const [vector] = await Promise.all([this.textVector(query), this.backgroundSample(this.model.dim)]);
    return this.rank(query, vector, k, opts, started);
  }

  /**
   * Ranks the library for any query vector of the library's model: an image's or a stored
   * frame's as well as a sentence's; `query` is what the answer says was asked.
   *
   * Re-ranking (rerank.ts) applies to image vectors as to text ones. Its τ was set for text, but
   * the softmax sees only differences between a segment's frame similarities, not their level, so
   * CLIP's modality gap (image-image cosines of 0.7-0.95 against 0.2-0.35 for text-image) does
   * not shift it. Frame-to-frame differences are larger image to image (a cut moves them by
   * tenths, not hundredths), so the same τ pools close to the best matching frames: a segment is
   * as close as the moment in it that looks most like the picture, which is what "like this"
   * asks, where mean pooling would dilute a short match by the rest of its 10 s.
   */
  async searchByVector(vector: Float32Array, query: string, opts: RankOptions = {}): Promise<SearchResponse> {
    const started = performance.now();
    const k = validateK(opts.k ?? 10);
    if (vector.length !== this.model.dim) throw new UsageError(`the query vector has ${vector.length} dimensions, the model's have ${this.model.dim}`);
    await this.store.refresh();
    return this.rank(query, vector, k, opts, started);
  }

  /**
   * More like this moment: the stored frame vector nearest `t` in an indexed video is the query.
   * The moment's own segment and its neighbours (the same scene, near copies of the query) are
   * not shown, and the video's other moments come after every other video: whoever asks "more
   * like this" has this one already.
   */
  async searchLike(videoId: number, t: number, opts: SearchOptions = {}): Promise<SearchResponse> {
    const started = performance.now();
    const k = validateK(opts.k ?? 10);
    await this.store.refresh();
    const { source, vector, neighbours } = await this.momentVector(videoId, t);
    const query = `like ${path.basename(source.path)} at ${momentClock(source.time)}`;
    // One video more than asked: the source video, if ranked, goes last and may be cut.
    const res = await this.rank(query, vector, k + 1, { ...opts, excluded: neighbours }, started);
    const results = [...res.results.filter((r) => r.videoId !== videoId), ...res.results.filter((r) => r.videoId === videoId)].slice(0, k);
    return { ...res, results, like: source };
  }

  /** Searches with a picture: decoded as a frame is (media.ts decodeImage), encoded by the image encoder. */
  async searchImage(file: string, opts: SearchOptions & { name?: string; signal?: AbortSignal } = {}): Promise<SearchResponse> {
    const started = performance.now();
    const k = validateK(opts.k ?? 10);
    const frame = await decodeImage(file, this.model.image.size, { signal: opts.signal });
    const [vector] = await this.model.encodeImages([frame]);
    await this.store.refresh();
    const { name, signal: _signal, ...rest } = opts;
    return this.rank(`image ${name ?? path.basename(file)}`, vector, k, rest, started);
  }

  /** The frame vector nearest `t` in an indexed video, and the ids of its segment and the adjacent ones. */
  private async momentVector(videoId: number, t: number): Promise<{ source: LikeSource; vector: Float32Array; neighbours: Set<number> }> {
    if (!Number.isSafeInteger(videoId) || videoId < 1) throw new UsageError(`the video id must be a positive integer, got ${videoId}`, { cause: { field: 'like' } });
    if (!Number.isFinite(t) || t < 0) throw new UsageError(`t must be a number of seconds from 0, got ${t}`, { cause: { field: 't' } });
    const video = await this.store.video(videoId);
    if (!video) throw new NotFoundError(`no video with id ${videoId}`, { cause: { videoId } });
    if (video.status !== 'indexed') throw new NotFoundError(`video ${videoId} is not indexed (${video.status}${video.error ? `: ${video.error}` : ''})`, { cause: { videoId } });
    const segments = await this.store.videoSegments(videoId);
    const end = Math.max(video.duration ?? 0, segments.at(-1)?.end ?? 0);
    if (!segments.length) throw new NotFoundError(`video ${videoId} has no segments`, { cause: { videoId } });
    if (t > end) throw new UsageError(`t is past the end of ${path.basename(video.path)}: ${t} s, the video is ${Math.round(end * 1000) / 1000} s long`, { cause: { field: 't' } });
    // The segment holding t, and the next one: t may be nearer the next segment's first frame.
    const at = Math.max(0, segments.findLastIndex((s) => s.start <= t));
    const frames = await this.store.frames(videoId, segments.slice(at, at + 2).map((s) => s.idx));
    const nearest = frames.reduce<(typeof frames)[number] | undefined>((best, f) => (!best || Math.abs(f.time - t) < Math.abs(best.time - t) ? f : best), undefined);
    if (!nearest) throw new NotFoundError(`video ${videoId} has no frames near ${t} s`, { cause: { videoId } });
    const i = segments.findIndex((s) => s.idx === nearest.segmentIdx);
    const neighbours = new Set(segments.slice(Math.max(0, i - 1), i + 2).map((s) => s.id));
    const seg = segments[i];
    return { source: { videoId, path: video.path, time: nearest.time, start: seg.start, end: seg.end }, vector: nearest.vector, neighbours };
  }

  /** The ranking every search shares, from its query vector on. */
  private async rank(query: string, vector: Float32Array, k: number, opts: RankOptions, started: number): Promise<SearchResponse> {
    const offset = validateOffset(opts.offset ?? 0);
    // One more than the page ends at, to know whether another page follows.
    const depth = offset + k + 1;
    const perVideo = opts.moments ?? 5;
    const labelSet = await this.labelSetKey();
    const rerank = opts.rerank ?? this.rerank.enabled;
    const byVideo = opts.action ? await this.taggedCandidates(vector, opts.action, labelSet) : await this.annCandidates(vector, depth, rerank ? this.rerank.k : 0);
    if (opts.excluded) {
      for (const [videoId, list] of byVideo) {
        const kept = list.filter((c) => !opts.excluded!.has(c.id));
        if (kept.length) byVideo.set(videoId, kept);
        else byVideo.delete(videoId);
      }
    }
    // Packed frames (one row per segment) serve both the re-ranking and the best moments.
    const packs = rerank ? await this.store.segmentPacks(topCandidateIds(byVideo, this.rerank.k)) : new Map<number, PackedFrames>();
    if (rerank) await rerankCandidates(this.store, vector, byVideo, this.rerank, packs);
    // Equal scores (a query the model scores 0 everywhere) in video order, not the index's: the
    // same order on every page.
    const all = [...byVideo.entries()].sort((a, b) => compareCandidates(a[1][0], b[1][0]) || a[0] - b[0]);
    const ranked = all.slice(offset, offset + k);
    const { bg, line } = await this.background(vector);
    const zOf = (score: number) => standardScore(score, bg);
    const closeMatch = all.length > 0 && isCloseMatch(zOf(all[0][1][0].score), line);
    const ids = ranked.map(([id]) => id);
    const [videos, tags] = await Promise.all([this.store.videoBriefs(ids), this.store.tags(ids, labelSet)]);
    const shown = ranked.filter(([id]) => videos.get(id)?.status === 'indexed').map(([videoId, segs]) => ({ videoId, top: segs.slice(0, perVideo) }));

    // Re-scoring found the best moments of its candidates; the others' come from their packs, or
    // from the Frame rows in an index made before packs existed (one query each).
    const needed = shown.flatMap(({ videoId, top }) => top.filter((s) => s.bestTime === undefined).map((s) => ({ videoId, s })));
    const missing = needed.filter(({ s }) => !packs.has(s.id)).map(({ s }) => s.id);
    if (missing.length) for (const [id, p] of await this.store.segmentPacks(missing)) packs.set(id, p);
    const unpacked = needed.filter(({ s }) => !packs.has(s.id)).map(({ videoId, s }) => ({ videoId, idx: s.idx }));
    const frames = unpacked.length ? await this.store.segmentFrames(unpacked) : new Map<string, FrameRecord[]>();
    const bestMoment = (videoId: number, s: Candidate): number => {
      if (s.bestTime !== undefined) return s.bestTime;
      return segmentMoment(vector, s, { pack: packs.get(s.id), frames: frames.get(`${videoId}:${s.idx}`) });
    };

    const results = shown.map(({ videoId, top }): SearchResult => {
      const moments = top.map((s) => ({ start: round(s.start, 3), end: round(s.end, 3), bestTime: round(bestMoment(videoId, s), 3), score: round(s.score), match: matchScore(zOf(s.score), line) }));
      const v = videos.get(videoId)!;
      const labels = tags.get(videoId)?.get(-1)?.slice(0, 3) ?? [];
      return { videoId, path: v.path, duration: v.duration, score: moments[0].score, match: moments[0].match, start: moments[0].start, end: moments[0].end, bestTime: moments[0].bestTime, moments, labels };
    });
    return { query, tookMs: round(performance.now() - started, 2), offset, more: all.length > offset + k, closeMatch, results };
  }
}
