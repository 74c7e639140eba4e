// One video's segments scored against a text query, for the video page: each segment's cosine with
// the query and the query's best moment in the video, by the rules search uses (core/rerank.ts
// segmentMoment, bestIndex), so the page only renders what the engine says.
import type { Store } from '../io/db/store';
import { dot } from '../core/vectors';
import { bestIndex, segmentMoment } from '../core/rerank';
import { validateQuery, type Searcher } from './search';

export interface ScoredSegment {
  idx: number;
  start: number;
  end: number;
  /** cosine of the segment's pooled vector with the query */
  score: number;
}

export interface VideoSegmentScores {
  /** the query as searched (trimmed) */
  query: string;
  /** the video's segments in time order, each with its score */
  segments: ScoredSegment[];
  /** the best segment's best moment (seconds); undefined when the video has no segments */
  bestTime: number | undefined;
}

/** Scores every segment of `videoId` against `query`; UsageError for a query search would refuse. */
export async function videoSegmentScores(store: Store, searcher: Pick<Searcher, 'textVector'>, videoId: number, rawQuery: string): Promise<VideoSegmentScores> {
  const { query } = validateQuery(rawQuery);
  const stored = await store.videoSegments(videoId);
  if (stored.length === 0) return { query, segments: [], bestTime: undefined };
  const vector = await searcher.textVector(query);
  const segments = stored.map((s) => ({ idx: s.idx, start: s.start, end: s.end, score: dot(vector, s.vector) }));
  const best = stored[bestIndex(segments.map((s) => s.score))];
  const pack = (await store.segmentPacks([best.id])).get(best.id);
  const frames = pack ? undefined : await store.frames(videoId, [best.idx]);
  return { query, segments, bestTime: segmentMoment(vector, best, { pack, frames }) };
}
