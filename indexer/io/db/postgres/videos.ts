// The video repository on PostgreSQL: the SQLite repository's behaviour (sqlite/videos.ts) in plain
// SQL. Writes that replace a video's rows are one transaction that starts with an upsert of the
// video row, so two workers saving the same path serialize on that row instead of racing to insert it.
import path from 'node:path';
import { vectorFrom } from '../../../core/vectors';
import { packSegments } from '../../../core/framepack';
import type { SegmentVectors, VideoStatus } from '../../../core/types';
import type { IndexedVideoInput, VideoBrief, VideoCounts, VideoPage, VideoQuery, VideoRecord, VideoRepository, VideoSort } from '../../../core/storage';
import { tagRows } from '../rows';
import type { PgConnection } from './connection';
import { bumpGeneration, deleteVectors, vectorBytes, vectorLiteral, type Queryable } from './tx';

const VIDEO_COLUMNS = `"id", "path", "size", "mtimeMs", "status", "error", "duration", "width", "height", "fps", "rotation", "codec", "frameCount", "segmentCount", "indexedAt", "createdAt"`;

type VideoRow = Omit<VideoRecord, 'size' | 'status'> & { size: string; status: string };
const toVideo = (r: VideoRow): VideoRecord => ({ ...r, size: Number(r.size), status: r.status as VideoStatus });

// A path's last component, for either separator (paths come from the indexing machine).
const BASENAME = `regexp_replace("path", '^.*[/\\\\]', '')`;
// Paths compare byte by byte, as in SQLite (the database's collation may order them otherwise);
// ties (and equal names in different folders) by path, so pages never overlap or skip.
const PATH_ORDER = `"path" COLLATE "C"`;
const BROWSE_ORDER: Record<VideoSort, string> = {
  path: PATH_ORDER,
  name: `lower(${BASENAME}) COLLATE "C", ${PATH_ORDER}`,
  date: `"mtimeMs" DESC, ${PATH_ORDER}`,
  duration: `"duration" DESC NULLS LAST, ${PATH_ORDER}`,
};

/** WHERE of a browse query, and its parameters. */
function browseWhere(q: VideoQuery & { ids?: number[] }, params: unknown[] = []): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const arg = (v: unknown) => `$${params.push(v)}`;
  if (q.ids) where.push(`"id" = ANY(${arg(q.ids)}::int[])`);
  if (q.status) where.push(`"status" = ${arg(q.status)}`);
  if (q.dir !== undefined) {
    // A folder matches what lies below it, not its namesakes ("/a/b" is no prefix of "/a/bc/x").
    const prefix = /[\\/]$/.test(q.dir) ? q.dir : q.dir + path.sep;
    const p = arg(prefix);
    where.push(`left("path", length(${p})) = ${p}`);
  }
  if (q.name) where.push(`strpos(lower(${BASENAME}), lower(${arg(q.name)})) > 0`);
  return { sql: where.length ? ` WHERE ${where.join(' AND ')}` : '', params };
}

/** Rows per INSERT … SELECT FROM unnest(…): one statement and one parameter set per chunk. */
const INSERT_ROWS = 2000;

async function insertSegments(q: Queryable, videoId: number, segments: SegmentVectors[], packs: Map<number, Uint8Array>, withEmbedding: boolean): Promise<Array<{ id: number; idx: number }>> {
  const added: Array<{ id: number; idx: number }> = [];
  for (let at = 0; at < segments.length; at += INSERT_ROWS) {
    const chunk = segments.slice(at, at + INSERT_ROWS);
    const cols = [chunk.map((s) => s.idx), chunk.map((s) => s.start), chunk.map((s) => s.end), chunk.map((s) => s.frameCount), chunk.map((s) => vectorBytes(s.vector)), chunk.map((s) => packs.get(s.idx) ?? null)];
    const r = await q.query<{ id: number; idx: number }>(
      withEmbedding
        ? `INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack", "embedding")
           SELECT $1, u.idx, u.s, u.e, u.n, u.v, u.p, u.emb::vector FROM unnest($2::int[], $3::float8[], $4::float8[], $5::int[], $6::bytea[], $7::bytea[], $8::text[]) AS u(idx, s, e, n, v, p, emb)
           RETURNING "id", "idx"`
        : `INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack")
           SELECT $1, u.idx, u.s, u.e, u.n, u.v, u.p FROM unnest($2::int[], $3::float8[], $4::float8[], $5::int[], $6::bytea[], $7::bytea[]) AS u(idx, s, e, n, v, p)
           RETURNING "id", "idx"`,
      [videoId, ...cols, ...(withEmbedding ? [chunk.map((s) => vectorLiteral(s.vector))] : [])],
    );
    added.push(...r.rows);
  }
  return added.sort((a, b) => a.idx - b.idx);
}

