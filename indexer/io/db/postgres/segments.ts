// The segment and frame repository on PostgreSQL (the SQLite one: sqlite/segments.ts): the reads a
// search makes by id, a video's segments and frames, the background sample, and the
// one-transaction vector rewrite of a re-pool (which rewrites the pgvector column with the bytes).
import { vectorFrom } from '../../../core/vectors';
import { readPack, type PackedFrames } from '../../../core/framepack';
import type { FrameRecord, SegmentRecord, SegmentRepository, StoreIdentity, StoredFrame, VectorRewrite } from '../../../core/storage';
import type { PgConnection } from './connection';
import { bumpGeneration, upsertIdentity, vectorBytes, vectorLiteral } from './tx';

const SEGMENT_COLUMNS = `"id", "videoId", "idx", "start", "end", "frameCount"`;

export class PgSegments implements SegmentRepository {
  constructor(private readonly c: PgConnection) {}

  async byIds(ids: number[]): Promise<SegmentRecord[]> {
    if (!ids.length) return [];
    return (await this.c.query<SegmentRecord>(`SELECT ${SEGMENT_COLUMNS} FROM "Segment" WHERE "id" = ANY($1::int[])`, [ids])).rows;
  }

  async packs(ids: number[]): Promise<Map<number, PackedFrames>> {
    if (!ids.length) return new Map();
    const rows = (await this.c.query<{ id: number; pack: Buffer }>('SELECT "id", "pack" FROM "Segment" WHERE "id" = ANY($1::int[]) AND "pack" IS NOT NULL', [ids])).rows;
    return new Map(rows.map((r) => [r.id, readPack(r.pack)]));
  }

  async framesOf(segments: Array<{ videoId: number; idx: number }>, dim: number | undefined): Promise<Map<string, FrameRecord[]>> {
    const out = new Map<string, FrameRecord[]>();
    if (!segments.length) return out;
    const rows = (
      await this.c.query<{ id: number; videoId: number; segmentIdx: number; idx: number; time: number; vector: Buffer }>(
        `SELECT f."id", f."videoId", f."segmentIdx", f."idx", f."time", f."vector" FROM "Frame" f
         JOIN unnest($1::int[], $2::int[]) AS u(v, s) ON f."videoId" = u.v AND f."segmentIdx" = u.s
         ORDER BY f."videoId", f."idx"`,
        [segments.map((s) => s.videoId), segments.map((s) => s.idx)],
      )
    ).rows;
    const seen = new Set<number>(); // a segment asked for twice joins its frames twice
    for (const r of rows) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      const key = `${r.videoId}:${r.segmentIdx}`;
      const frame = { idx: r.idx, segmentIdx: r.segmentIdx, time: r.time, vector: vectorFrom(r.vector, dim, { table: 'Frame', row: r.id }) };
      const list = out.get(key);
      if (list) list.push(frame);
      else out.set(key, [frame]);
    }
    return out;
  }

  async ofVideo(videoId: number, dim: number | undefined): Promise<Array<SegmentRecord & { vector: Float32Array }>> {
    const rows = (await this.c.query<SegmentRecord & { vector: Buffer }>(`SELECT ${SEGMENT_COLUMNS}, "vector" FROM "Segment" WHERE "videoId" = $1 ORDER BY "idx"`, [videoId])).rows;
    return rows.map((r) => ({ ...r, vector: vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }) }));
  }

  async frames(videoId: number, segmentIdxs: number[] | undefined, dim: number | undefined): Promise<FrameRecord[]> {
    const rows = (
      await this.c.query<{ id: number; idx: number; segmentIdx: number; time: number; vector: Buffer }>(
        `SELECT "id", "idx", "segmentIdx", "time", "vector" FROM "Frame" WHERE "videoId" = $1${segmentIdxs ? ' AND "segmentIdx" = ANY($2::int[])' : ''} ORDER BY "idx"`,
        segmentIdxs ? [videoId, segmentIdxs] : [videoId],
      )
    ).rows;
    return rows.map((r) => ({ idx: r.idx, segmentIdx: r.segmentIdx, time: r.time, vector: vectorFrom(r.vector, dim, { table: 'Frame', row: r.id }) }));
  }

  /** SQLite's choice exactly (sqlite/segments.ts sample): every id in order, evenly spaced ones read by id. */
  async sample(n: number, dim: number | undefined): Promise<Float32Array[]> {
    const ids = (await this.c.query<{ id: number }>('SELECT "id" FROM "Segment" ORDER BY "id"')).rows;
    const step = Math.max(1, ids.length / n);
    const chosen: number[] = [];
    for (let at = 0; Math.floor(at) < ids.length && chosen.length < n; at += step) chosen.push(ids[Math.floor(at)]!.id);
    if (!chosen.length) return [];
    const rows = (await this.c.query<{ id: number; vector: Buffer }>('SELECT "id", "vector" FROM "Segment" WHERE "id" = ANY($1::int[]) ORDER BY "id"', [chosen])).rows;
    return rows.map((r) => vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }));
  }

  async countFrames(): Promise<number> {
    return Number((await this.c.query<{ n: string }>('SELECT count(*) AS n FROM "Frame"')).rows[0]!.n);
  }

  async rewriteVectors<T>(identity: StoreIdentity, work: (w: VectorRewrite) => Promise<T>, dim: number | undefined): Promise<T> {
    const withEmbedding = this.c.hasVector;
    return this.c.transaction(async (tx) => {
      const rewrite: VectorRewrite = {
        async frames(videoIds: number[]): Promise<StoredFrame[]> {
          const rows = (
            await tx.query<{ id: number; videoId: number; segmentIdx: number; time: number; vector: Buffer }>(
              'SELECT "id", "videoId", "segmentIdx", "time", "vector" FROM "Frame" WHERE "videoId" = ANY($1::int[]) ORDER BY "videoId", "idx"',
              [videoIds],
            )
          ).rows;
          return rows.map((f) => ({ id: f.id, videoId: f.videoId, segmentIdx: f.segmentIdx, time: f.time, vector: vectorFrom(f.vector, dim, { table: 'Frame', row: f.id }) }));
        },
        async segments(videoIds) {
          return (await tx.query<{ id: number; videoId: number; idx: number }>('SELECT "id", "videoId", "idx" FROM "Segment" WHERE "videoId" = ANY($1::int[]) ORDER BY "videoId", "idx"', [videoIds])).rows;
        },
        async setSegment(id, vector, pack) {
          if (withEmbedding) await tx.query('UPDATE "Segment" SET "vector" = $2, "pack" = $3, "embedding" = $4::vector WHERE "id" = $1', [id, vectorBytes(vector), pack, vectorLiteral(vector)]);
          else await tx.query('UPDATE "Segment" SET "vector" = $2, "pack" = $3 WHERE "id" = $1', [id, vectorBytes(vector), pack]);
        },
        async setVideoVector(id, vector) {
          await tx.query('UPDATE "Video" SET "vector" = $2 WHERE "id" = $1', [id, vectorBytes(vector)]);
        },
      };
      const out = await work(rewrite);
      await upsertIdentity(tx, JSON.stringify(identity));
      await bumpGeneration(tx);
      return out;
    });
  }
}
