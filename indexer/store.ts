// The store: metadata and every vector in the database (the truth), the HNSW file as a cache of
// the segment vectors, the writer lock, and the model identity check. Returns domain types.
import path from 'node:path';
import type { Config, PoolingName } from './config';
import { openDb, type Db } from './db';
import { SegmentIndex, type Hit, type IndexPointer } from './ann';
import { StoreError } from './errors';
import { acquireWriterLock, writerActive, type WriterLock } from './lock';
import type { ModelIdentity } from './model';
import type { SegmentVectors, VideoProbe, VideoStatus } from './types';
import { fromBytes, toBytes } from './vectors';

export interface StoreIdentity {
  model: ModelIdentity;
  pooling: PoolingName;
}

export interface VideoRecord {
  id: number;
  path: string;
  size: number;
  mtimeMs: number;
  status: VideoStatus;
  error: string | null;
  duration: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  rotation: number | null;
  codec: string | null;
  frameCount: number;
  segmentCount: number;
  indexedAt: Date | null;
  createdAt: Date;
}

export interface SegmentRecord {
  id: number;
  videoId: number;
  idx: number;
  start: number;
  end: number;
  frameCount: number;
}

export interface FrameRecord {
  idx: number;
  segmentIdx: number;
  time: number;
  vector: Float32Array;
}

export interface IndexedVideoInput {
  path: string;
  size: number;
  mtimeMs: number;
  fingerprint?: string;
  probe: VideoProbe;
  frames: Array<{ time: number; segmentIdx: number; vector: Float32Array }>;
  segments: SegmentVectors[];
  video: Float32Array;
}

export interface Stats {
  videos: Record<VideoStatus, number> & { total: number };
  segments: number;
  frames: number;
  identity: StoreIdentity | null;
  index: { vectors: number; bytes: number; generation: number | null; file: string | null; inStep: boolean };
  generation: number;
}

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

/** The parts of the identity that decide whether vectors are comparable. */
export function identityKey(i: StoreIdentity): string {
  const files = Object.keys(i.model.files)
    .sort()
    .map((f) => `${f}=${i.model.files[f]}`);
  return JSON.stringify([i.model.name, i.model.variant, i.model.dim, files, i.pooling]);
}

function describe(i: StoreIdentity): string {
  return `${i.model.name} (${i.model.variant}, ${i.model.dim}-d, ${i.pooling} pooling)`;
}

type Tx = Parameters<Parameters<Db['$transaction']>[0]>[0];

async function bumpGeneration(tx: Tx): Promise<void> {
  await tx.$executeRawUnsafe(
    `INSERT INTO "Setting" ("key", "value") VALUES ('generation', '1') ON CONFLICT("key") DO UPDATE SET "value" = CAST("value" AS INTEGER) + 1`,
  );
}

async function deleteVectors(tx: Tx, videoId: number): Promise<number[]> {
  const old = await tx.segment.findMany({ where: { videoId }, select: { id: true } });
  await tx.frame.deleteMany({ where: { videoId } });
  await tx.segment.deleteMany({ where: { videoId } });
  return old.map((s) => s.id);
}

export interface OpenStoreOptions {
  /** take the writer lock (index, daemon); readers (search, web app) don't */
  writer?: boolean;
  /** the identity of the model in use; omitted only by tools that read metadata (stats) */
  identity?: StoreIdentity;
  /** accept an index made with another model because the caller is about to reset it */
  replacing?: boolean;
}

export class Store {
  private dirty = false;
  private lastSave = 0;
  private ann: SegmentIndex | undefined;

  private constructor(
    readonly db: Db,
    readonly home: string,
    private lock: WriterLock | undefined,
    readonly identity: StoreIdentity | null,
  ) {}

