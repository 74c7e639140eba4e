// The segment and frame repository on SQLite: the reads a search makes by id (segments, packs,
// frame vectors for re-ranking, the background sample) on the Prisma-free reader connection,
// a video's segments and frames through Prisma, and the one-transaction vector rewrite of a re-pool.
import { fromBytes, toBytes, vectorFrom } from '../../../core/vectors';
import { readPack, type PackedFrames } from '../../../core/framepack';
import type { FrameRecord, SegmentRecord, SegmentRepository, StoreIdentity, StoredFrame, VectorRewrite } from '../../../core/storage';
import { bumpGeneration, upsertIdentity, type SqliteConnection } from './connection';

export class SqliteSegments implements SegmentRepository {
  constructor(private readonly c: SqliteConnection) {}

  async byIds(ids: number[]): Promise<SegmentRecord[]> {
    const rows = this.c.readById('SELECT "id", "videoId", "idx", "start", "end", "frameCount" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?))', ids);
    return rows.map(([id, videoId, idx, start, end, frameCount]) => ({ id, videoId, idx, start, end, frameCount }) as SegmentRecord);
  }

  async packs(ids: number[]): Promise<Map<number, PackedFrames>> {
    const rows = this.c.readById('SELECT "id", "pack" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?)) AND "pack" IS NOT NULL', ids);
    return new Map(rows.map(([id, pack]) => [id as number, readPack(pack as Uint8Array)]));
  }

  /** One query on the Prisma-free reader connection: this is on the search path. */
  async framesOf(segments: Array<{ videoId: number; idx: number }>, dim: number | undefined): Promise<Map<string, FrameRecord[]>> {
    const out = new Map<string, FrameRecord[]>();
    const seen = new Set<string>();
    const params: number[] = [];
    for (const s of segments) {
      const key = `${s.videoId}:${s.idx}`;
      if (seen.has(key)) continue;
      seen.add(key);
      params.push(s.videoId, s.idx);
    }
    for (let at = 0; at < params.length; at += 2 * 4096) {
      const chunk = params.slice(at, at + 2 * 4096);
      // No ORDER BY: it would make SQLite walk whole videos by (videoId, idx); the row order of the
      // (videoId, segmentIdx) index is sorted below instead.
      // raw(): rows as arrays [videoId, segmentIdx, idx, time, vector, id], cheaper than objects.
      const rows = this.c.readConnection
        .prepare(`SELECT "videoId", "segmentIdx", "idx", "time", "vector", "id" FROM "Frame" WHERE ("videoId", "segmentIdx") IN (VALUES ${'(?,?),'.repeat(chunk.length / 2).slice(0, -1)})`)
        .raw()
        .all(...chunk) as Array<[number, number, number, number, Uint8Array, number]>;
      rows.sort((a, b) => a[0] - b[0] || a[2] - b[2]);
      const bytesPerVector = (dim ?? 0) * 4;
      for (const [videoId, segmentIdx, idx, time, bytes, id] of rows) {
        const key = `${videoId}:${segmentIdx}`;
        // One comparison a row: a damaged blob is named here instead of scoring as NaN.
        if (!(bytes instanceof Uint8Array) || (bytesPerVector && bytes.byteLength !== bytesPerVector)) vectorFrom(bytes, dim, { table: 'Frame', row: id });
        const vector = bytes.byteOffset % 4 === 0 ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) : fromBytes(bytes);
        const frame = { idx, segmentIdx, time, vector };
        const list = out.get(key);
        if (list) list.push(frame);
        else out.set(key, [frame]);
      }
    }
    return out;
  }

  async ofVideo(videoId: number, dim: number | undefined): Promise<Array<SegmentRecord & { vector: Float32Array }>> {
    const rows = await this.c.db.segment.findMany({ where: { videoId }, orderBy: { idx: 'asc' }, omit: { pack: true } });
    return rows.map((r) => ({ ...r, vector: vectorFrom(r.vector, dim, { table: 'Segment', row: r.id }) }));
  }

  async frames(videoId: number, segmentIdxs: number[] | undefined, dim: number | undefined): Promise<FrameRecord[]> {
    const rows = await this.c.db.frame.findMany({
      where: { videoId, segmentIdx: segmentIdxs ? { in: segmentIdxs } : undefined },
      orderBy: { idx: 'asc' },
      select: { id: true, idx: true, segmentIdx: true, time: true, vector: true },
    });
    return rows.map((r) => ({ idx: r.idx, segmentIdx: r.segmentIdx, time: r.time, vector: vectorFrom(r.vector, dim, { table: 'Frame', row: r.id }) }));
  }

  /** Reads every id once (the covering (videoId, idx) index, not the rows) and the chosen rows by id. */
  async sample(n: number, dim: number | undefined): Promise<Float32Array[]> {
    const ids = (this.c.prepared('SELECT "id" FROM "Segment"').all() as Array<[number]>).sort((a, b) => a[0] - b[0]);
    const step = Math.max(1, ids.length / n);
    const chosen: number[] = [];
    for (let at = 0; Math.floor(at) < ids.length && chosen.length < n; at += step) chosen.push(ids[Math.floor(at)][0]);
    const rows = this.c.readById('SELECT "id", "vector" FROM "Segment" WHERE "id" IN (SELECT value FROM json_each(?))', chosen);
    return rows.map((r) => vectorFrom(r[1] as Uint8Array, dim, { table: 'Segment', row: r[0] as number }));
  }

  /** Counting a million frame rows takes ~80 ms: for `vidsearch stats`, not every page. */
  async countFrames(): Promise<number> {
    return this.c.db.frame.count();
  }

  async rewriteVectors<T>(identity: StoreIdentity, work: (w: VectorRewrite) => Promise<T>, dim: number | undefined): Promise<T> {
    return this.c.db.$transaction(
      async (tx) => {
        const rewrite: VectorRewrite = {
          async frames(videoIds: number[]): Promise<StoredFrame[]> {
            const rows = await tx.frame.findMany({ where: { videoId: { in: videoIds } }, orderBy: [{ videoId: 'asc' }, { idx: 'asc' }], select: { id: true, videoId: true, segmentIdx: true, time: true, vector: true } });
            return rows.map((f) => ({ id: f.id, videoId: f.videoId, segmentIdx: f.segmentIdx, time: f.time, vector: vectorFrom(f.vector, dim, { table: 'Frame', row: f.id }) }));
          },
          segments: (videoIds) => tx.segment.findMany({ where: { videoId: { in: videoIds } }, orderBy: [{ videoId: 'asc' }, { idx: 'asc' }], select: { id: true, videoId: true, idx: true } }),
          async setSegment(id, vector, pack) {
            await tx.segment.update({ where: { id }, data: { vector: toBytes(vector), pack: pack as Uint8Array<ArrayBuffer> | null } });
          },
          async setVideoVector(id, vector) {
            await tx.video.update({ where: { id }, data: { vector: toBytes(vector) } });
          },
        };
        const out = await work(rewrite);
        await upsertIdentity(tx, JSON.stringify(identity));
        await bumpGeneration(tx);
        return out;
      },
      { timeout: 24 * 3600_000, maxWait: 30_000 },
    );
  }
}
