// The HNSW graph's shape, and how wide a search looks (ef, the candidate list) as a rule of the
// index's size: the same for both stores' indexes (hnswlib on SQLite, pgvector on PostgreSQL).

/** links per node */
export const HNSW_M = 16;
/** candidate list while building: pgvector's default (64) gave recall@10 0.94 at ef 400 on 100,000 vectors where hnswlib at 200 gave 0.97 (npm run bench -- --only=pgvector) */
export const HNSW_EF_CONSTRUCTION = 200;

/**
 * The least breadth: text queries sit far from every image vector (CLIP's modality gap), which
 * makes them hard for HNSW; at 100,000 segments ef 200 gave recall@10 0.982 on the benchmark's
 * library (npm run bench, part 3), and the searcher asks for that many candidates anyway.
 */
export const MIN_EF = 200;

/**
 * Breadth per square root of the index size. A fixed ef loses recall as the index grows: on the
 * benchmark's clustered 512-d vectors with text-like queries (bench/synthetic.ts; recall@10 of
 * the searcher's first round, 200 candidates, against exact search; M 16, efConstruction 200),
 * ef 200 gave 1.0 at 10,000 vectors, 0.958 at 100,000, 0.951 at 200,000 and 0.80 at 1,000,000.
 * √n gives ef 317, 448 and 1,000 there: recall@10 0.978, 0.988 and 0.958 (the target is 0.95),
 * for a query p50 of 0.73, 1.85 and 5.7 ms against 0.64, 1.42 and 2.45 ms at ef 200 (this 2-core
 * machine, busy). npm run bench -- --only=search --large measures it (part 3, the HNSW rows).
 */
const EF_PER_ROOT = 1;

/** ef for a search of `k` neighbours in an index of `size` vectors: never below k (hnswlib needs ef ≥ k). */
export function searchEf(size: number, k: number): number {
  return Math.max(k, MIN_EF, Math.ceil(EF_PER_ROOT * Math.sqrt(Math.max(0, size))));
}
