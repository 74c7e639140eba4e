// What `vidsearch doctor` reads and repairs on PostgreSQL (services/doctor-postgres.ts): vector rows
// of the wrong length, the ANN column and its HNSW index. The server checks its own pages.
import type { PgConnection } from './connection';
import { hnswIndexName } from './search';
import { bumpGeneration, deleteVectors } from './tx';

export interface BadVector {
  table: 'Segment' | 'Frame' | 'Video';
  row: number;
  videoId: number;
  bytes: number;
}

export class PgHealth {
  constructor(private readonly c: PgConnection) {}

  /** Rows whose vector is not `dim` float32 (up to `limit` per table). */
  async badVectors(dim: number, limit: number): Promise<BadVector[]> {
    const out: BadVector[] = [];
    for (const [table, videoId, where] of [
      ['Segment', '"videoId"', 'true'],
      ['Frame', '"videoId"', 'true'],
      ['Video', '"id"', '"vector" IS NOT NULL'],
    ] as const) {
      const rows = (await this.c.query<{ id: number; v: number; n: number }>(`SELECT "id", ${videoId} AS v, octet_length("vector") AS n FROM "${table}" WHERE ${where} AND octet_length("vector") IS DISTINCT FROM $1 ORDER BY "id" LIMIT $2`, [dim * 4, limit])).rows;
      out.push(...rows.map((r) => ({ table, row: r.id, videoId: r.v, bytes: r.n })));
    }
    return out;
  }

  /** Sends videos back to pending, their vectors dropped: the next index run re-indexes them. */
  async resetVideos(ids: number[]): Promise<void> {
    await this.c.transaction(async (tx) => {
      for (const id of ids) {
        await deleteVectors(tx, id);
        await tx.query(`UPDATE "Video" SET "status" = 'pending', "vector" = NULL, "frameCount" = 0, "segmentCount" = 0, "indexedAt" = NULL, "updatedAt" = now() WHERE "id" = $1`, [id]);
      }
      await bumpGeneration(tx);
    });
  }

  async hasIndex(dim: number): Promise<boolean> {
    return (await this.c.query(`SELECT 1 FROM pg_indexes WHERE tablename = 'Segment' AND indexname = $1`, [hnswIndexName(dim)])).rowCount === 1;
  }

  /** Segments whose ANN column is empty (written before pgvector, or by a copy not yet opened). */
  async missingEmbeddings(): Promise<number> {
    return Number((await this.c.query<{ n: string }>('SELECT count(*) AS n FROM "Segment" WHERE "embedding" IS NULL')).rows[0]!.n);
  }
}