  static async open(cfg: Pick<Config, 'home' | 'databaseUrl'>, opts: OpenStoreOptions = {}): Promise<Store> {
    const lock = opts.writer ? acquireWriterLock(cfg.home) : undefined;
    let db: Db | undefined;
    try {
      db = await openDb(cfg.databaseUrl);
      const row = await db.setting.findUnique({ where: { key: 'identity' } });
      const stored: StoreIdentity | null = row ? JSON.parse(row.value) : null;
      if (stored && opts.identity && !opts.replacing && identityKey(stored) !== identityKey(opts.identity)) {
        throw new StoreError(
          `the index in ${cfg.home} was built with ${describe(stored)}, but the current model is ${describe(opts.identity)}; ` +
            `vectors of different models cannot be compared: set VIDSEARCH_MODEL/--variant back, use another data directory (VIDSEARCH_HOME), ` +
            `or re-index everything with \`vidsearch index --reindex <folder>\``,
          { cause: { stored, current: opts.identity } },
        );
      }
      const store = new Store(db, cfg.home, lock, opts.replacing ? null : (stored ?? null));
      if (store.identity) {
        store.ann = new SegmentIndex(cfg.home, store.identity.model.dim);
        await store.syncIndex();
      }
      return store;
    } catch (err) {
      await db?.$disconnect();
      lock?.release();
      throw err;
    }
  }

  get isWriter(): boolean {
    return !!this.lock;
  }

  private requireWriter(): void {
    if (!this.lock) throw new StoreError('this store was opened read-only', { cause: { home: this.home } });
  }

  private requireAnn(): SegmentIndex {
    if (!this.ann) throw new StoreError('no model identity recorded yet: index some videos first', { cause: { home: this.home } });
    return this.ann;
  }

  async generation(): Promise<number> {
    const row = await this.db.setting.findUnique({ where: { key: 'generation' } });
    return row ? Number(row.value) : 0;
  }

  /** Drops every video and vector, and records `identity` as the model of the new index. */
  async reset(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    await this.db.$transaction(async (tx) => {
      await tx.frame.deleteMany({});
      await tx.segment.deleteMany({});
      await tx.video.deleteMany({});
      await tx.setting.upsert({ where: { key: 'identity' }, create: { key: 'identity', value: JSON.stringify(identity) }, update: { value: JSON.stringify(identity) } });
      await bumpGeneration(tx);
    });
    (this as { identity: StoreIdentity | null }).identity = identity;
    this.ann = new SegmentIndex(this.home, identity.model.dim);
    this.ann.reset();
    this.ann.save(await this.generation());
  }

  /** Records the model identity on the first write. */
  async claimIdentity(identity: StoreIdentity): Promise<void> {
    this.requireWriter();
    if (this.identity) return;
    await this.db.setting.create({ data: { key: 'identity', value: JSON.stringify(identity) } });
    (this as { identity: StoreIdentity | null }).identity = identity;
    this.ann = new SegmentIndex(this.home, identity.model.dim);
    await this.syncIndex();
  }

  /**
   * Brings the in-memory HNSW index in step with the database: loads the published file, or
   * rebuilds it from the database when it is missing, corrupt or out of step. A reader rebuilds
   * in memory and publishes only if no writer is active.
   */
  async syncIndex(): Promise<'loaded' | 'rebuilt' | 'stale'> {
    const ann = this.requireAnn();
    const generation = await this.generation();
    const loaded = ann.load();
    if (loaded && ann.pointer!.generation === generation) return 'loaded';
    // A live writer publishes its changes itself; until then its last file is the best we have.
    if (loaded && !this.lock && writerActive(this.home)) return 'stale';
    await this.rebuildIndex();
    return 'rebuilt';
  }

  async rebuildIndex(): Promise<void> {
    const ann = this.requireAnn();
    const generation = await this.generation();
    const count = await this.db.segment.count();
    ann.reset(count + 16);
    let cursor = 0;
    for (;;) {
      const rows = await this.db.segment.findMany({ where: { id: { gt: cursor } }, orderBy: { id: 'asc' }, take: 2000, select: { id: true, vector: true } });
      if (rows.length === 0) break;
      for (const r of rows) ann.add(r.id, fromBytes(r.vector));
      cursor = rows[rows.length - 1].id;
    }
    if (this.lock) {
      ann.save(generation);
      return;
    }
    if (writerActive(this.home)) return;
    try {
      const lock = acquireWriterLock(this.home, 'rebuild index');
      try {
        ann.save(generation);
      } finally {
        lock.release();
      }
    } catch {
      // a writer started meanwhile: it will publish its own file
    }
  }

  /** For readers: picks up a file published by the writer since the last look. Cheap (one stat). */
  async refresh(): Promise<void> {
    if (!this.ann) {
      const row = await this.db.setting.findUnique({ where: { key: 'identity' } });
      if (!row) return;
      (this as { identity: StoreIdentity | null }).identity = JSON.parse(row.value);
      this.ann = new SegmentIndex(this.home, this.identity!.model.dim);
      await this.syncIndex();
      return;
    }
    if (this.ann.changedOnDisk() && !this.ann.load()) await this.syncIndex();
  }

