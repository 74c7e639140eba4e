// What a search answers (services/search.ts): results, their moments, pages, and the options a
// caller gives. The API, the CLI's --json and the pages all show these shapes.
import type { TagRecord } from '../io/db/store';

export interface Moment {
  start: number;
  end: number;
  bestTime: number;
  /** the cosine (re-ranked when re-ranking is on); for tools */
  score: number;
  /** 0-100 for people: see SearchResult.match */
  match: number | null;
}

export interface SearchResult {
  videoId: number;
  path: string;
  duration: number | null;
  score: number;
  /**
   * The score for people, 0-100: how clearly the best moment stands above the query's background
   * in the library (relevance.ts); 50 is the close-match line. Null when it could not be judged.
   */
  match: number | null;
  start: number;
  end: number;
  bestTime: number;
  moments: Moment[];
  /** the video's top action labels in the library's label set */
  labels: TagRecord[];
}

export interface SearchResponse {
  query: string;
  tookMs: number;
  /** results skipped before this page (videos ranked before the first result) */
  offset: number;
  /** whether videos ranked after this page exist: ask again with offset + k */
  more: boolean;
  /**
   * Whether the query's best video (of all pages) is a close match; false: nothing matches well,
   * and the results are only the closest the library has.
   */
  closeMatch: boolean;
  results: SearchResult[];
  /** for "more like this" (searchLike): the moment the query vector was taken from */
  like?: LikeSource;
}

/** The moment of a "more like this" query: its frame, and the segment excluded with its neighbours. */
export interface LikeSource {
  videoId: number;
  path: string;
  /** the stored frame nearest the asked time: its vector is the query */
  time: number;
  start: number;
  end: number;
}

export interface SearchOptions {
  k?: number;
  /** videos to skip, best first: the next page starts at offset + k (same order as the first) */
  offset?: number;
  /** moments listed per video, best first */
  moments?: number;
  /** only videos and segments tagged with this action label */
  action?: string;
  /** query-adaptive re-ranking of the candidates (indexer/core/rerank.ts); default: the searcher's setting */
  rerank?: boolean;
}
