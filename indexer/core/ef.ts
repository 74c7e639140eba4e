// The HNSW search breadth (ef) for an index of `size` vectors asked for `k` results: what pgvector's
// `hnsw.ef_search` is set to per query (io/db/postgres/search.ts).
// Provisional: the hnswlib path (io/ann/ann.ts MIN_EF, a fixed 200) is getting a size-following
// rule of its own on another branch; the two are to become this one function.

/** ef at 100,000 vectors: recall@10 0.98 there with text-like queries (io/ann/ann.ts MIN_EF) */
export const BASE_EF = 200;
/** the largest ef pgvector accepts (hnsw.ef_search ≤ 1000) */
export const MAX_EF = 1000;

/**
 * HNSW recall at a fixed ef falls as the index grows (hnswlib at ef 200: 0.98 at 100,000 vectors,
 * 0.80 at 1,000,000, issue 15), so ef grows with the square root of the size past 100,000 (about
 * 630 at 1M), never below k (an HNSW search returns at most ef results) and never past MAX_EF.
 */
export function efFor(size: number, k: number): number {
  const grown = Math.round(BASE_EF * Math.sqrt(Math.max(1, size / 100_000)));
  return Math.min(MAX_EF, Math.max(k, grown));
}