async function insertFrames(q: Queryable, videoId: number, frames: IndexedVideoInput['frames']): Promise<void> {
  for (let at = 0; at < frames.length; at += INSERT_ROWS) {
    const chunk = frames.slice(at, at + INSERT_ROWS);
    await q.query(
      `INSERT INTO "Frame" ("videoId", "idx", "segmentIdx", "time", "vector")
       SELECT $1, u.idx, u.si, u.t, u.v FROM unnest($2::int[], $3::int[], $4::float8[], $5::bytea[]) AS u(idx, si, t, v)`,
      [videoId, chunk.map((_, i) => at + i), chunk.map((f) => f.segmentIdx), chunk.map((f) => f.time), chunk.map((f) => vectorBytes(f.vector))],
    );
  }
}

export async function insertTags(q: Queryable, videoId: number, tags: NonNullable<IndexedVideoInput['tags']>): Promise<void> {
  const rows = tagRows(videoId, tags);
  if (!rows.length) return;
  await q.query(
    `INSERT INTO "Tag" ("videoId", "segmentIdx", "labelSet", "rank", "label", "score")
     SELECT $1, u.si, $2, u.r, u.l, u.s FROM unnest($3::int[], $4::int[], $5::text[], $6::float8[]) AS u(si, r, l, s)`,
    [videoId, tags.labelSet, rows.map((t) => t.segmentIdx), rows.map((t) => t.rank), rows.map((t) => t.label), rows.map((t) => t.score)],
  );
}

export class PgVideos implements VideoRepository {
  constructor(private readonly c: PgConnection) {}