  /** Publishes the index if it changed, at most every `minIntervalMs` (0: now). */
  async flushIndex(minIntervalMs = 0): Promise<IndexPointer | undefined> {
    if (!this.ann || !this.lock || !this.dirty) return undefined;
    if (minIntervalMs > 0 && Date.now() - this.lastSave < minIntervalMs) return undefined;
    const pointer = this.ann.save(await this.generation());
    this.dirty = false;
    this.lastSave = Date.now();
    return pointer;
  }

  searchSegments(vector: Float32Array, k: number): Hit[] {
    return this.ann ? this.ann.search(vector, k) : [];
  }

  async videoByPath(file: string): Promise<VideoRecord | null> {
    const r = await this.db.video.findUnique({ where: { path: file }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  async video(id: number): Promise<VideoRecord | null> {
    const r = await this.db.video.findUnique({ where: { id }, select: VIDEO_FIELDS });
    return r ? toVideo(r) : null;
  }

  async videos(opts: { status?: VideoStatus; offset?: number; limit?: number; ids?: number[] } = {}): Promise<VideoRecord[]> {
    const rows = await this.db.video.findMany({
      where: { status: opts.status, id: opts.ids ? { in: opts.ids } : undefined },
      orderBy: { path: 'asc' },
      skip: opts.offset,
      take: opts.limit,
      select: VIDEO_FIELDS,
    });
    return rows.map(toVideo);
  }

  async countVideos(status?: VideoStatus): Promise<number> {
    return this.db.video.count({ where: { status } });
  }

  /** Videos whose path lies inside `dir`. */
  async videosUnder(dir: string): Promise<VideoRecord[]> {
    const prefix = dir.endsWith(path.sep) ? dir : dir + path.sep;
    const rows = await this.db.video.findMany({ where: { path: { startsWith: prefix } }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  /** New files waiting to be indexed show as pending; known ones keep their vectors until replaced. */
  async markPendingMany(files: Array<{ path: string; size: number; mtimeMs: number }>): Promise<void> {
    this.requireWriter();
    if (files.length === 0) return;
    const known = new Set(
      (await this.db.video.findMany({ where: { path: { in: files.map((f) => f.path) } }, select: { path: true } })).map((v) => v.path),
    );
    const fresh = files.filter((f) => !known.has(f.path));
    if (fresh.length) await this.db.video.createMany({ data: fresh.map((f) => ({ path: f.path, size: BigInt(f.size), mtimeMs: f.mtimeMs, status: 'pending' })) });
  }

  async videosWithFingerprint(size: number, fingerprint: string): Promise<VideoRecord[]> {
    const rows = await this.db.video.findMany({ where: { size: BigInt(size), fingerprint }, select: VIDEO_FIELDS });
    return rows.map(toVideo);
  }

  /** A renamed or moved file keeps its id and vectors; a pending row at the new path gives way. */
  async moveVideo(id: number, to: string, stamp: { size: number; mtimeMs: number }): Promise<void> {
    this.requireWriter();
    await this.db.$transaction(async (tx) => {
      const squatter = await tx.video.findUnique({ where: { path: to }, select: { id: true, status: true } });
      if (squatter && squatter.id !== id) {
        for (const sid of await deleteVectors(tx, squatter.id)) this.ann?.remove(sid);
        await tx.video.delete({ where: { id: squatter.id } });
      }
      await tx.video.update({ where: { id }, data: { path: to, size: BigInt(stamp.size), mtimeMs: stamp.mtimeMs } });
      await bumpGeneration(tx);
    });
    // Paths live only in the database; the HNSW index holds segment ids, which did not change.
    this.dirty = true;
  }

  /** Replaces a video's rows and vectors in one transaction, then updates the HNSW index. */
  async saveIndexed(input: IndexedVideoInput): Promise<{ videoId: number; segments: number; frames: number }> {
    this.requireWriter();
    const ann = this.requireAnn();
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
    const { videoId, removed, added } = await this.db.$transaction(
      async (tx) => {
        const existing = await tx.video.findUnique({ where: { path: input.path }, select: { id: true } });
        const removed = existing ? await deleteVectors(tx, existing.id) : [];
        const video = existing
          ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
          : await tx.video.create({ data: { path: input.path, ...data }, select: { id: true } });
        const added = await tx.segment.createManyAndReturn({
          data: input.segments.map((s) => ({ videoId: video.id, idx: s.idx, start: s.start, end: s.end, frameCount: s.frameCount, vector: toBytes(s.vector) })),
          select: { id: true, idx: true },
        });
        await tx.frame.createMany({
          data: input.frames.map((f, idx) => ({ videoId: video.id, idx, segmentIdx: f.segmentIdx, time: f.time, vector: toBytes(f.vector) })),
        });
        await bumpGeneration(tx);
        return { videoId: video.id, removed, added };
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    for (const id of removed) ann.remove(id);
    const byIdx = new Map(input.segments.map((s) => [s.idx, s.vector]));
    for (const s of added) ann.add(s.id, byIdx.get(s.idx)!);
    this.dirty = true;
    return { videoId, segments: added.length, frames: input.frames.length };
  }

  /** Records a failure; the file's old vectors (if any) go, since they describe other content. */
  async markFailed(file: string, size: number, mtimeMs: number, error: string): Promise<number> {
    this.requireWriter();
    const { id, removed } = await this.db.$transaction(async (tx) => {
      const existing = await tx.video.findUnique({ where: { path: file }, select: { id: true } });
      const removed = existing ? await deleteVectors(tx, existing.id) : [];
      const data = { size: BigInt(size), mtimeMs, status: 'failed', error, vector: null, frameCount: 0, segmentCount: 0, indexedAt: null };
      const video = existing
        ? await tx.video.update({ where: { id: existing.id }, data, select: { id: true } })
        : await tx.video.create({ data: { path: file, ...data }, select: { id: true } });
      await bumpGeneration(tx);
      return { id: video.id, removed };
    });
    if (removed.length) {
      for (const sid of removed) this.ann?.remove(sid);
      this.dirty = true;
    }
    return id;
  }

  async removeVideo(id: number): Promise<void> {
    this.requireWriter();
    const removed = await this.db.$transaction(async (tx) => {
      const ids = await deleteVectors(tx, id);
      await tx.video.delete({ where: { id } });
      await bumpGeneration(tx);
      return ids;
    });
    for (const sid of removed) this.ann?.remove(sid);
    if (removed.length) this.dirty = true;
  }

  async segments(ids: number[]): Promise<SegmentRecord[]> {
    return this.db.segment.findMany({
      where: { id: { in: ids } },
      select: { id: true, videoId: true, idx: true, start: true, end: true, frameCount: true },
    });
  }

  async videoSegments(videoId: number): Promise<Array<SegmentRecord & { vector: Float32Array }>> {
    const rows = await this.db.segment.findMany({ where: { videoId }, orderBy: { idx: 'asc' } });
    return rows.map((r) => ({ ...r, vector: fromBytes(r.vector) }));
  }

  async frames(videoId: number, segmentIdxs?: number[]): Promise<FrameRecord[]> {
    const rows = await this.db.frame.findMany({
      where: { videoId, segmentIdx: segmentIdxs ? { in: segmentIdxs } : undefined },
      orderBy: { idx: 'asc' },
      select: { idx: true, segmentIdx: true, time: true, vector: true },
    });
    return rows.map((r) => ({ ...r, vector: fromBytes(r.vector) }));
  }

  async stats(): Promise<Stats> {
    const [groups, segments, frames, generation] = await Promise.all([
      this.db.video.groupBy({ by: ['status'], _count: { _all: true } }),
      this.db.segment.count(),
      this.db.frame.count(),
      this.generation(),
    ]);
    const videos = { pending: 0, indexed: 0, failed: 0, total: 0 };
    for (const g of groups) {
      videos[g.status as VideoStatus] = g._count._all;
      videos.total += g._count._all;
    }
    const p = this.ann?.pointer;
    return {
      videos,
      segments,
      frames,
      identity: this.identity,
      index: {
        vectors: this.ann?.size ?? 0,
        bytes: this.ann?.fileBytes() ?? 0,
        generation: p?.generation ?? null,
        file: p ? path.join(this.ann!.dir, p.file) : null,
        inStep: p?.generation === generation,
      },
      generation,
    };
  }

  async close(): Promise<void> {
    try {
      await this.flushIndex();
    } finally {
      await this.db.$disconnect();
      this.lock?.release();
      this.lock = undefined;
    }
  }
}
