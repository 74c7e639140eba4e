// Query-adaptive re-ranking (Bain et al. 2022, "A CLIP-Hitchhiker's Guide to Long Video
// Retrieval": query scoring). The HNSW index ranks segments by their pooled vector, which dilutes a
// short moment by the rest of the segment; the candidates it returns are then re-scored with a
// pooling that depends on the query: each frame is weighted by its similarity to the query,
//
//     w_i = softmax_i(cos(q, f_i) / τ),   v = Σ w_i f_i,   score = cos(q, v),
//
// so the frames that match dominate. τ → ∞ gives mean pooling back, τ → 0 the best single frame.
// Temperature: the paper's 0.1 applied to CLIP's logits divided by its logit scale, i.e. weights
// softmax(0.1 × 100 × cos) = softmax(cos / 0.1): τ = 0.1 on cosine similarities (config
// rerankTemperature, VIDSEARCH_RERANK_TAU). With real CLIP, frame-query cosines inside a segment
// differ by a few hundredths, so this re-weights gently; with a clear match it picks the moment.
import { dot } from './vectors';
import { packBestFrame, type PackedFrames } from './framepack';

// Bain et al. 2022 (query scoring): softmax over frame-query similarities at temperature 0.1, i.e.
// 0.1 × CLIP's logits (logit scale 100 × cosine) = cosine / 0.1.
export const DEFAULT_RERANK_TEMPERATURE = 0.1;

export interface RerankSettings {
  enabled: boolean;
  /** τ on cosine similarities */
  temperature: number;
  /** the best this many HNSW candidate segments are re-scored (the searcher fetches at least as many) */
  k: number;
}

export const DEFAULT_RERANK: RerankSettings = { enabled: true, temperature: DEFAULT_RERANK_TEMPERATURE, k: 100 };

/**
 * cos(query, softmax(query·f / τ)-weighted mean of the frames). `query` and the frames are unit
 * length (the model and the store guarantee it). NaN-free for any τ > 0: the softmax is shifted by
 * its maximum.
 */
export function queryAdaptiveScore(query: Float32Array, frames: Float32Array[], temperature: number): number {
  const n = frames.length;
  if (n === 0) return -Infinity;
  const dim = query.length;
  const sims = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const f = frames[i];
    // four running sums: shorter dependency chains, ~10% faster in V8
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let d = 0;
    for (; d + 3 < dim; d += 4) {
      s0 += query[d] * f[d];
      s1 += query[d + 1] * f[d + 1];
      s2 += query[d + 2] * f[d + 2];
      s3 += query[d + 3] * f[d + 3];
    }
    for (; d < dim; d++) s0 += query[d] * f[d];
    const s = s0 + s1 + s2 + s3;
    sims[i] = s;
    if (s > max) max = s;
  }
  if (n === 1) return sims[0];
  const v = new Float64Array(dim);
  let qv = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp((sims[i] - max) / temperature);
    if (w < 1e-12) continue;
    const f = frames[i];
    for (let d = 0; d < dim; d++) v[d] += w * f[d];
    qv += w * sims[i];
  }
  let norm = 0;
  for (let d = 0; d < dim; d++) norm += v[d] * v[d];
  norm = Math.sqrt(norm);
  // The weights' sum cancels: cos(q, v) = Σ w_i (q·f_i) / |Σ w_i f_i|.
  return norm > 1e-12 ? qv / norm : 0;
}

/** Mean pooling's score, for comparison: cos(q, normalize(mean of the frames)). */
export function meanScore(query: Float32Array, frames: Float32Array[]): number {
  return queryAdaptiveScore(query, frames, Infinity);
}

/** A candidate segment as the searcher holds it; `rescored` once re-ranking has scored it. */
export interface RerankCandidate {
  id?: number;
  idx: number;
  score: number;
  rescored?: boolean;
  /** the time of the candidate's frame nearest the query, when re-scoring found it */
  bestTime?: number;
}

/**
 * Best first: re-scored candidates before the others (their scores come from another pooling, so
 * the two are not compared), each group by score.
 */
export function compareCandidates(a: RerankCandidate, b: RerankCandidate): number {
  return Number(b.rescored ?? false) - Number(a.rescored ?? false) || b.score - a.score;
}

/** The time of the frame most similar to the query (frames in time order; the first wins ties). */
export function bestFrameTime(query: Float32Array, frames: Array<{ time: number; vector: Float32Array }>): number | undefined {
  let best = -Infinity;
  let time: number | undefined;
  for (const f of frames) {
    const sim = dot(query, f.vector);
    if (sim > best) {
      best = sim;
      time = f.time;
    }
  }
  return time;
}

/** A segment's best moment: its frame most similar to the query, else (no frames stored) its start. */
export function bestMoment(query: Float32Array, frames: Array<{ time: number; vector: Float32Array }>, segment: { start: number }): number {
  return bestFrameTime(query, frames) ?? segment.start;
}

/**
 * A segment's best moment as search and the video page pick it: from its packed frames when the
 * index has them, else from its Frame rows; the segment's start when neither holds a frame.
 */
export function segmentMoment(query: Float32Array, segment: { start: number }, from: { pack?: PackedFrames; frames?: Array<{ time: number; vector: Float32Array }> }): number {
  if (from.pack) return packBestFrame(query, from.pack)?.time ?? segment.start;
  return bestMoment(query, from.frames ?? [], segment);
}

/** The index of the highest score (the first wins ties); -1 for none. */
export function bestIndex(scores: readonly number[]): number {
  let best = -1;
  for (let i = 0; i < scores.length; i++) if (best < 0 || scores[i] > scores[best]) best = i;
  return best;
}

/** The best `k` candidates by score across videos: the ones rerankCandidates re-scores. */
export function bestCandidates<C extends { score: number }>(byVideo: Map<number, C[]>, k: number): Array<{ videoId: number; c: C }> {
  return [...byVideo]
    .flatMap(([videoId, list]) => list.map((c) => ({ videoId, c })))
    .sort((a, b) => b.c.score - a.c.score)
    .slice(0, k);
}

/** The ids of the candidates rerankCandidates will re-score, so a caller can read their packs first. */
export function topCandidateIds(byVideo: Map<number, Array<{ id: number; score: number }>>, k: number): number[] {
  return bestCandidates(byVideo, k).map(({ c }) => c.id);
}
