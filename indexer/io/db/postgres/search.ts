// Segment search on PostgreSQL (core/storage.ts VectorSearch). With pgvector: an HNSW expression
// index on "embedding"::vector(N) (the column has no dimension, since models differ; N is fixed
// per index), queried by negative inner product with ef_search set per transaction. Without
// pgvector (a server that lacks the extension): an exact scan of the bytea vectors in this process,
// kept in memory until the generation moves; fine for small libraries, said by stats and doctor.
import { HNSW_EF_CONSTRUCTION, HNSW_M, searchEf } from '../../../core/hnsw';
import { nearestRows, vectorFrom } from '../../../core/vectors';
import type { SegmentHit, VectorSearch } from '../../../core/storage';
import type { PgConnection } from './connection';
import { isReadOnlyRefusal, vectorLiteral } from './tx';

export const EXACT_SEARCH = 'pgvector not installed: exact search';

/** the HNSW index for vectors of `dim` dimensions */
export const hnswIndexName = (dim: number) => `Segment_embedding_${dim}_hnsw`;

// Any constant of our own: the key of the advisory lock under which one process makes the index.
const INDEX_LOCK = 0x76696474; // "vidt"

/** pgvector refuses a larger hnsw.ef_search (past it, iterative scans carry on: see hnsw()) */
const MAX_EF_SEARCH = 1000;

/** How long the segment count ef follows is trusted: ef needs its size roughly, not each insert. */
const SIZE_TTL_MS = 60_000;

export class PgVectorSearch implements VectorSearch {
  private size_: { at: number; n: number } | undefined;
  private exact: { generation: number; ids: Int32Array; matrix: Float32Array; dim: number } | undefined;
  /** pgvector 0.8 adds iterative index scans: more results than ef_search */
  private iterative: boolean | undefined;

  constructor(private readonly c: PgConnection) {}

  get method(): string {
    return this.c.hasVector ? 'pgvector HNSW' : EXACT_SEARCH;
  }

