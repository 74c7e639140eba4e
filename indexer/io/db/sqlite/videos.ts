// The video repository on SQLite: video rows, the library page's browsing (one SQL query, since a
// file name is not a column), and the writes that replace a video's rows in one transaction
// (saveIndexed's bulk inserts run on the adapter's own connection, see INSERT_ROWS).
import path from 'node:path';
import { toBytes, vectorFrom } from '../../../core/vectors';
import { packSegments } from '../../../core/framepack';
import type { SegmentVectors, VideoStatus } from '../../../core/types';
import type { IndexedVideoInput, VideoBrief, VideoCounts, VideoPage, VideoQuery, VideoRecord, VideoRepository, VideoSort } from '../../../core/storage';
import { bumpGeneration, deleteVectors, tagRows, type SqliteConnection, type Tx } from './connection';

const VIDEO_FIELDS = {
  id: true,
  path: true,
  size: true,
  mtimeMs: true,
  status: true,
  error: true,
  duration: true,
  width: true,
  height: true,
  fps: true,
  rotation: true,
  codec: true,
  frameCount: true,
  segmentCount: true,
  indexedAt: true,
  createdAt: true,
} as const;

type VideoRow = { size: bigint; status: string } & Omit<VideoRecord, 'size' | 'status'>;
const toVideo = (r: VideoRow): VideoRecord => ({ ...r, size: Number(r.size), status: r.status as VideoStatus });

// A path's last component, for either separator (paths come from the indexing machine): rtrim
// strips every trailing character that is not a separator, leaving the folder part.
const BASENAME = `substr("path", length(rtrim("path", replace(replace("path", '/', ''), '\\', ''))) + 1)`;
// Ties (and equal names in different folders) by path, so pages never overlap or skip.
const BROWSE_ORDER: Record<VideoSort, string> = {
  path: '"path"',
  name: `${BASENAME} COLLATE NOCASE, "path"`,
  date: '"mtimeMs" DESC, "path"',
  duration: '"duration" IS NULL, "duration" DESC, "path"',
};