  private async one(where: string, params: unknown[]): Promise<VideoRecord | null> {
    const r = await this.c.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM "Video" WHERE ${where}`, params);
    return r.rows[0] ? toVideo(r.rows[0]) : null;
  }

  byPath(file: string): Promise<VideoRecord | null> {
    return this.one('"path" = $1', [file]);
  }

  byId(id: number): Promise<VideoRecord | null> {
    return this.one('"id" = $1', [id]);
  }

  async list(opts: VideoPage = {}): Promise<VideoRecord[]> {
    const { sql, params } = browseWhere(opts);
    const limit = opts.limit !== undefined ? ` LIMIT $${params.push(opts.limit)}` : '';
    const offset = opts.offset ? ` OFFSET $${params.push(opts.offset)}` : '';
    const r = await this.c.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM "Video"${sql} ORDER BY ${BROWSE_ORDER[opts.sort ?? 'path']}${limit}${offset}`, params);
    return r.rows.map(toVideo);
  }

  async indexedIds(): Promise<number[]> {
    return (await this.c.query<{ id: number }>(`SELECT "id" FROM "Video" WHERE "status" = 'indexed' ORDER BY "id"`)).rows.map((r) => r.id);
  }

  async count(query?: VideoStatus | VideoQuery): Promise<number> {
    const { sql, params } = browseWhere(typeof query === 'object' ? query : { status: query });
    return Number((await this.c.query<{ n: string }>(`SELECT count(*) AS n FROM "Video"${sql}`, params)).rows[0]!.n);
  }

  async countByStatus(): Promise<VideoCounts> {
    const rows = (await this.c.query<{ status: string; n: string }>('SELECT "status", count(*) AS n FROM "Video" GROUP BY "status"')).rows;
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 };
    for (const g of rows) {
      videos[g.status as VideoStatus] = Number(g.n);
      videos.total += Number(g.n);
    }
    return videos;
  }

  async folders(): Promise<Array<{ dir: string; videos: number }>> {
    const rows = (await this.c.query<{ d: string; n: string }>(`SELECT d, count(*) AS n FROM (SELECT left("path", length("path") - length(${BASENAME}) - 1) AS d FROM "Video") f GROUP BY d ORDER BY d COLLATE "C"`)).rows;
    return rows.map((r) => ({ dir: r.d, videos: Number(r.n) }));
  }

  async under(dir: string): Promise<VideoRecord[]> {
    return this.list({ dir });
  }

  async withFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]> {
    const r = await this.c.query<VideoRow>(`SELECT ${VIDEO_COLUMNS} FROM "Video" WHERE "size" = $1 AND "fingerprint" = $2`, [size, fingerprint]);
    return r.rows.map(toVideo);
  }

  async briefs(ids: number[]): Promise<Map<number, VideoBrief>> {
    if (!ids.length) return new Map();
    const r = await this.c.query<VideoBrief>('SELECT "id", "path", "duration", "status" FROM "Video" WHERE "id" = ANY($1::int[])', [ids]);
    return new Map(r.rows.map((b) => [b.id, b]));
  }

  async vector(videoId: number, dim: number | undefined): Promise<Float32Array | undefined> {
    const r = await this.c.query<{ vector: Buffer | null }>('SELECT "vector" FROM "Video" WHERE "id" = $1', [videoId]);
    const bytes = r.rows[0]?.vector;
    return bytes ? vectorFrom(bytes, dim, { table: 'Video', row: videoId }) : undefined;
  }

  async markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void> {
    if (files.length === 0) return;
    // One statement that skips known paths: another process may insert the same new file at the same moment.
    await this.c.query(
      `INSERT INTO "Video" ("path", "size", "mtimeMs", "status") SELECT u.p, u.s, u.m, 'pending' FROM unnest($1::text[], $2::bigint[], $3::float8[]) AS u(p, s, m)
       ON CONFLICT ("path") DO NOTHING`,
      [files.map((f) => f.path), files.map((f) => f.size), files.map((f) => f.mtimeMs)],
    );
  }

  async saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; removed: number[]; added: Array<{ id: number; idx: number }> }> {
    const p = input.probe;
    return this.c.transaction(async (tx) => {
      const video = await tx.query<{ id: number }>(
        `INSERT INTO "Video" ("path", "size", "mtimeMs", "fingerprint", "status", "error", "duration", "width", "height", "fps", "rotation", "codec", "frameCount", "segmentCount", "vector", "indexedAt")
         VALUES ($1, $2, $3, $4, 'indexed', NULL, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
         ON CONFLICT ("path") DO UPDATE SET "size" = EXCLUDED."size", "mtimeMs" = EXCLUDED."mtimeMs", "fingerprint" = EXCLUDED."fingerprint", "status" = 'indexed', "error" = NULL,
           "duration" = EXCLUDED."duration", "width" = EXCLUDED."width", "height" = EXCLUDED."height", "fps" = EXCLUDED."fps", "rotation" = EXCLUDED."rotation", "codec" = EXCLUDED."codec",
           "frameCount" = EXCLUDED."frameCount", "segmentCount" = EXCLUDED."segmentCount", "vector" = EXCLUDED."vector", "indexedAt" = EXCLUDED."indexedAt", "updatedAt" = now()
         RETURNING "id"`,
        [input.path, input.size, input.mtimeMs, input.fingerprint ?? null, p.duration, p.width, p.height, p.fps, p.rotation, p.codec, input.frames.length, input.segments.length, vectorBytes(input.video)],
      );
      const videoId = video.rows[0]!.id;
      const removed = await deleteVectors(tx, videoId);
      const added = await insertSegments(tx, videoId, input.segments, packSegments(input.frames), this.c.hasVector);
      await insertFrames(tx, videoId, input.frames);
      if (input.tags) await insertTags(tx, videoId, input.tags);
      await bumpGeneration(tx);
      return { videoId, removed, added };
    });
  }

  async markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<{ id: number; removed: number[] }> {
    return this.c.transaction(async (tx) => {
      const video = await tx.query<{ id: number }>(
        `INSERT INTO "Video" ("path", "size", "mtimeMs", "status", "error") VALUES ($1, $2, $3, 'failed', $4)
         ON CONFLICT ("path") DO UPDATE SET "size" = EXCLUDED."size", "mtimeMs" = EXCLUDED."mtimeMs", "status" = 'failed', "error" = EXCLUDED."error",
           "vector" = NULL, "frameCount" = 0, "segmentCount" = 0, "indexedAt" = NULL, "updatedAt" = now()
         RETURNING "id"`,
        [file, size, mtimeMs, error],
      );
      const id = video.rows[0]!.id;
      const removed = await deleteVectors(tx, id);
      await bumpGeneration(tx);
      return { id, removed };
    });
  }

  async remove(id: number): Promise<number[]> {
    return this.c.transaction(async (tx) => {
      const ids = await deleteVectors(tx, id);
      await tx.query('DELETE FROM "Video" WHERE "id" = $1', [id]);
      await bumpGeneration(tx);
      return ids;
    });
  }

  async move(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<number[]> {
    return this.c.transaction(async (tx) => {
      const squatter = (await tx.query<{ id: number }>('SELECT "id" FROM "Video" WHERE "path" = $1 FOR UPDATE', [to])).rows[0];
      let removed: number[] = [];
      if (squatter && squatter.id !== id) {
        removed = await deleteVectors(tx, squatter.id);
        await tx.query('DELETE FROM "Video" WHERE "id" = $1', [squatter.id]);
      }
      await tx.query('UPDATE "Video" SET "path" = $2, "size" = $3, "mtimeMs" = $4, "updatedAt" = now() WHERE "id" = $1', [id, to, stamp.size, stamp.mtimeMs]);
      await bumpGeneration(tx);
      return removed;
    });
  }
}