  async prepare(dim: number): Promise<void> {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`not a vector dimension: ${dim}`);
    if (!this.c.hasVector) return;
    const name = hnswIndexName(dim);
    const exists = async () => (await this.c.query(`SELECT 1 FROM pg_indexes WHERE tablename = 'Segment' AND indexname = $1`, [name])).rowCount === 1;
    // Checked first: CREATE INDEX IF NOT EXISTS takes a lock that waits for every open write.
    if (await exists()) return;
    await this.upkeep(() => this.c.transaction(async (tx) => {
      // Two processes claiming the identity at once would both try to create it.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [INDEX_LOCK]);
      // Indexes of another dimension are left from a library reset for another model: empty, dropped.
      for (const r of (await tx.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE tablename = 'Segment' AND indexname LIKE 'Segment\\_embedding\\_%\\_hnsw' AND indexname <> $1`, [name])).rows) {
        await tx.query(`DROP INDEX IF EXISTS "${r.indexname}"`);
      }
      await tx.query(`CREATE INDEX IF NOT EXISTS "${name}" ON "Segment" USING hnsw (("embedding"::vector(${dim})) vector_ip_ops) WITH (m = ${HNSW_M}, ef_construction = ${HNSW_EF_CONSTRUCTION})`);
    }));
  }

  /**
   * Index upkeep any opener does; a role that may only read leaves it to the writers (searches stay
   * right meanwhile: without the index they scan, and doctor names what is missing).
   */
  private async upkeep(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!isReadOnlyRefusal(err)) throw err;
    }
  }

  async search(vector: Float32Array, k: number): Promise<SegmentHit[]> {
    if (k <= 0) return [];
    return this.c.hasVector ? this.hnsw(vector, k) : this.scan(vector, k);
  }

  private async hnsw(vector: Float32Array, k: number): Promise<SegmentHit[]> {
    const dim = vector.length;
    const ef = Math.min(MAX_EF_SEARCH, searchEf(await this.segmentCount(), k));
    this.iterative ??= await this.c
      .query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)
      .then((r) => { const [a, b] = (r.rows[0]?.v ?? '0.0').split('.').map(Number); return a! > 0 || b! >= 8; });
    return this.c.transaction(async (tx) => {
      // SET LOCAL: a plain SET would stay on this pooled connection for whoever takes it next.
      await tx.query(`SET LOCAL hnsw.ef_search = ${ef}`);
      // An HNSW scan returns at most ef_search rows; past that (pgvector 0.8+) it keeps scanning.
      if (k > ef && this.iterative) await tx.query(`SET LOCAL hnsw.iterative_scan = strict_order`);
      const r = await tx.query<{ id: number; d: number }>(
        `SELECT "id", "embedding"::vector(${dim}) <#> $1::vector(${dim}) AS d FROM "Segment" ORDER BY "embedding"::vector(${dim}) <#> $1::vector(${dim}) LIMIT $2`,
        [vectorLiteral(vector), k],
      );
      // <#> is the negative inner product; the vectors are unit length, so its negation is the cosine.
      return r.rows.filter((row) => row.d !== null).map((row) => ({ id: row.id, score: -row.d }));
    });
  }

  private async segmentCount(): Promise<number> {
    if (!this.size_ || Date.now() - this.size_.at > SIZE_TTL_MS) {
      this.size_ = { at: Date.now(), n: Number((await this.c.query<{ n: string }>('SELECT count(*) AS n FROM "Segment"')).rows[0]!.n) };
    }
    return this.size_.n;
  }

  private async scan(vector: Float32Array, k: number): Promise<SegmentHit[]> {
    const dim = vector.length;
    const generation = Number((await this.c.query<{ value: string }>(`SELECT "value" FROM "Setting" WHERE "key" = 'generation'`)).rows[0]?.value ?? 0);
    if (!this.exact || this.exact.generation !== generation || this.exact.dim !== dim) {
      const rows = (await this.c.query<{ id: number; vector: Buffer }>('SELECT "id", "vector" FROM "Segment" ORDER BY "id"')).rows;
      const ids = new Int32Array(rows.length);
      const matrix = new Float32Array(rows.length * dim);
      rows.forEach((r, i) => {
        ids[i] = r.id;
        matrix.set(vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }), i * dim);
      });
      this.exact = { generation, ids, matrix, dim };
    }
    const { ids, matrix } = this.exact;
    // Rows are in id order, so ties go by id: the same order in every process.
    return nearestRows(matrix, dim, vector, k).map((h) => ({ id: ids[h.row]!, score: h.score }));
  }

  async size(): Promise<{ vectors: number; bytes: number }> {
    const vectors = Number((await this.c.query<{ n: string }>('SELECT count(*) AS n FROM "Segment"')).rows[0]!.n);
    if (!this.c.hasVector) return { vectors, bytes: 0 };
    const r = await this.c.query<{ b: string }>(`SELECT coalesce(sum(pg_relation_size(format('%I', indexname)::regclass)), 0) AS b FROM pg_indexes WHERE tablename = 'Segment' AND indexname LIKE 'Segment\\_embedding\\_%\\_hnsw'`);
    return { vectors, bytes: Number(r.rows[0]!.b) };
  }

  /** Rows from before pgvector was installed (or copied in without it) get their ANN column from the bytes. */
  async fillEmbeddings(): Promise<number> {
    if (!this.c.hasVector) return 0;
    let filled = 0;
    await this.upkeep(async () => {
      for (;;) {
        const rows = (await this.c.query<{ id: number; vector: Buffer }>('SELECT "id", "vector" FROM "Segment" WHERE "embedding" IS NULL ORDER BY "id" LIMIT 1000')).rows;
        if (!rows.length) return;
        await this.c.query(`UPDATE "Segment" s SET "embedding" = u.e::vector FROM unnest($1::int[], $2::text[]) AS u(id, e) WHERE s."id" = u.id`, [
          rows.map((r) => r.id),
          rows.map((r) => vectorLiteral(vectorFrom(r.vector, undefined, { table: 'Segment', row: r.id }))),
        ]);
        filled += rows.length;
      }
    });
    return filled;
  }
}