/** FROM and WHERE of a browse query; its parameters, in order, are browseArgs'. */
function browseSql(q: VideoQuery & { ids?: number[] }): string {
  const where = [q.ids ? '"id" IN (SELECT value FROM json_each(?))' : '', q.status ? '"status" = ?' : '', q.dir !== undefined ? 'substr("path", 1, length(?)) = ?' : '', q.name ? `instr(lower(${BASENAME}), lower(?)) > 0` : ''].filter(Boolean);
  return `FROM "Video"${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
}

function browseArgs(q: VideoQuery & { ids?: number[] }): string[] {
  // A folder matches what lies below it, not its namesakes ("/a/b" is no prefix of "/a/bc/x").
  const prefix = q.dir === undefined ? undefined : /[\\/]$/.test(q.dir) ? q.dir : q.dir + path.sep;
  return [...(q.ids ? [JSON.stringify(q.ids)] : []), ...(q.status ? [q.status] : []), ...(prefix !== undefined ? [prefix, prefix] : []), ...(q.name ? [q.name] : [])];
}

/**
 * Bulk inserts inside the caller's transaction (nothing half-written): one prepared statement on
 * the adapter's own connection (rawConnection: the transaction is open on it), a row at a time.
 * Prisma's createMany builds every row as an object, then one query and its parameters (bytes as
 * base64): saving a 10-hour video (36,000 frames, 8-d vectors, 1.2 MB of vectors) raised peak RSS
 * by 292 MB and took 9.0 s that way, and with 512-d vectors (74 MB) by 1,278 MB in 38 s. This way:
 * 41 MB in 1.5 s (8-d) and 76 MB in 3.8 s (512-d), about the vectors' own size. Measured on this
 * 2-core machine with `node --expose-gc --import tsx test/fixtures/save-rss.ts 36000 8` (and
 * `... 36000 512`), peak RSS sampled every 5 ms. Without the raw connection (another adapter
 * version): Prisma raw SQL in chunks of INSERT_ROWS, which measured 90 MB / 2.5 s (8-d).
 */
const INSERT_ROWS = 500;

async function insertFrames(c: SqliteConnection, tx: Tx, videoId: number, frames: IndexedVideoInput['frames']): Promise<void> {
  const raw = c.raw;
  if (raw) {
    const st = raw.prepare('INSERT INTO "Frame" ("videoId", "idx", "segmentIdx", "time", "vector") VALUES (?, ?, ?, ?, ?)');
    for (let i = 0; i < frames.length; i++) st.run(videoId, i, frames[i].segmentIdx, frames[i].time, toBytes(frames[i].vector));
    return;
  }
  for (let at = 0; at < frames.length; at += INSERT_ROWS) {
    const n = Math.min(INSERT_ROWS, frames.length - at);
    const params: unknown[] = [];
    for (let i = at; i < at + n; i++) params.push(videoId, i, frames[i].segmentIdx, frames[i].time, toBytes(frames[i].vector));
    await tx.$executeRawUnsafe(`INSERT INTO "Frame" ("videoId", "idx", "segmentIdx", "time", "vector") VALUES ${'(?,?,?,?,?),'.repeat(n).slice(0, -1)}`, ...params);
  }
}

async function insertSegments(c: SqliteConnection, tx: Tx, videoId: number, segments: SegmentVectors[], packs: Map<number, Uint8Array>): Promise<Array<{ id: number; idx: number }>> {
  const added: Array<{ id: number; idx: number }> = [];
  const raw = c.raw;
  if (raw) {
    const st = raw.prepare('INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack") VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING "id"');
    for (const s of segments) {
      const row = st.raw().get(videoId, s.idx, s.start, s.end, s.frameCount, toBytes(s.vector), packs.get(s.idx) ?? null) as [number | bigint];
      added.push({ id: Number(row[0]), idx: s.idx });
    }
    return added;
  }
  for (let at = 0; at < segments.length; at += INSERT_ROWS) {
    const chunk = segments.slice(at, at + INSERT_ROWS);
    const params = chunk.flatMap((s) => [videoId, s.idx, s.start, s.end, s.frameCount, toBytes(s.vector), packs.get(s.idx) ?? null]);
    const rows = await tx.$queryRawUnsafe<Array<{ id: number | bigint; idx: number | bigint }>>(
      `INSERT INTO "Segment" ("videoId", "idx", "start", "end", "frameCount", "vector", "pack") VALUES ${'(?,?,?,?,?,?,?),'.repeat(chunk.length).slice(0, -1)} RETURNING "id", "idx"`,
      ...params,
    );
    for (const r of rows) added.push({ id: Number(r.id), idx: Number(r.idx) });
  }
  return added;
}

export class SqliteVideos implements VideoRepository {
  constructor(private readonly c: SqliteConnection) {}

  async byPath(file: string): Promise<VideoRecord | null> {
    const r = await this.c.db.video.findUnique({ where: { path: file }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  async byId(id: number): Promise<VideoRecord | null> {
    const r = await this.c.db.video.findUnique({ where: { id }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  async list(opts: VideoPage = {}): Promise<VideoRecord[]> {
    if (opts.dir !== undefined || opts.name || (opts.sort && opts.sort !== 'path')) {
      const order = this.c
        .prepared(`SELECT "id" ${browseSql(opts)} ORDER BY ${BROWSE_ORDER[opts.sort ?? 'path']} LIMIT ? OFFSET ?`)
        .all(...browseArgs(opts), opts.limit ?? -1, opts.offset ?? 0)
        .map((r) => Number((r as [number | bigint])[0]));
      const rows = await this.c.db.video.findMany({ where: { id: { in: order } }, select: VIDEO_FIELDS });
      const byId = new Map(rows.map((r) => [r.id, toVideo(r)]));
      return order.flatMap((id) => byId.get(id) ?? []);
    }
    const rows = await this.c.db.video.findMany({
      where: { status: opts.status, id: opts.ids ? { in: opts.ids } : undefined },
      orderBy: { path: 'asc' },
      skip: opts.offset,
      take: opts.limit,
      select: VIDEO_FIELDS,
    });
    return rows.map(toVideo);
  }

  async indexedIds(): Promise<number[]> {
    return (await this.c.db.video.findMany({ where: { status: 'indexed' }, orderBy: { id: 'asc' }, select: { id: true } })).map((v) => v.id);
  }

  async count(query?: VideoStatus | VideoQuery): Promise<number> {
    const q = typeof query === 'object' ? query : { status: query };
    if (q.dir !== undefined || q.name) return Number((this.c.prepared(`SELECT count(*) ${browseSql(q)}`).get(...browseArgs(q)) as [number | bigint])[0]);
    return this.c.db.video.count({ where: { status: q.status } });
  }

  async countByStatus(): Promise<VideoCounts> {
    const groups = await this.c.db.video.groupBy({ by: ['status'], _count: { _all: true } });
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 };
    for (const g of groups) {
      videos[g.status as VideoStatus] = g._count._all;
      videos.total += g._count._all;
    }
    return videos;
  }

  async folders(): Promise<Array<{ dir: string; videos: number }>> {
    const rows = this.c.prepared(`SELECT substr("path", 1, length("path") - length(${BASENAME}) - 1) AS d, count(*) FROM "Video" GROUP BY d ORDER BY d`).all() as Array<[string, number | bigint]>;
    return rows.map(([dir, n]) => ({ dir, videos: Number(n) }));
  }

  async under(dir: string): Promise<VideoRecord[]> {
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    const rows = await this.c.db.video.findMany({ where: { path: { startsWith: prefix } }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  async withFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]> {
    const rows = await this.c.db.video.findMany({ where: { size: BigInt(size), fingerprint }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  async briefs(ids: number[]): Promise<Map<number, VideoBrief>> {
    const rows = this.c.readById('SELECT "id", "path", "duration", "status" FROM "Video" WHERE "id" IN (SELECT value FROM json_each(?))', ids);
    return new Map(rows.map(([id, path, duration, status]) => [id as number, { id, path, duration, status } as VideoBrief]));
  }

  async vector(videoId: number, dim: number | undefined): Promise<Float32Array | undefined> {
    const r = await this.c.db.video.findUnique({ where: { id: videoId }, select: { vector: true } });
    return r?.vector ? vectorFrom(r.vector, dim, { table: 'Video', row: videoId }) : undefined;
  }

  async markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void> {
    if (files.length === 0) return;
    // One statement that skips known paths: another process may insert the same new file at the
    // same moment (two runs over one folder), and a read-then-insert would then fail on the unique path.
    const now = new Date().toISOString().replace('Z', '+00:00');
    await this.c.db.$executeRawUnsafe(
      `INSERT INTO "Video" ("path", "size", "mtimeMs", "status", "createdAt", "updatedAt")
       SELECT json_extract(value, '$.path'), json_extract(value, '$.size'), json_extract(value, '$.mtimeMs'), 'pending', ?, ? FROM json_each(?) WHERE true
       ON CONFLICT ("path") DO NOTHING`,
      now,
      now,
      JSON.stringify(files.map((f) => ({ path: f.path, size: f.size, mtimeMs: f.mtimeMs }))),
    );
  }

  async saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; removed: number[]; added: Array<{ id: number; idx: number }> }> {
    const data = {
      size: BigInt(input.size),
      mtimeMs: input.mtimeMs,
      fingerprint: input.fingerprint ?? null,
      status: 'indexed',
      error: null,
      duration: input.probe.duration,
      width: input.probe.width,
      height: input.probe.height,
      fps: input.probe.fps,
      rotation: input.probe.rotation,
      codec: input.probe.codec,
      frameCount: input.frames.length,
      segmentCount: input.segments.length,
      vector: toBytes(input.video),
      indexedAt: new Date(),
    };
    return this.c.db.$transaction(
      async (tx) => {
        const existing = await tx.video.findUnique({ where: { path: input.path }, select: { id: true } });
        const removed = existing ? await deleteVectors(tx, existing.id) : [];
        const video = existing
          ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
          : await tx.video.create({ data: { path: input.path, ...data }, select: { id: true } });
        const packs = packSegments(input.frames);
        const added = await insertSegments(this.c, tx, video.id, input.segments, packs);
        await insertFrames(this.c, tx, video.id, input.frames);
        if (input.tags) await tx.tag.createMany({ data: tagRows(video.id, input.tags) });
        await bumpGeneration(tx);
        return { videoId: video.id, removed, added };
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
  }

  async markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<{ id: number; removed: number[] }> {
    return this.c.db.$transaction(async (tx) => {
      const existing = await tx.video.findUnique({ where: { path: file }, select: { id: true } });
      const removed = existing ? await deleteVectors(tx, existing.id) : [];
      const data = { size: BigInt(size), mtimeMs, status: 'failed', error, vector: null, frameCount: 0, segmentCount: 0, indexedAt: null };
      const video = existing
        ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
        : await tx.video.create({ data: { path: file, ...data }, select: { id: true } });
      await bumpGeneration(tx);
      return { id: video.id, removed };
    });
  }

  async remove(id: number): Promise<number[]> {
    return this.c.db.$transaction(async (tx) => {
      const ids = await deleteVectors(tx, id);
      await tx.video.delete({ where: { id } });
      await bumpGeneration(tx);
      return ids;
    });
  }

  async move(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<number[]> {
    return this.c.db.$transaction(async (tx) => {
      const squatter = await tx.video.findUnique({ where: { path: to }, select: { id: true, status: true } });
      let removed: number[] = [];
      if (squatter && squatter.id !== id) {
        removed = await deleteVectors(tx, squatter.id);
        await tx.video.delete({ where: { id: squatter.id } });
      }
      await tx.video.update({ where: { id }, data: { path: to, size: BigInt(stamp.size), mtimeMs: stamp.mtimeMs } });
      await bumpGeneration(tx);
      return removed;
    });
  }
}
