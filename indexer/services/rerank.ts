// Re-ranking against the store: the settings from the configuration, and the re-scoring of a
// search's candidates with the frames read from the index (the maths is core/rerank.ts).
import type { Config } from './config';
import { bestCandidates, bestFrameTime, compareCandidates, queryAdaptiveScore, type RerankCandidate, type RerankSettings } from '../core/rerank';
import { packRescore, type PackedFrames } from '../core/framepack';
import type { FrameRecord } from '../core/storage';
import type { Store } from './store';

export * from '../core/rerank';

export function rerankSettings(cfg: Pick<Config, 'rerank' | 'rerankTemperature' | 'rerankK'>): RerankSettings {
  return { enabled: cfg.rerank, temperature: cfg.rerankTemperature, k: cfg.rerankK };
}

/**
 * Re-scores the best `settings.k` candidates (by their HNSW score, across videos) in place, and
 * sorts each video's list with compareCandidates. The searcher over-fetches from HNSW until it has
 * enough distinct videos; the candidates beyond the top K only fill the list, in HNSW order, so a
 * query costs K re-scorings however many segments it had to look through. Reads each candidate's
 * packed frames (one row per segment, framepack.ts), or its Frame rows where the index has no
 * pack yet; a segment whose frames are gone keeps its score.
 */
export async function rerankCandidates(
  store: Pick<Store, 'segmentPacks' | 'segmentFrames'>,
  query: Float32Array,
  byVideo: Map<number, RerankCandidate[]>,
  settings: Pick<RerankSettings, 'temperature'> & { k?: number },
  /** packs already read by the caller (the searcher reads them once for re-ranking and moments) */
  preloaded?: Map<number, PackedFrames>,
): Promise<void> {
  const all = bestCandidates(byVideo, settings.k ?? Infinity);
  const packs = preloaded ?? (await store.segmentPacks(all.flatMap(({ c }) => (c.id === undefined ? [] : [c.id]))));
  const unpacked = all.filter(({ c }) => c.id === undefined || !packs.has(c.id));
  const frames = unpacked.length ? await store.segmentFrames(unpacked.map(({ videoId, c }) => ({ videoId, idx: c.idx }))) : new Map<string, FrameRecord[]>();
  for (const { videoId, c } of all) {
    c.rescored = true;
    const pack = c.id === undefined ? undefined : packs.get(c.id);
    if (pack) {
      const r = packRescore(query, pack, settings.temperature);
      c.score = r.score;
      c.bestTime = r.bestTime;
      continue;
    }
    const f = frames.get(`${videoId}:${c.idx}`);
    if (f?.length) {
      c.score = queryAdaptiveScore(query, f.map((x) => x.vector), settings.temperature);
      c.bestTime = bestFrameTime(query, f);
    }
  }
  for (const list of byVideo.values()) list.sort(compareCandidates);
}
